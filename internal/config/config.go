// Package config reads the Portcullis YAML configuration: typed fields with
// documented defaults, strict decoding (an unknown key is an error) and
// validation whose errors name the file, line and field.
//
// It never reads secrets from the file itself: the master key comes from
// the environment or a key file.
package config

import (
	"time"

	"github.com/portcullis/portcullis/internal/policy"
)

// Duration is a time.Duration written as "15m", "1h30m" in YAML.
type Duration time.Duration

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
	Policy        Policy   `yaml:"policy"`
	Log           Log      `yaml:"log"`
	// PurgeInterval is how often expired tokens, codes and sessions are
	// deleted. Zero means 1m.
	PurgeInterval Duration `yaml:"purge_interval"`
}

// Listen holds the listen addresses.
type Listen struct {
	// Authz serves the authorization server. Empty means 127.0.0.1:8080.
	Authz string `yaml:"authz"`
	// Admin serves /healthz, /readyz and /metrics. Empty means
	// 127.0.0.1:8081.
	Admin string `yaml:"admin"`
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

// Default returns the configuration with every default applied.
func Default() *Config { panic("todo") }

// Load reads, decodes strictly, defaults and validates the file at path.
// Errors name the file, line and field ("portcullis.yaml:12: tokens.access_ttl: ...").
func Load(path string) (*Config, error) { panic("todo") }

// Parse is Load for a file already read; name is used in errors.
func Parse(name string, data []byte) (*Config, error) { panic("todo") }

// ApplyDefaults fills every zero field with its default.
func (c *Config) ApplyDefaults() { panic("todo") }

// Validate checks every field, compiling the policy; the error names the
// field (and the line when the config came from a file).
func (c *Config) Validate() error { panic("todo") }

// Issuance returns the compiled issuance policy (valid after Validate).
func (c *Config) Issuance() *policy.Issuance { panic("todo") }
