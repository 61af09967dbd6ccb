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
	// API's. Empty means none.
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
}

// clone copies everything of a that a caller could edit in place.
func (a API) clone() API {
	a.Audiences = slices.Clone(a.Audiences)
	a.Tokens = slices.Clone(a.Tokens)
	a.Limits = cloneLimits(a.Limits)
	a.Operations = slices.Clone(a.Operations)
	for j := range a.Operations {
		op := &a.Operations[j]
		op.Scopes = slices.Clone(op.Scopes)
		op.Limits = cloneLimits(op.Limits)
	}
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
