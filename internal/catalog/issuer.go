package catalog

import "time"

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
	// goes in the model.
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
	// MaxIntrospections caps the introspection calls in flight to this
	// issuer from one gateway node (1 to 10000). An opaque token that
	// would need one more is answered 503 with Retry-After at once,
	// never queued, so a flood of distinct junk tokens costs the
	// authorization server at most this many concurrent requests. Zero
	// means 64.
	MaxIntrospections int `yaml:"max_introspections"`
	// OpaqueFormat is the shape of the issuer's opaque access tokens,
	// checked before any cache or introspection: OpaqueFormatPortcullis
	// ("pca_" and 43 base64url characters, what Portcullis issues) or
	// OpaqueFormatAny (any RFC 6750 §2.1 b64token of at most 4096 bytes,
	// for an authorization server with a format of its own; such tokens
	// still count against MaxIntrospections). Empty means portcullis.
	OpaqueFormat string `yaml:"opaque_format"`
}

// The values of Issuer.OpaqueFormat.
const (
	OpaqueFormatPortcullis = "portcullis"
	OpaqueFormatAny        = "any"
)

// The issuer defaults, as the field comments state them.
const (
	defaultCacheTTL         = 60 * time.Second
	defaultNegativeCacheTTL = 10 * time.Second
	defaultLeeway           = 30 * time.Second
	// DefaultMaxIntrospections is what a zero MaxIntrospections means.
	DefaultMaxIntrospections = 64
	// MaxMaxIntrospections bounds MaxIntrospections.
	MaxMaxIntrospections = 10000
)

// defaultIssuerAlgs is what an empty Algorithms means.
var defaultIssuerAlgs = []string{"ES256", "RS256", "PS256", "EdDSA"}

// ApplyDefaults fills every zero field of the issuer with its default.
func (is *Issuer) ApplyDefaults() {
	setList(&is.Algorithms, defaultIssuerAlgs)
	setDuration(&is.CacheTTL, defaultCacheTTL)
	setDuration(&is.NegativeCacheTTL, defaultNegativeCacheTTL)
	setDuration(&is.Leeway, defaultLeeway)
	if is.MaxIntrospections == 0 {
		is.MaxIntrospections = DefaultMaxIntrospections
	}
	setString(&is.OpaqueFormat, OpaqueFormatPortcullis)
}
