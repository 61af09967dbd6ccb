package config

// Gateway is the gateway role's configuration. Editing it and sending
// SIGHUP swaps the route table atomically; an invalid file is refused and
// the old table keeps serving.
type Gateway struct {
	// TrustedProxies are CIDRs whose X-Forwarded-For the gateway believes
	// when it works out the client address. Empty means none: the peer
	// address is the client.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// StripHeaders are request headers removed before proxying, on top of
	// the built-in identity headers (X-User, X-User-Id, X-Remote-User,
	// X-Forwarded-User, X-Authenticated-User, X-Client-Id, X-Scopes,
	// X-Portcullis-*).
	StripHeaders []string `yaml:"strip_headers"`
	// StripHeaderPrefixes are prefixes of request headers removed before
	// proxying. Empty means ["X-Portcullis-"]; the built-in list always
	// applies.
	StripHeaderPrefixes []string `yaml:"strip_header_prefixes"`
	// TimeZone is the zone policies read times in (IANA name). Empty means
	// UTC.
	TimeZone string `yaml:"time_zone"`
	// Watch reloads the configuration when the file changes, as SIGHUP
	// does. False means reload on SIGHUP only.
	Watch bool `yaml:"watch"`
	// Issuers are the authorization servers whose tokens are accepted.
	Issuers []Issuer `yaml:"issuers"`
	// APIs are the protected APIs.
	APIs []API `yaml:"apis"`
}

// Issuer is one trusted authorization server.
type Issuer struct {
	// Issuer is its issuer URL (the iss claim). Required.
	Issuer string `yaml:"issuer"`
	// JWKSURI overrides the jwks_uri of its discovery document. Empty
	// means discovery.
	JWKSURI string `yaml:"jwks_uri"`
	// Algorithms allowed for its tokens. Empty means [ES256, RS256,
	// PS256, EdDSA]. HS* and none are refused.
	Algorithms []string `yaml:"algorithms"`
	// IntrospectionURL resolves opaque (phantom) tokens. Empty means the
	// introspection_endpoint of discovery.
	IntrospectionURL string `yaml:"introspection_url"`
	// ClientID authenticates the gateway at the introspection endpoint.
	// Required when an API accepts opaque tokens.
	ClientID string `yaml:"client_id"`
	// ClientSecretFile or ClientSecretEnv holds the gateway's client
	// secret (exactly one when ClientID is set); the secret itself never
	// goes in this file.
	ClientSecretFile string `yaml:"client_secret_file"`
	ClientSecretEnv  string `yaml:"client_secret_env"`
	// CacheTTL bounds how long a resolved opaque or split token is cached
	// (also ended by the token's exp): a revocation takes effect at the
	// gateway within it. Zero means 60s.
	CacheTTL Duration `yaml:"cache_ttl"`
	// NegativeCacheTTL is how long an inactive token's answer is cached.
	// Zero means 10s.
	NegativeCacheTTL Duration `yaml:"negative_cache_ttl"`
	// Leeway is the clock skew allowed on exp, nbf and iat. Zero means
	// 30s.
	Leeway Duration `yaml:"leeway"`
}

// API is one protected API.
type API struct {
	// Name and Version identify the API (metrics, logs). Name required;
	// Version empty means "v1".
	Name    string `yaml:"name"`
	Version string `yaml:"version"`
	// BasePath is where the API lives on the gateway ("/warehouse");
	// required, no trailing slash, unique across APIs.
	BasePath string `yaml:"base_path"`
	// Upstream is the backend base URL (http or https). Required. The
	// request path after BasePath is appended to its path.
	Upstream string `yaml:"upstream"`
	// Issuer names one of the gateway's issuers. Empty means the only one.
	Issuer string `yaml:"issuer"`
	// Audiences: a token's aud must contain one of them. Empty means the
	// aud claim is not checked.
	Audiences []string `yaml:"audiences"`
	// Tokens are the accepted token kinds: jwt, opaque, split. Empty means
	// all three.
	Tokens []string `yaml:"tokens"`
	// Public makes every operation reachable without a token. False: no
	// token, no entry.
	Public bool `yaml:"public"`
	// Policy is a CEL request rule every call must satisfy (see
	// policy.RequestRule). Empty means none.
	Policy string `yaml:"policy"`
	// OpenAPI is an OpenAPI 3.0/3.1 document (path relative to this
	// file) whose operations and security requirements are added to
	// Operations.
	OpenAPI string `yaml:"openapi"`
	// Operations map method and path pattern to required scopes. A request
	// matching no operation is refused with 404 (nothing is proxied that
	// is not declared).
	Operations []Operation `yaml:"operations"`
	// CORS for browsers; nil means no CORS headers are ever sent.
	CORS *CORS `yaml:"cors"`
	// Timeouts toward the upstream.
	Timeouts Timeouts `yaml:"timeouts"`
	// MaxBodyBytes bounds request bodies. Zero means 1 MiB.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// TLS toward an https upstream.
	TLS UpstreamTLS `yaml:"tls"`
}

// Operation is one method on one path pattern of an API.
type Operation struct {
	// Method is an HTTP method; "*" or empty means any.
	Method string `yaml:"method"`
	// Path is a pattern relative to the base path: literal segments and
	// {name} wildcards, a final {name...} matching the rest ("/items",
	// "/orgs/{org}/items/{id}").
	Path string `yaml:"path"`
	// Scopes all required (RFC 6750 insufficient_scope otherwise).
	Scopes []string `yaml:"scopes"`
	// Policy is a CEL request rule for this operation, on top of the
	// API's.
	Policy string `yaml:"policy"`
	// Public makes this operation reachable without a token.
	Public bool `yaml:"public"`
}

// CORS is the cross-origin policy of an API (Fetch standard).
type CORS struct {
	// AllowedOrigins: exact origins ("https://app.example") or a wildcard
	// subdomain ("https://*.example.com"). "*" allows any origin but then
	// AllowCredentials must be false.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// AllowedMethods; empty means GET, POST, PUT, PATCH, DELETE.
	AllowedMethods []string `yaml:"allowed_methods"`
	// AllowedHeaders; empty means Authorization, Content-Type.
	AllowedHeaders []string `yaml:"allowed_headers"`
	// ExposedHeaders readable by scripts; empty means none.
	ExposedHeaders []string `yaml:"exposed_headers"`
	// AllowCredentials sends Access-Control-Allow-Credentials: true.
	AllowCredentials bool `yaml:"allow_credentials"`
	// MaxAge caches preflights. Zero means 10m.
	MaxAge Duration `yaml:"max_age"`
}

// Timeouts toward an upstream.
type Timeouts struct {
	// Upstream bounds the whole upstream exchange until response headers.
	// Zero means 30s.
	Upstream Duration `yaml:"upstream"`
	// Dial bounds connecting. Zero means 5s.
	Dial Duration `yaml:"dial"`
}

// UpstreamTLS configures TLS toward an upstream.
type UpstreamTLS struct {
	// CAFile is a PEM bundle of CAs trusted for the upstream. Empty means
	// the system pool.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the gateway's client certificate (mTLS).
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName overrides the name checked in the upstream certificate.
	ServerName string `yaml:"server_name"`
}
