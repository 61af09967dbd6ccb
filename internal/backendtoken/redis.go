package backendtoken

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisShared is a Shared cache on Redis.
type RedisShared struct {
	c      redis.UniversalClient
	prefix string
}

var _ Shared = (*RedisShared)(nil)

// NewRedisShared returns a Shared cache on c, its keys under prefix (the
// deployment's, so several deployments can share one Redis).
func NewRedisShared(c redis.UniversalClient, prefix string) *RedisShared {
	return &RedisShared{c: c, prefix: prefix}
}

// Get implements Shared.
func (r *RedisShared) Get(ctx context.Context, key string) ([]byte, bool, error) {
	b, err := r.c.Get(ctx, r.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

// Set implements Shared.
func (r *RedisShared) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return r.c.Set(ctx, r.prefix+key, value, ttl).Err()
}
