package replay

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// TestRedisSeenMiniredis: the first Seen of a key is false, every later
// one true until it expires; keys carry the prefix and a relative TTL.
func TestRedisSeenMiniredis(t *testing.T) {
	mr := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { client.Close() })
	now := time.Unix(1_700_000_000, 0)
	c := NewRedis(client, RedisConfig{Prefix: "pc:", Now: func() time.Time { return now }})
	ctx := context.Background()

	steps := []struct {
		name string
		key  string
		want bool
	}{
		{"first", "dpop:a", false},
		{"again", "dpop:a", true},
		{"other key", "dpop:b", false},
	}
	for _, s := range steps {
		got, err := c.Seen(ctx, s.key, now.Add(70*time.Second))
		if err != nil || got != s.want {
			t.Fatalf("%s: Seen = %v, %v; want %v, nil", s.name, got, err, s.want)
		}
	}
	if !mr.Exists("pc:dpop:a") {
		t.Fatalf("key not stored under the prefix: %v", mr.Keys())
	}
	if got, want := mr.TTL("pc:dpop:a"), 70*time.Second; got != want {
		t.Errorf("TTL = %v, want %v", got, want)
	}
	// A window that has closed is still kept a little.
	if _, err := c.Seen(ctx, "dpop:late", now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := mr.TTL("pc:dpop:late"); got != minTTL {
		t.Errorf("late TTL = %v, want %v", got, minTTL)
	}
	mr.FastForward(71 * time.Second)
	if got, err := c.Seen(ctx, "dpop:a", now.Add(70*time.Second)); err != nil || got {
		t.Errorf("after expiry: Seen = %v, %v; want false, nil", got, err)
	}
}

// TestRedisSeenFailsClosed: a server that does not answer is an error,
// never "not seen".
func TestRedisSeenFailsClosed(t *testing.T) {
	mr := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	t.Cleanup(func() { client.Close() })
	c := NewRedis(client, RedisConfig{Prefix: "pc:", Timeout: 200 * time.Millisecond})
	mr.SetError("LOADING Redis is loading the dataset in memory")
	seen, err := c.Seen(context.Background(), "dpop:a", time.Now().Add(time.Minute))
	if err == nil {
		t.Fatalf("Seen = %v, nil; want an error", seen)
	}
	mr.SetError("")
	mr.Close()
	if _, err := c.Seen(context.Background(), "dpop:a", time.Now().Add(time.Minute)); err == nil {
		t.Fatal("Seen with the server gone: want an error")
	}
}

// testRedisClient connects to the Redis server of the integration tests,
// or skips the test when none is configured.
func testRedisClient(t *testing.T) *redis.Client {
	t.Helper()
	addr := os.Getenv("PORTCULLIS_TEST_REDIS")
	if addr == "" {
		t.Skip("set PORTCULLIS_TEST_REDIS=127.0.0.1:6379 to run the Redis replay-cache tests")
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	if err := c.Ping(context.Background()).Err(); err != nil {
		c.Close()
		t.Fatalf("PORTCULLIS_TEST_REDIS set but Redis unreachable: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestRedisSeenRealServer: against a real server, of many nodes racing
// with the same key exactly one is told it is new, and the key expires.
func TestRedisSeenRealServer(t *testing.T) {
	client := testRedisClient(t)
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	prefix := "pc:test:" + hex.EncodeToString(b) + ":"
	key := "dpop:race"
	t.Cleanup(func() { client.Del(context.Background(), prefix+key) })
	ctx := context.Background()
	until := time.Now().Add(2 * time.Second)

	const nodes = 16
	var fresh atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, nodes)
	for range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// One cache per node, as each gateway builds its own.
			c := NewRedis(client, RedisConfig{Prefix: prefix, Timeout: time.Second})
			seen, err := c.Seen(ctx, key, until)
			if err != nil {
				errs <- err
				return
			}
			if !seen {
				fresh.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := fresh.Load(); got != 1 {
		t.Fatalf("%d of %d racing nodes accepted the same key, want 1", got, nodes)
	}
	ttl, err := client.PTTL(ctx, prefix+key).Result()
	if err != nil || ttl <= 0 || ttl > 2*time.Second {
		t.Errorf("PTTL = %v, %v; want within (0, 2s]", ttl, err)
	}
	// Once the window is over the key is gone and could be used again
	// (the proof's iat no longer passes by then).
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := client.Exists(ctx, prefix+key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("key still there after its expiry")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
