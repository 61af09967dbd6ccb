package config

import (
	"net/netip"
	"slices"
	"strings"
	"time"
)

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
	// RateLimit is a copy of the top-level ratelimit section (plans, abuse
	// rules, backend), made by Config.ApplyDefaults and Config.Validate so
	// the gateway, handed only this section, sees them on every reload.
	// It is not read from or written to the gateway section of a file.
	RateLimit RateLimit `yaml:"-"`
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
	// Limits apply to every call of the API (see Limit). Empty means
	// none beyond the plans.
	Limits []Limit `yaml:"limits"`
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
	// Limits apply to this operation, on top of the API's and the plan's.
	Limits []Limit `yaml:"limits"`
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

// The token kinds an API may accept (API.Tokens).
const (
	// TokenJWT is a JWT access token (RFC 9068) presented as is.
	TokenJWT = "jwt"
	// TokenOpaque is an opaque token the gateway introspects into a
	// phantom JWT (RFC 7662 with Accept: application/jwt).
	TokenOpaque = "opaque"
	// TokenSplit is the signature half of a split token, looked up and
	// reassembled into its JWT.
	TokenSplit = "split"
)

// The gateway defaults, as the field comments state them.
const (
	defaultAPIVersion       = "v1"
	defaultUpstreamTimeout  = 30 * time.Second
	defaultDialTimeout      = 5 * time.Second
	defaultMaxBodyBytes     = 1 << 20
	defaultCORSMaxAge       = 10 * time.Minute
	defaultCacheTTL         = 60 * time.Second
	defaultNegativeCacheTTL = 10 * time.Second
	defaultLeeway           = 30 * time.Second
)

// Default lists, copied on use so that no two configs share a backing
// array.
var (
	defaultTokenKinds          = []string{TokenJWT, TokenOpaque, TokenSplit}
	defaultIssuerAlgs          = []string{"ES256", "RS256", "PS256", "EdDSA"}
	defaultStripHeaderPrefixes = []string{"X-Portcullis-"}
	defaultCORSMethods         = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}
	defaultCORSHeaders         = []string{"Authorization", "Content-Type"}
)

// ApplyDefaults fills every zero field of the gateway section with its
// default; Config.ApplyDefaults calls it. TimeZone stays empty, which
// means UTC (see Location).
func (g *Gateway) ApplyDefaults() {
	g.RateLimit.ApplyDefaults()
	setList(&g.StripHeaderPrefixes, defaultStripHeaderPrefixes)
	for i := range g.Issuers {
		is := &g.Issuers[i]
		setList(&is.Algorithms, defaultIssuerAlgs)
		setDuration(&is.CacheTTL, defaultCacheTTL)
		setDuration(&is.NegativeCacheTTL, defaultNegativeCacheTTL)
		setDuration(&is.Leeway, defaultLeeway)
	}
	for i := range g.APIs {
		a := &g.APIs[i]
		setString(&a.Version, defaultAPIVersion)
		setList(&a.Tokens, defaultTokenKinds)
		setDuration(&a.Timeouts.Upstream, defaultUpstreamTimeout)
		setDuration(&a.Timeouts.Dial, defaultDialTimeout)
		if a.MaxBodyBytes == 0 {
			a.MaxBodyBytes = defaultMaxBodyBytes
		}
		applyLimitDefaults(a.Limits)
		for j := range a.Operations {
			applyLimitDefaults(a.Operations[j].Limits)
		}
		if a.CORS != nil {
			setList(&a.CORS.AllowedMethods, defaultCORSMethods)
			setList(&a.CORS.AllowedHeaders, defaultCORSHeaders)
			setDuration(&a.CORS.MaxAge, defaultCORSMaxAge)
		}
	}
}

func setList(l *[]string, def []string) {
	if len(*l) == 0 {
		*l = slices.Clone(def)
	}
}

// Location is the zone policies read times in: TimeZone loaded, UTC when
// it is empty. A zone Validate would refuse also gives UTC, so an
// unvalidated config cannot make a policy read the host's local time.
func (g *Gateway) Location() *time.Location {
	if g.TimeZone == "" || g.TimeZone == "Local" {
		return time.UTC
	}
	loc, err := time.LoadLocation(g.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// IssuerFor returns the issuer whose tokens api accepts: the one its
// Issuer field names, or the only one when that is empty. It returns nil
// when there is none (a public API on a gateway without issuers, or a
// config Validate would refuse). The result points into g.Issuers.
func (g *Gateway) IssuerFor(api *API) *Issuer {
	if api.Issuer == "" {
		if len(g.Issuers) == 1 {
			return &g.Issuers[0]
		}
		return nil
	}
	for i := range g.Issuers {
		if g.Issuers[i].Issuer == api.Issuer {
			return &g.Issuers[i]
		}
	}
	return nil
}

// TrustedProxyPrefixes returns TrustedProxies parsed; a single address
// becomes a prefix holding just it. Entries Validate would refuse are
// left out, so an unvalidated config trusts less, never more.
func (g *Gateway) TrustedProxyPrefixes() []netip.Prefix {
	out := make([]netip.Prefix, 0, len(g.TrustedProxies))
	for _, s := range g.TrustedProxies {
		if p, ok := parseProxy(s); ok {
			out = append(out, p)
		}
	}
	return out
}

// parseProxy reads a CIDR prefix or a single address; a prefix with bits
// set beyond its length (10.1.2.3/16, most likely a typo) is refused.
// Peers are compared unmapped, so IPv4-mapped IPv6 entries become IPv4
// ones.
func parseProxy(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || p.Addr().Zone() != "" || p != p.Masked() {
			return netip.Prefix{}, false
		}
		if a := p.Addr(); a.Is4In6() {
			// Masked, a mapped prefix has at least 96 bits: the ffff
			// marker ends at bit 96.
			return netip.PrefixFrom(a.Unmap(), p.Bits()-96), true
		}
		return p, true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

// Accepts reports whether the API accepts tokens of kind (TokenJWT,
// TokenOpaque or TokenSplit).
func (a *API) Accepts(kind string) bool { return slices.Contains(a.Tokens, kind) }

// NeedsToken reports whether some call to the API needs a token: it is
// not public, and it declares an OpenAPI document (whose operations are
// not known here) or an operation that is not public.
func (a *API) NeedsToken() bool {
	if a.Public {
		return false
	}
	if a.OpenAPI != "" || len(a.Operations) == 0 {
		return true
	}
	for _, op := range a.Operations {
		if !op.Public {
			return true
		}
	}
	return false
}
