package config

import (
	"time"

	"github.com/portcullis/portcullis/internal/catalog"
)

// RateLimit is the ratelimit section: where counters live, the plans
// (tiers) clients are assigned to, and the abuse rules. Limits of one API
// or operation are declared beside it (API.Limits, Operation.Limits).
// Plans, client plans, the quota zone and abuse rules are the catalog's
// model (catalog.RateLimits); the backend is this node's business.
//
// The gateway is handed only its own section, so Config.ApplyDefaults and
// Config.Validate copy this one into Gateway.RateLimit: a reload with
// cfg.Gateway sees the plans and abuse rules of the same file.
type RateLimit struct {
	// Backend is where counters live: "memory" (one node) or "redis" (a
	// cluster; every node sees the same counts). Empty means memory.
	Backend string `yaml:"backend"`
	// Redis is the Redis server of the redis backend.
	Redis RateLimitRedis `yaml:"redis"`
	// Memory bounds the memory backend.
	Memory RateLimitMemory `yaml:"memory"`
	// Plans are tiers declared once: a plan name to its limits. A plan's
	// limits apply to every API, counted per client (their key defaults
	// to [client_id] and must contain it). An empty plan is allowed: no
	// limits for its clients.
	Plans map[string][]Limit `yaml:"plans"`
	// ClientPlans assigns clients (by client_id) to plans.
	ClientPlans map[string]string `yaml:"client_plans"`
	// DefaultPlan is the plan of clients not in ClientPlans. Empty means
	// none: unlisted clients have no plan limits.
	DefaultPlan string `yaml:"default_plan"`
	// TimeZone is the zone calendar quota windows (day, month) start in,
	// an IANA name. Empty means gateway.time_zone (UTC when that is empty
	// too).
	TimeZone string `yaml:"time_zone"`
	// Abuse rules block a client or user rejected too often.
	Abuse []AbuseRule `yaml:"abuse"`
}

// RateLimitRedis locates the Redis server of the redis backend. The
// password is never written here: PasswordEnv names the variable that
// holds it.
type RateLimitRedis struct {
	// Addr is host:port. Empty means 127.0.0.1:6379.
	Addr string `yaml:"addr"`
	// PasswordEnv names the environment variable holding the password.
	// Empty means no password.
	PasswordEnv string `yaml:"password_env"`
	// DB is the database number (0 to 15). Zero means database 0.
	DB int `yaml:"db"`
	// Prefix starts every key, so several deployments can share a server.
	// Empty means "pc:".
	Prefix string `yaml:"prefix"`
	// Timeout bounds one round trip. Zero means 50ms.
	Timeout Duration `yaml:"timeout"`
}

// RateLimitMemory bounds the memory backend.
type RateLimitMemory struct {
	// MaxKeys bounds the number of counters held; past it the least
	// recently used go first. Zero means 1000000.
	MaxKeys int `yaml:"max_keys"`
}

// Rate-limit backends (RateLimit.Backend).
const (
	BackendMemory = "memory"
	BackendRedis  = "redis"
)

// The rate-limit defaults, as the field comments state them.
const (
	defaultRedisAddr    = "127.0.0.1:6379"
	defaultRedisPrefix  = "pc:"
	defaultRedisTimeout = 50 * time.Millisecond
	defaultMaxKeys      = 1_000_000
)

// ApplyDefaults fills every zero field of the section with its default
// (the plans' limits get the catalog's). TimeZone stays empty.
func (r *RateLimit) ApplyDefaults() {
	setString(&r.Backend, BackendMemory)
	setString(&r.Redis.Addr, defaultRedisAddr)
	setString(&r.Redis.Prefix, defaultRedisPrefix)
	setDuration(&r.Redis.Timeout, defaultRedisTimeout)
	if r.Memory.MaxKeys == 0 {
		r.Memory.MaxKeys = defaultMaxKeys
	}
	m := r.model()
	m.ApplyDefaults()
}

// model is the catalog's part of the section. It shares the section's
// maps and slices.
func (r *RateLimit) model() catalog.RateLimits {
	return catalog.RateLimits{
		Plans:       r.Plans,
		ClientPlans: r.ClientPlans,
		DefaultPlan: r.DefaultPlan,
		TimeZone:    r.TimeZone,
		Abuse:       r.Abuse,
	}
}
