package ratelimit_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/internal/ratelimit"
	"github.com/portcullis/portcullis/internal/ratelimit/ratelimittest"
)

// TestRedisBackendSuite runs the shared behaviour table against the real
// Redis server. Its clock (TIME) cannot be faked, so the suite skips the
// cases that move time and checks the others on the wall clock; the
// miniredis run below covers those with the very same script.
func TestRedisBackendSuite(t *testing.T) {
	addr := os.Getenv("PORTCULLIS_TEST_REDIS")
	if addr == "" {
		t.Skip("set PORTCULLIS_TEST_REDIS=127.0.0.1:6379 to run the Redis rate-limit tests")
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("PORTCULLIS_TEST_REDIS set but Redis unreachable: %v", err)
	}
	// The suite makes limit names unique per case; the prefix keeps this
	// run's keys apart from anything else on the server, and goes at the
	// end.
	prefix := "pc:test:suite:" + time.Now().Format("150405.000000") + ":"
	t.Cleanup(func() { deleteKeys(t, c, prefix) })
	ratelimittest.RunBackendSuite(t, func(t *testing.T) (ratelimit.Backend, ratelimittest.Clock) {
		return ratelimit.NewRedis(c, ratelimit.RedisConfig{Prefix: prefix, Timeout: 5 * time.Second}, nil, nil), ratelimittest.RealClock{}
	})
}

// TestRedisBackendSuiteFakeTime runs the whole table, the cases that move
// time included, against the script on miniredis, whose TIME follows the
// test's clock.
func TestRedisBackendSuiteFakeTime(t *testing.T) {
	ratelimittest.RunBackendSuite(t, func(t *testing.T) (ratelimit.Backend, ratelimittest.Clock) {
		m := miniredis.RunT(t)
		c := redis.NewClient(&redis.Options{Addr: m.Addr()})
		t.Cleanup(func() { c.Close() })
		clock := newMiniClock(m, time.Date(2026, 5, 17, 9, 41, 7, 123_456_000, time.UTC))
		return ratelimit.NewRedis(c, ratelimit.RedisConfig{Timeout: 5 * time.Second}, nil, nil), clock
	})
}

// miniClock is a ratelimittest.Clock that moves miniredis's clock too:
// TIME answers the clock's time and keys expire as it advances.
type miniClock struct {
	m   *miniredis.Miniredis
	mu  sync.Mutex
	now time.Time
}

var (
	_ ratelimittest.Clock     = (*miniClock)(nil)
	_ ratelimittest.TimeFaker = (*miniClock)(nil)
)

func newMiniClock(m *miniredis.Miniredis, start time.Time) *miniClock {
	m.SetTime(start)
	return &miniClock{m: m, now: start}
}

func (c *miniClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *miniClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.m.SetTime(c.now)
	c.m.FastForward(d)
}

func (c *miniClock) CanFakeTime() bool { return true }

// deleteKeys removes every key under prefix.
func deleteKeys(t *testing.T, c *redis.Client, prefix string) {
	ctx := context.Background()
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if len(keys) > 0 {
		if err := c.Del(ctx, keys...).Err(); err != nil {
			t.Errorf("clean up: %v", err)
		}
	}
}
