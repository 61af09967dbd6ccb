// Package config reads the Portcullis YAML configuration: typed fields with
// documented defaults, strict decoding (an unknown key is an error) and
// validation whose errors name the file, line and field.
//
// It never reads secrets from the file itself: the master key comes from
// the environment or a key file.
package config

import (
	"path/filepath"
	"time"

	"github.com/portcullis/portcullis/internal/policy"
)

// Config is the whole configuration.
type Config struct {
	// Issuer is the authorization server's issuer URL. Empty means
	// "http://" + Listen.Authz.
	Issuer string `yaml:"issuer"`
	Listen Listen `yaml:"listen"`
	// DataDir holds the SQLite database and the master key file by
	// default. Empty means "./portcullis-data".
	DataDir string `yaml:"data_dir"`
	Store   Store  `yaml:"store"`
	// MasterKeyFile is read (or created, mode 0600) when
	// PORTCULLIS_MASTER_KEY is unset. Empty means DataDir/master.key.
	MasterKeyFile string   `yaml:"master_key_file"`
	Tokens        Tokens   `yaml:"tokens"`
	Keys          Keys     `yaml:"keys"`
	Sessions      Sessions `yaml:"sessions"`
	// LoginThrottle limits password guessing at the login form.
	LoginThrottle LoginThrottle `yaml:"login_throttle"`
	// Clients sets how clients authenticate at the token endpoint.
	Clients Clients `yaml:"clients"`
	// DPoP sets how the token endpoint checks DPoP proofs (RFC 9449).
	DPoP   DPoP   `yaml:"dpop"`
	Policy Policy `yaml:"policy"`
	Log    Log    `yaml:"log"`
	// PurgeInterval is how often expired tokens, codes and sessions are
	// deleted. Zero means 1m.
	PurgeInterval Duration `yaml:"purge_interval"`
	// Gateway declares the APIs the gateway protects.
	Gateway Gateway `yaml:"gateway"`
	// RateLimit holds the rate-limit backend, plans and abuse rules
	// (limits of one API or operation are declared with it).
	RateLimit RateLimit `yaml:"ratelimit"`
	// Audit says what the node does with the audit trail besides keeping
	// it in the store (streaming it to a file or syslog).
	Audit Audit `yaml:"audit"`
	// TokenExchange configures OAuth 2.0 Token Exchange (RFC 8693); off
	// by default.
	TokenExchange TokenExchange `yaml:"token_exchange,omitempty"`
	// Shutdown says how the node drains and stops on SIGTERM.
	Shutdown Shutdown `yaml:"shutdown"`

	// src locates fields in the file the config came from; nil for a
	// config built in code.
	src *source
	// derivedIssuer is the issuer ApplyDefaults derived from Listen.Authz,
	// so Validate can say where a bad one came from.
	derivedIssuer string
	// issuance is the policy Validate compiled.
	issuance *policy.Issuance
	// baseDir is the absolute directory of the file Load read; empty for
	// a config built in code or given to Parse.
	baseDir string
}

// Listen holds the listen addresses.
type Listen struct {
	// Authz serves the authorization server. Empty means 127.0.0.1:8080.
	Authz string `yaml:"authz"`
	// Admin serves /healthz, /readyz and /metrics. Empty means
	// 127.0.0.1:8081.
	Admin string `yaml:"admin"`
	// Gateway serves the APIs of the gateway section. Empty means
	// 127.0.0.1:8000.
	Gateway string `yaml:"gateway"`
	// GatewayTLS serves the gateway over TLS (HTTP/2 is then offered to
	// clients through ALPN), optionally asking clients for certificates
	// (RFC 8705 §3, gateway_mtls.go). Empty means plain HTTP, for a
	// gateway behind a TLS-terminating load balancer or on loopback.
	GatewayTLS GatewayTLS `yaml:"gateway_tls"`
	// AuthzTLS serves the authorization server over TLS, optionally
	// asking clients for certificates (RFC 8705). Empty means plain HTTP.
	AuthzTLS AuthzTLS `yaml:"authz_tls,omitempty"`
	// GatewayTimeouts are the gateway listener's own HTTP timeouts; the
	// authorization server's and the admin listener's do not apply to it.
	GatewayTimeouts ListenTimeouts `yaml:"gateway_timeouts"`
}

// ListenTimeouts are a listener's HTTP server timeouts. A call the
// gateway routes to an API is bounded by that API's timeouts.request and
// timeouts.response instead of Read and Write, so uploads, large
// downloads and server-sent events last as long as their API allows.
type ListenTimeouts struct {
	// ReadHeader bounds reading a request's headers. Zero means 5s.
	ReadHeader Duration `yaml:"read_header"`
	// Read bounds reading a whole request, body included, until the
	// gateway has matched it to an API (whose timeouts.request then
	// applies). Zero means 30s.
	Read Duration `yaml:"read"`
	// Write bounds writing a response, from the end of its request's
	// headers, on top of the API's timeouts.response. Zero means none:
	// every answer of the gateway has a deadline of its own (its API's
	// timeouts.response, or 10s for what matches no API).
	Write Duration `yaml:"write"`
	// Idle bounds how long a keep-alive connection waits for its next
	// request. Zero means 120s.
	Idle Duration `yaml:"idle"`
}

// The gateway listener's timeout defaults (ListenTimeouts).
const (
	DefaultGatewayReadHeaderTimeout = 5 * time.Second
	DefaultGatewayReadTimeout       = 30 * time.Second
	DefaultGatewayIdleTimeout       = 120 * time.Second
)

// ListenTLS names a listener's certificate and key (PEM files; relative
// paths are relative to the configuration file).
type ListenTLS struct {
	// CertFile is the certificate chain. Empty means no TLS.
	CertFile string `yaml:"cert_file"`
	// KeyFile is the private key; required with CertFile.
	KeyFile string `yaml:"key_file"`
}

// Store selects the database.
type Store struct {
	// DSN is "postgres://..." for PostgreSQL or a SQLite path. Empty means
	// DataDir/portcullis.db.
	DSN string `yaml:"dsn"`
}

// Tokens sets lifetimes and formats.
type Tokens struct {
	// AccessTTL is the access token lifetime. Zero means 15m.
	AccessTTL Duration `yaml:"access_ttl"`
	// RefreshTTL is the refresh token lifetime. Zero means 720h.
	RefreshTTL Duration `yaml:"refresh_ttl"`
	// IDTokenTTL is the ID token lifetime. Zero means 1h.
	IDTokenTTL Duration `yaml:"id_token_ttl"`
	// CodeTTL is the authorization code lifetime. Zero means 1m.
	CodeTTL Duration `yaml:"code_ttl"`
	// RefreshReuseGrace lets a rotated refresh token be used again within
	// this window (concurrent requests of one client) without revoking its
	// family. Zero means 0s: any reuse revokes.
	RefreshReuseGrace Duration `yaml:"refresh_reuse_grace"`
	// DefaultAudience is the aud of access tokens when neither the
	// request (resource, RFC 8707) nor the client names one. Empty means
	// the issuer URL.
	DefaultAudience string `yaml:"default_audience"`
	// Resources are the resource servers (absolute URIs, RFC 8707) a
	// client without audiences of its own may name in its resource
	// parameter, on top of DefaultAudience and the audiences of the
	// gateway APIs that trust this issuer (ResourceServers). Empty means
	// only those.
	Resources []string `yaml:"resources"`
}

// Keys chooses signing algorithms.
type Keys struct {
	// AccessAlg signs access and phantom tokens. Empty means ES256.
	AccessAlg string `yaml:"access_alg"`
	// IDAlg signs ID tokens. Empty means RS256.
	IDAlg string `yaml:"id_alg"`
	// ReloadInterval is how often keys are re-read from the store (to pick
	// up rotations). Zero means 30s.
	ReloadInterval Duration `yaml:"reload_interval"`
}

// Sessions sets browser login sessions.
type Sessions struct {
	// TTL is the session lifetime. Zero means 8h.
	TTL Duration `yaml:"ttl"`
}

// Policy is the issuance policy.
type Policy struct {
	// Roles maps a role name to the scopes it may receive.
	Roles map[string][]string `yaml:"roles"`
	// Scopes maps a scope to its rule.
	Scopes map[string]ScopeRule `yaml:"scopes"`
	// ClaimAttributes lists the user attributes copied into tokens as
	// claims; attributes not listed never leave the store.
	ClaimAttributes []string `yaml:"claim_attributes"`
}

// ScopeRule is one scope's rule.
type ScopeRule struct {
	// Description is shown on the consent page.
	Description string `yaml:"description"`
	// Condition is a CEL expression that must hold for the scope to be
	// issued. Empty means no condition.
	Condition string `yaml:"condition"`
}

// Log sets logging.
type Log struct {
	// Format is "json" (default) or "text".
	Format string `yaml:"format"`
	// Level is debug, info (default), warn or error.
	Level string `yaml:"level"`
}

// The defaults, as the field comments state them.
const (
	defaultAuthz          = "127.0.0.1:8080"
	defaultAdmin          = "127.0.0.1:8081"
	defaultGatewayAddr    = "127.0.0.1:8000"
	defaultDataDir        = "./portcullis-data"
	defaultAccessTTL      = 15 * time.Minute
	defaultRefreshTTL     = 720 * time.Hour
	defaultIDTokenTTL     = time.Hour
	defaultCodeTTL        = time.Minute
	defaultAccessAlg      = "ES256"
	defaultIDAlg          = "RS256"
	defaultReloadInterval = 30 * time.Second
	defaultSessionTTL     = 8 * time.Hour
	defaultLogFormat      = "json"
	defaultLogLevel       = "info"
	defaultPurgeInterval  = time.Minute
)

// Default returns the configuration with every default applied.
//
// Its Issuer is already derived from the default Listen.Authz: a caller
// that changes Listen.Authz afterwards sets Issuer too.
func Default() *Config {
	c := &Config{}
	c.ApplyDefaults()
	return c
}

// ApplyDefaults fills every zero field with its default.
func (c *Config) ApplyDefaults() {
	setString(&c.Listen.Authz, defaultAuthz)
	setString(&c.Listen.Admin, defaultAdmin)
	setString(&c.Listen.Gateway, defaultGatewayAddr)
	setDuration(&c.Listen.GatewayTimeouts.ReadHeader, DefaultGatewayReadHeaderTimeout)
	setDuration(&c.Listen.GatewayTimeouts.Read, DefaultGatewayReadTimeout)
	// Write stays zero: no listener-wide write timeout.
	setDuration(&c.Listen.GatewayTimeouts.Idle, DefaultGatewayIdleTimeout)
	if c.Issuer == "" {
		c.Issuer = c.Listen.AuthzScheme() + "://" + c.Listen.Authz
		c.derivedIssuer = c.Issuer
	}
	setString(&c.DataDir, defaultDataDir)
	setString(&c.Store.DSN, filepath.Join(c.DataDir, "portcullis.db"))
	setString(&c.MasterKeyFile, filepath.Join(c.DataDir, "master.key"))
	setDuration(&c.Tokens.AccessTTL, defaultAccessTTL)
	setDuration(&c.Tokens.RefreshTTL, defaultRefreshTTL)
	setDuration(&c.Tokens.IDTokenTTL, defaultIDTokenTTL)
	setDuration(&c.Tokens.CodeTTL, defaultCodeTTL)
	// RefreshReuseGrace defaults to zero: any reuse revokes the family.
	setString(&c.Keys.AccessAlg, defaultAccessAlg)
	setString(&c.Keys.IDAlg, defaultIDAlg)
	setDuration(&c.Keys.ReloadInterval, defaultReloadInterval)
	setDuration(&c.Sessions.TTL, defaultSessionTTL)
	c.LoginThrottle.ApplyDefaults()
	c.DPoP.ApplyDefaults()
	c.Shutdown.ApplyDefaults()
	setString(&c.Log.Format, defaultLogFormat)
	setString(&c.Log.Level, defaultLogLevel)
	setDuration(&c.PurgeInterval, defaultPurgeInterval)
	setDuration(&c.Gateway.CatalogPoll, DefaultCatalogPoll)
	c.RateLimit.ApplyDefaults()
	c.Gateway.RateLimit = c.RateLimit
	c.Gateway.ApplyDefaults()
	c.Audit.ApplyDefaults()
}

func setString(s *string, def string) {
	if *s == "" {
		*s = def
	}
}

func setDuration(d *Duration, def time.Duration) {
	if *d == 0 {
		*d = Duration(def)
	}
}

// BaseDir is the absolute directory of the file Load read. Relative paths
// in the gateway section (openapi, client_secret_file, the tls files) are
// relative to it, so a configuration means the same whatever directory
// the server starts in. It is empty for a configuration built in code or
// given to Parse, where those paths are relative to the working
// directory. (data_dir, master_key_file and store.dsn stay relative to
// the working directory, as they always were.)
func (c *Config) BaseDir() string { return c.baseDir }

// Issuance returns the compiled issuance policy (valid after Validate).
// It is nil before a successful Validate.
func (c *Config) Issuance() *policy.Issuance { return c.issuance }

// ScopeDescriptions returns the consent-page description of every scope
// that has one, as a new map the caller may keep.
func (c *Config) ScopeDescriptions() map[string]string {
	out := make(map[string]string, len(c.Policy.Scopes))
	for name, rule := range c.Policy.Scopes {
		if rule.Description != "" {
			out[name] = rule.Description
		}
	}
	return out
}

// Spec returns the policy as the policy package takes it. Empty
// conditions are left out.
func (p Policy) Spec() policy.Spec {
	spec := policy.Spec{
		RoleScopes: make(map[string][]string, len(p.Roles)),
		Conditions: make(map[string]string),
	}
	for role, scopes := range p.Roles {
		spec.RoleScopes[role] = append([]string(nil), scopes...)
	}
	for name, rule := range p.Scopes {
		if rule.Condition != "" {
			spec.Conditions[name] = rule.Condition
		}
	}
	return spec
}
