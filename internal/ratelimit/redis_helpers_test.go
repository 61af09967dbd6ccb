package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
)

// quietRedis drops go-redis's own log lines (dial failures are expected
// by the failure tests and would bury the test output).
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

func init() { redis.SetLogger(quietRedis{}) }

// testRedisAddr returns the Redis server of the integration tests, or
// skips the test when none is configured.
func testRedisAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("PORTCULLIS_TEST_REDIS")
	if addr == "" {
		t.Skip("set PORTCULLIS_TEST_REDIS=127.0.0.1:6379 to run the Redis rate-limit tests")
	}
	return addr
}

// newTestRedisClient connects to the test server and closes the client
// when the test ends.
func newTestRedisClient(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: testRedisAddr(t)})
	if err := c.Ping(context.Background()).Err(); err != nil {
		c.Close()
		t.Fatalf("PORTCULLIS_TEST_REDIS set but Redis unreachable: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// testPrefix returns a key prefix no other test uses and deletes every
// key under it when the test ends, so tests share one server safely.
func testPrefix(t testing.TB, c redis.UniversalClient) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	prefix := "pc:test:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
	})
	return prefix
}
