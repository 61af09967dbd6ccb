package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/internal/config"
)

// testRedis returns the address of the test Redis and a key prefix no
// other test uses, or skips the test when none is configured.
func testRedis(t *testing.T) (addr, prefix string) {
	t.Helper()
	addr = os.Getenv("PORTCULLIS_TEST_REDIS")
	if addr == "" {
		t.Skip("set PORTCULLIS_TEST_REDIS=127.0.0.1:6379 to run the Redis notice tests (catalog, revocation)")
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("PORTCULLIS_TEST_REDIS set but Redis unreachable: %v", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return addr, "pc:test:" + hex.EncodeToString(b) + ":"
}

// A gateway whose poll would take an hour serves an applied version
// within a second: the apply's Redis notice triggers the sync.
func TestCatalogNoticeSyncsAtOnce(t *testing.T) {
	addr, prefix := testRedis(t)
	upstream := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(rw, "hello from "+r.URL.Path)
	}))
	t.Cleanup(upstream.Close)
	cfg := testConfig(t)
	cfg.Gateway.CatalogPoll = config.Duration(time.Hour)
	cfg.RateLimit.Backend = "redis"
	cfg.RateLimit.Redis.Addr = addr
	cfg.RateLimit.Redis.Prefix = prefix
	r := startTest(t, cfg)

	// The follower subscribes in the background; a notice published
	// before that would be lost (the poll would catch up, in an hour).
	waitSubscribed(t, addr, noticeChannel(prefix))
	if code, _ := get(t, r.GatewayURL+"/shop/hello"); code != http.StatusNotFound {
		t.Fatalf("before apply: GET /shop/hello = %d, want 404", code)
	}
	applyDoc(t, cfg, fmt.Sprintf(shopDoc, upstream.URL, "published"))
	applied := time.Now()
	eventually(t, time.Second, func() error {
		code, body := get(t, r.GatewayURL+"/shop/hello")
		if code != http.StatusOK || body != "hello from /hello" {
			return fmt.Errorf("GET /shop/hello = %d %q", code, body)
		}
		return nil
	})
	t.Logf("served %s after the apply", time.Since(applied).Round(time.Millisecond))
}

// waitSubscribed waits until someone listens on channel.
func waitSubscribed(t *testing.T, addr, channel string) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	eventually(t, 5*time.Second, func() error {
		n, err := c.PubSubNumSub(t.Context(), channel).Result()
		if err != nil {
			return err
		}
		if n[channel] == 0 {
			return fmt.Errorf("no subscriber on %s", channel)
		}
		return nil
	})
}

// With Redis unreachable the follower keeps retrying with growing waits,
// never kicks a sync, and stops when its context ends.
func TestNoticeFollowerRetriesWithBackoff(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing answers there now
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer c.Close()
	kicks := 0
	f := newNoticeFollower(c, "pc:", func() { kicks++ }, discardLogger())
	f.retry, f.retryMax = time.Millisecond, 4*time.Millisecond
	f.jitter = func(int64) int64 { return 0 }
	for n, want := range []time.Duration{time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond, 4 * time.Millisecond, 4 * time.Millisecond} {
		if got := f.backoff(n); got != want {
			t.Errorf("backoff(%d) = %s, want %s", n, got, want)
		}
	}
	if got := f.backoff(100); got != 4*time.Millisecond {
		t.Errorf("backoff(100) = %s, want the cap", got)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	go func() { f.run(ctx); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("follower still running 5s after its context ended")
	}
	if kicks != 0 {
		t.Errorf("%d kicks without a subscription, want 0", kicks)
	}
}
