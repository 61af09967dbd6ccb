package catalog

import (
	"slices"
	"time"

	"github.com/portcullis/portcullis/internal/duration"
)

// Duration is a time.Duration written as "15m" in YAML (see package
// duration); the model's lifetimes, timeouts and windows use it.
type Duration = duration.Duration

// API is one protected API.
type API struct {
	// Name and Version identify the API (metrics, logs). Name required;
	// Version empty means "v1".
	Name    string `yaml:"name"`
	Version string `yaml:"version"`
	// BasePath is where the API lives on the gateway ("/warehouse");
	// required, unique across APIs (a trailing slash is dropped). Base
	// paths may nest, "/" included: a request goes to the API with the
	// longest base path that is a whole-segment prefix of its path.
	BasePath string `yaml:"base_path"`
	// Upstream is the backend base URL (http or https). Required. The
	// request path after BasePath is appended to its path.
	Upstream string `yaml:"upstream"`
	// Issuer names one of the gateway's issuers. Empty means the only one.
	Issuer string `yaml:"issuer"`
	// Audiences: a token's aud must contain one of them (RFC 9068 §4,
	// RFC 8725 §3.9), so a token meant for another API is refused.
	// Required for an API with an operation that needs a token, unless
	// AnyAudience opts out.
	Audiences []string `yaml:"audiences"`
	// AnyAudience leaves the aud claim unchecked: any token of the
	// issuer is accepted, whatever API it was issued for. Only for an
	// API whose issuer mints no audience at all; the gateway logs a
	// warning for it at every start and reload. False (the default)
	// requires Audiences; setting both is an error.
	AnyAudience bool `yaml:"any_audience"`
	// Tokens are the accepted token kinds: jwt, opaque, split. Empty means
	// all three.
	Tokens []string `yaml:"tokens"`
	// Public makes every operation reachable without a token. False: no
	// token, no entry.
	Public bool `yaml:"public"`
	// DPoP says how the API treats sender-constrained tokens (RFC 9449
	// §7, dpop.go): DPoPAllowed (the default, "") takes Bearer tokens and
	// DPoP-bound ones with their proofs; DPoPRequired takes only bound
	// tokens with proofs; DPoPOff refuses the DPoP scheme. A bound token
	// (cnf.jkt) presented as Bearer is refused whatever the mode (§7.2).
	DPoP string `yaml:"dpop"`
	// MTLS says how the API treats certificate-bound tokens (RFC 8705
	// §3, mtls.go): MTLSAllowed (the default, "") checks a token bound
	// to a certificate (cnf x5t#S256) against the client certificate of
	// the request and takes unbound tokens; MTLSRequired takes only bound
	// ones. A bound token is checked whatever the mode.
	MTLS string `yaml:"mtls"`
	// ForwardClientCert sends the client certificate a call presented
	// (and a bound token's binding was checked against) to the upstream
	// in the RFC 9440 Client-Cert header, so that the backend can check
	// the binding again. False sends none; a Client-Cert from the client
	// never reaches the upstream either way.
	ForwardClientCert bool `yaml:"forward_client_cert"`
	// Policy is a CEL request rule every call must satisfy (see
	// policy.RequestRule). Empty means none.
	Policy string `yaml:"policy"`
	// OpenAPI is an OpenAPI 3.0/3.1 document (a path, relative to the
	// file that declared the API) whose operations and security
	// requirements are added to Operations. Empty means none.
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
	// AllowPathParameters lets request paths carry ';' (RFC 3986 §3.3
	// path parameters, as in "/items;v=2"), written as is or as %3B.
	// False refuses such a path with 400: Tomcat, Jetty and Spring cut
	// ";..." off a segment before resolving it, so "/files/..;/admin"
	// would reach them as "/admin". Segments that are "." or ".." once
	// parameters are cut and escapes decoded are refused either way.
	AllowPathParameters bool `yaml:"allow_path_parameters"`

	// Validation checks requests against the API's contract and guards
	// their bodies (validation.go). Nil means the defaults.
	Validation *Validation `yaml:"validation"`
	// WAF inspects requests for injection with the OWASP Core Rule Set
	// (waf.go). Nil means off.
	WAF *WAF `yaml:"waf"`
	// ResponseSigning signs the API's responses with HTTP Message
	// Signatures, RFC 9421 (signing.go). Nil means unsigned.
	ResponseSigning *ResponseSigning `yaml:"response_signing"`
	// RequestSignatures requires calls signed with a key the client
	// registered, RFC 9421 (request_signatures.go). Nil means none.
	RequestSignatures *RequestSignatures `yaml:"request_signatures"`
	// ResponseHeaders says which upstream response headers are removed
	// before the response reaches the client. The zero value removes
	// DefaultRemovedResponseHeaders().
	ResponseHeaders ResponseHeaders `yaml:"response_headers"`
	// UpstreamErrors says what becomes of an upstream's 5xx answer:
	// UpstreamErrorsReplace (the default, "") sends the client a
	// problem+json of the gateway's with the same status instead of the
	// upstream's body, which may hold a stack trace, a query or an
	// internal host; UpstreamErrorsPass passes it through.
	UpstreamErrors string `yaml:"upstream_errors"`
	// SecurityHeaders are response headers the gateway adds for the
	// browser and for caches (security_headers.go). The zero value sends
	// X-Content-Type-Options: nosniff and keeps responses to token-bearing
	// requests out of caches.
	SecurityHeaders SecurityHeaders `yaml:"security_headers"`
	// UpstreamToken, when set, replaces the token the upstream receives
	// with one the gateway obtains for it (token exchange or its own
	// client credentials). Nil forwards the caller's verified JWT.
	UpstreamToken *UpstreamToken `yaml:"upstream_token"`

	// Deprecation is when a stored, deprecated version was deprecated:
	// its responses carry Deprecation (RFC 9745). Zero means not
	// deprecated. Set by the stored catalog, never read from YAML.
	Deprecation time.Time `yaml:"-" json:"-"`
	// Sunset is when a stored version stops being served: its responses
	// carry Sunset (RFC 8594). Zero means none announced. Set by the
	// stored catalog, never read from YAML.
	Sunset time.Time `yaml:"-" json:"-"`
}

// ResponseHeaders is an API's policy for the headers of upstream
// responses. Headers that name the backend's software and version
// (Server, X-Powered-By, ...) help an attacker pick an exploit and tell
// a client nothing it needs, so the defaults remove them.
type ResponseHeaders struct {
	// Remove are more headers removed from upstream responses, on top of
	// DefaultRemovedResponseHeaders(). Names ignore case; an entry ending in
	// "*" is a prefix ("X-Debug-*"). Empty means the defaults only.
	Remove []string `yaml:"remove"`
	// Keep are headers the default list would remove that this API
	// passes through ("Server"); each must be one the defaults remove.
	// Empty means every default applies.
	Keep []string `yaml:"keep"`
}

// defaultRemovedResponseHeaders are removed from every upstream
// response unless an API keeps them: they name the backend's software,
// its version or its internal hosts. An entry ending in "*" is a prefix.
var defaultRemovedResponseHeaders = []string{
	"Server", "X-Powered-By", "X-AspNet-Version", "X-AspNetMvc-Version",
	"X-Runtime", "X-Generator", "X-Served-By", "X-Server", "X-Backend-*",
}

// DefaultRemovedResponseHeaders returns the headers every API removes
// from upstream responses unless it keeps them, as a new slice.
func DefaultRemovedResponseHeaders() []string { return slices.Clone(defaultRemovedResponseHeaders) }

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
	// API's. Empty means none.
	Policy string `yaml:"policy"`
	// Public makes this operation reachable without a token.
	Public bool `yaml:"public"`
	// Limits apply to this operation, on top of the API's and the plan's.
	Limits []Limit `yaml:"limits"`
	// Upgrade is the protocol a request of this operation may switch to
	// (RFC 9110 §7.8): UpgradeWebSocket (RFC 6455), on GET only. Empty
	// means none: an Upgrade header is dropped and the request goes on
	// as plain HTTP. h2c is never allowed: it would hand the client an
	// HTTP/2 connection to the upstream that the gateway no longer sees
	// request by request.
	Upgrade string `yaml:"upgrade"`
	// Validation overrides the API's for this operation and may carry
	// its request schema (validation.go). Nil means the API's.
	Validation *OperationValidation `yaml:"validation"`
	// WAF tunes the API's injection inspection for this operation
	// (waf.go). Nil means the API's as is.
	WAF *OperationWAF `yaml:"waf"`
	// Rewrite changes the request on its way to the upstream and the
	// response on its way back (rewrite.go). Nil means none.
	Rewrite *Rewrite `yaml:"rewrite"`
	// Response filters and protects the operation's JSON responses by
	// the caller's claims (fieldrules.go). Nil means none.
	Response *ResponseRules `yaml:"response"`
	// RequestSignatures overrides the API's request signatures for this
	// operation, field by field; mode: off turns them off
	// (request_signatures.go). Nil means the API's.
	RequestSignatures *RequestSignatures `yaml:"request_signatures"`
}

// UpgradeWebSocket is the one value of Operation.Upgrade.
const UpgradeWebSocket = "websocket"

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

// Timeouts of an API's calls, toward the upstream and toward the client.
// The gateway listener has no overall read or write timeout of its own
// for matched requests: these are what bound a call, so an API of
// uploads, downloads or server-sent events sets them as long as it needs.
type Timeouts struct {
	// Upstream bounds the whole upstream exchange until response headers.
	// Zero means 30s.
	Upstream Duration `yaml:"upstream"`
	// Dial bounds connecting. Zero means 5s.
	Dial Duration `yaml:"dial"`
	// Request bounds reading the client's request, body included, from
	// its arrival (1ms to 24h). Zero means 30s.
	Request Duration `yaml:"request"`
	// Response bounds the whole call, from the request's arrival to the
	// response's last byte, streamed responses included (1ms to 24h):
	// past it the client's connection is cut and the upstream call
	// cancelled. Zero means 30s.
	Response Duration `yaml:"response"`
}

// UpstreamTLS configures TLS toward an upstream. Files are PEM, their
// paths relative to the file that declared the API.
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

// The API defaults, as the field comments state them.
const (
	// DefaultUpstreamTimeout is what a zero Timeouts.Upstream means.
	DefaultUpstreamTimeout = 30 * time.Second
	// DefaultDialTimeout is what a zero Timeouts.Dial means.
	DefaultDialTimeout = 5 * time.Second
	// DefaultRequestTimeout is what a zero Timeouts.Request means.
	DefaultRequestTimeout = 30 * time.Second
	// DefaultResponseTimeout is what a zero Timeouts.Response means.
	DefaultResponseTimeout = 30 * time.Second
	// DefaultMaxBodyBytes is what a zero MaxBodyBytes means (1 MiB).
	DefaultMaxBodyBytes = 1 << 20

	defaultAPIVersion = "v1"
	defaultCORSMaxAge = 10 * time.Minute
)

// Default lists, copied on use so that no two snapshots share a backing
// array.
var (
	defaultTokenKinds  = []string{TokenJWT, TokenOpaque, TokenSplit}
	defaultCORSMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}
	defaultCORSHeaders = []string{"Authorization", "Content-Type"}
)

// ApplyDefaults fills every zero field of the API, its operations' limits
// and its CORS policy with its default.
func (a *API) ApplyDefaults() {
	setString(&a.Version, defaultAPIVersion)
	setList(&a.Tokens, defaultTokenKinds)
	setDuration(&a.Timeouts.Upstream, DefaultUpstreamTimeout)
	setDuration(&a.Timeouts.Dial, DefaultDialTimeout)
	setDuration(&a.Timeouts.Request, DefaultRequestTimeout)
	setDuration(&a.Timeouts.Response, DefaultResponseTimeout)
	if a.MaxBodyBytes == 0 {
		a.MaxBodyBytes = DefaultMaxBodyBytes
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
	if a.UpstreamToken != nil {
		setDuration(&a.UpstreamToken.RefreshBefore, defaultUpstreamTokenRefresh)
	}
}

// clone copies everything of a that a caller could edit in place.
func (a API) clone() API {
	a.Audiences = slices.Clone(a.Audiences)
	a.Tokens = slices.Clone(a.Tokens)
	a.Limits = cloneLimits(a.Limits)
	a.ResponseHeaders.Remove = slices.Clone(a.ResponseHeaders.Remove)
	a.ResponseHeaders.Keep = slices.Clone(a.ResponseHeaders.Keep)
	a.Operations = slices.Clone(a.Operations)
	for j := range a.Operations {
		op := &a.Operations[j]
		op.Scopes = slices.Clone(op.Scopes)
		op.Limits = cloneLimits(op.Limits)
		op.Validation = op.Validation.clone()
		op.WAF = op.WAF.clone()
		op.Rewrite = op.Rewrite.clone()
		op.Response = op.Response.clone()
		op.RequestSignatures = op.RequestSignatures.clone()
	}
	a.Validation = a.Validation.clone()
	a.WAF = a.WAF.clone()
	a.ResponseSigning = a.ResponseSigning.clone()
	a.RequestSignatures = a.RequestSignatures.clone()
	a.UpstreamToken = a.UpstreamToken.clone()
	if a.CORS != nil {
		c := *a.CORS
		c.AllowedOrigins = slices.Clone(c.AllowedOrigins)
		c.AllowedMethods = slices.Clone(c.AllowedMethods)
		c.AllowedHeaders = slices.Clone(c.AllowedHeaders)
		c.ExposedHeaders = slices.Clone(c.ExposedHeaders)
		a.CORS = &c
	}
	return a
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
