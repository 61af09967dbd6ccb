package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/duration"
	"github.com/portcullis/portcullis/internal/printable"
)

// rateLimitBackends are the values of ratelimit.backend.
var rateLimitBackends = []string{BackendMemory, BackendRedis}

// rateLimitBackend checks what the catalog does not own of the ratelimit
// section: the backend and its settings. Plans, limits and abuse rules
// are the catalog's (see gateway).
func (v *validator) rateLimitBackend() {
	r := &v.c.RateLimit
	v.oneOf("ratelimit.backend", r.Backend, rateLimitBackends)
	v.rateLimitRedis(&r.Redis)
	if r.Memory.MaxKeys < 1 {
		v.add("ratelimit.memory.max_keys", "must be at least 1 (0 means 1000000)", nil)
	}
}

// rateLimitRedis checks the redis block. It is checked whatever the
// backend, so switching backends never uncovers an old mistake.
func (v *validator) rateLimitRedis(rd *RateLimitRedis) {
	v.hostPort("ratelimit.redis.addr", rd.Addr)
	if rd.PasswordEnv != "" && !catalog.IsEnvName(rd.PasswordEnv) {
		v.add("ratelimit.redis.password_env", "is not an environment variable name: letters, digits and _, not starting with a digit", nil)
	}
	if rd.DB < 0 || rd.DB > 15 {
		v.add("ratelimit.redis.db", fmt.Sprintf("%d is not a database number from 0 to 15", rd.DB), nil)
	}
	if len(rd.Prefix) > 64 || strings.IndexFunc(rd.Prefix, printable.IsSpaceOrControl) >= 0 {
		v.add("ratelimit.redis.prefix", "must be at most 64 characters, without spaces or control characters", nil)
	}
	v.duration("ratelimit.redis.timeout", rd.Timeout, duration.Bounds{Min: time.Millisecond, Max: 10 * time.Second,
		Why: " (a limit waits for it on every request)"})
}
