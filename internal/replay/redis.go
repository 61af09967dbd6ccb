package replay

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/pkg/verify"
)

// Defaults of RedisConfig.
const (
	// DefaultTimeout bounds one SET when RedisConfig names none: the
	// write is on a request's path.
	DefaultTimeout = 50 * time.Millisecond
	// minTTL is the shortest time a value is kept: a value whose window
	// has (nearly) closed is still kept long enough that a racing copy
	// of it finds it.
	minTTL = time.Second
)

// RedisConfig says where the values go.
type RedisConfig struct {
	// Prefix starts every key (the deployment's Redis prefix, "pc:").
	Prefix string
	// Timeout bounds one round trip; zero means DefaultTimeout.
	Timeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Redis is a verify.ReplayCache in Redis, shared by every node that uses
// the same server and prefix. Safe for concurrent use.
type Redis struct {
	client  redis.UniversalClient
	prefix  string
	timeout time.Duration
	now     func() time.Time
}

var _ verify.ReplayCache = (*Redis)(nil)

// NewRedis returns the cache on client, which the caller owns and
// closes.
func NewRedis(client redis.UniversalClient, cfg RedisConfig) *Redis {
	c := &Redis{client: client, prefix: cfg.Prefix, timeout: cfg.Timeout, now: cfg.Now}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

// Seen records key until the given time and reports whether it was
// recorded already. SET NX with an expiry is one atomic command, so of
// two nodes racing with the same proof exactly one is told "not seen".
// The expiry is relative (PX) rather than absolute (PXAT): a node's clock
// and the server's need not agree. Any error means "cannot say"; the
// caller refuses the proof (DESIGN: fail closed).
func (c *Redis) Seen(ctx context.Context, key string, until time.Time) (bool, error) {
	ttl := until.Sub(c.now())
	if ttl < minTTL {
		ttl = minTTL
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	set, err := c.client.SetNX(ctx, c.prefix+key, "1", ttl).Result()
	if err != nil {
		return false, fmt.Errorf("replay: redis: %w", err)
	}
	return !set, nil
}
