package ratelimit

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/internal/logtest"
)

// syncBuffer is the log sink the code under test and the test share.
type syncBuffer = logtest.Buffer

// retryingBlocks returns a RedisBlocks whose follower does not wait
// between attempts (the waits it asks for are recorded in slept instead),
// logs to the returned buffer and signals on applied after each message,
// reload or reconnection.
func retryingBlocks(t *testing.T, c redis.UniversalClient, prefix string) (rb *RedisBlocks, applied <-chan struct{}, slept func() []time.Duration, logs *syncBuffer) {
	t.Helper()
	logs = &syncBuffer{}
	rb = NewRedisBlocks(c, prefix, slog.New(slog.NewTextHandler(logs, nil)))
	var (
		mu    sync.Mutex
		waits []time.Duration
	)
	rb.sleep = func(ctx context.Context, d time.Duration) bool {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
		// Yield instead of waiting d, so the test takes no wall-clock time
		// the backoff asks for; the context still ends the follower.
		select {
		case <-ctx.Done():
			return false
		case <-time.After(time.Millisecond):
			return true
		}
	}
	ch := make(chan struct{}, 1)
	rb.applied = func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	slept = func() []time.Duration {
		mu.Lock()
		defer mu.Unlock()
		return append([]time.Duration(nil), waits...)
	}
	return rb, ch, slept, logs
}

// freeAddr returns a loopback address nothing listens on (yet).
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestRedisBlocksStartWhileRedisDown: a node started before Redis is up
// gets an error from Start, keeps trying with backoff, and once Redis
// answers loads the blocks other nodes set meanwhile and follows new ones.
func TestRedisBlocksStartWhileRedisDown(t *testing.T) {
	ctx := context.Background()
	addr := freeAddr(t)
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	rb, applied, slept, logs := retryingBlocks(t, c, "")

	runCtx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	if err := rb.Start(runCtx); err == nil {
		t.Fatal("Start with Redis down = nil, want an error")
	}
	waitForBlocks(t, nil, func() bool { return len(slept()) >= 3 })

	m := miniredis.NewMiniRedis()
	if err := m.StartAddr(addr); err != nil {
		t.Fatalf("start miniredis on %s: %v", addr, err)
	}
	t.Cleanup(m.Close)
	other := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { other.Close() })
	peer := NewRedisBlocks(other, "", nil)
	now := time.Now()
	early := Block{Key: "sub:mallory", Until: now.Add(time.Hour), Reason: "set while the node was deaf"}
	if err := peer.Block(ctx, early); err != nil {
		t.Fatalf("Block from another node: %v", err)
	}
	// Whether or not the follower was subscribed when it was published,
	// the reload on connecting brings it in.
	waitForBlocks(t, applied, func() bool { _, ok := rb.Blocked(early.Key, now); return ok })

	// Once connected, new blocks arrive through pub/sub.
	late := Block{Key: "sub:eve", Until: now.Add(time.Hour), Reason: "set after the node caught up"}
	if err := peer.Block(ctx, late); err != nil {
		t.Fatalf("Block from another node: %v", err)
	}
	waitForBlocks(t, applied, func() bool { _, ok := rb.Blocked(late.Key, now); return ok })
	if err := peer.Lift(ctx, early.Key); err != nil {
		t.Fatalf("Lift: %v", err)
	}
	waitForBlocks(t, applied, func() bool { _, ok := rb.Blocked(early.Key, now); return !ok })

	for i, d := range slept() {
		if d <= 0 || d > blockRetryMax {
			t.Errorf("wait %d before resubscribing = %v, want in (0, %v]", i, d, blockRetryMax)
		}
	}
	if !bytes.Contains([]byte(logs.String()), []byte("component=ratelimit")) ||
		!bytes.Contains([]byte(logs.String()), []byte("cannot follow blocks")) {
		t.Errorf("failed attempts not logged with component=ratelimit; log:\n%s", logs)
	}
}

// TestRedisBlocksStartWhileRealRedisDown is the same against the real
// Redis server, made unreachable at first by a dialer that refuses.
func TestRedisBlocksStartWhileRealRedisDown(t *testing.T) {
	ctx := context.Background()
	addr := testRedisAddr(t)
	seed := newTestRedisClient(t)
	prefix := testPrefix(t, seed)
	var up atomic.Bool
	c := redis.NewClient(&redis.Options{
		Addr:       addr,
		MaxRetries: -1,
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if !up.Load() {
				return nil, errors.New("test: redis is down")
			}
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	})
	t.Cleanup(func() { c.Close() })
	rb, applied, slept, _ := retryingBlocks(t, c, prefix)
	runCtx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	if err := rb.Start(runCtx); err == nil {
		t.Fatal("Start with Redis down = nil, want an error")
	}
	waitForBlocks(t, nil, func() bool { return len(slept()) >= 2 })

	now := time.Now()
	peer := NewRedisBlocks(seed, prefix, nil)
	early := Block{Key: "client:scraper", Until: now.Add(time.Hour), Reason: "set while the node was deaf"}
	if err := peer.Block(ctx, early); err != nil {
		t.Fatalf("Block from another node: %v", err)
	}
	up.Store(true)
	waitForBlocks(t, applied, func() bool { _, ok := rb.Blocked(early.Key, now); return ok })
	late := Block{Key: "client:late", Until: now.Add(time.Hour)}
	if err := peer.Block(ctx, late); err != nil {
		t.Fatalf("Block from another node: %v", err)
	}
	waitForBlocks(t, applied, func() bool { _, ok := rb.Blocked(late.Key, now); return ok })
}

func TestRedisBlocksBackoff(t *testing.T) {
	rb := NewRedisBlocks(nil, "", nil)
	rb.retry, rb.retryMax = time.Second, 30*time.Second
	tests := []struct {
		name   string
		jitter func(int64) int64
		want   []time.Duration // attempts 0, 1, 2, ...
	}{
		{"no jitter", func(int64) int64 { return 0 },
			[]time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second,
				16 * time.Second, 30 * time.Second, 30 * time.Second}},
		{"full jitter", func(n int64) int64 { return n - 1 },
			[]time.Duration{500*time.Millisecond + 1, 1*time.Second + 1, 2*time.Second + 1,
				4*time.Second + 1, 8*time.Second + 1, 15*time.Second + 1, 15*time.Second + 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rb.jitter = tt.jitter
			for n, want := range tt.want {
				if got := rb.backoff(n); got != want {
					t.Errorf("backoff(%d) = %v, want %v", n, got, want)
				}
			}
			// Far past the cap, nothing overflows.
			for _, n := range []int{40, 63, 64, 1000} {
				if got := rb.backoff(n); got <= 0 || got > rb.retryMax {
					t.Errorf("backoff(%d) = %v, want in (0, %v]", n, got, rb.retryMax)
				}
			}
		})
	}
	// The real jitter stays within [d/2, d].
	rb.jitter = NewRedisBlocks(nil, "", nil).jitter
	for range 100 {
		if got := rb.backoff(3); got < 4*time.Second || got > 8*time.Second {
			t.Fatalf("backoff(3) = %v, want in [4s, 8s]", got)
		}
	}
}
