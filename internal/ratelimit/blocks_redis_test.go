package ratelimit

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"
)

// startTestBlocks starts a RedisBlocks node whose follower signals on the
// returned channel after each message or reload it applies.
func startTestBlocks(t *testing.T, c redis.UniversalClient, prefix string) (*RedisBlocks, <-chan struct{}) {
	t.Helper()
	rb := NewRedisBlocks(c, prefix, nil)
	rb.retry = 10 * time.Millisecond
	applied := make(chan struct{}, 1)
	rb.applied = func() {
		select {
		case applied <- struct{}{}:
		default:
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := rb.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return rb, applied
}

// waitForBlocks waits for the follower until cond holds; it fails the test after
// a generous deadline rather than asserting any delivery time.
// A nil applied polls cond instead.
func waitForBlocks(t *testing.T, applied <-chan struct{}, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	var poll <-chan time.Time
	for !cond() {
		if applied == nil {
			poll = time.After(time.Millisecond)
		}
		select {
		case <-applied:
		case <-poll:
		case <-deadline:
			t.Fatal("condition not reached: a change was not delivered")
		}
	}
}

func TestRedisBlocksAcrossNodes(t *testing.T) {
	ctx := context.Background()
	c := newTestRedisClient(t)
	prefix := testPrefix(t, c)
	now := time.Now().Round(0)

	// A block stored before the nodes start is loaded by Start.
	before := Block{Key: "client:early", Until: now.Add(time.Hour), Reason: "operator"}
	seed := NewRedisBlocks(c, prefix, nil)
	if err := seed.Block(ctx, before); err != nil {
		t.Fatalf("Block: %v", err)
	}

	a, appliedA := startTestBlocks(t, c, prefix)
	b, appliedB := startTestBlocks(t, c, prefix)

	for _, node := range []*RedisBlocks{a, b} {
		got, ok := node.Blocked(before.Key, now)
		if !ok || !got.Until.Equal(before.Until) || got.Reason != before.Reason {
			t.Errorf("Blocked(%q) after Start = %+v, %v; want %+v, true", before.Key, got, ok, before)
		}
	}

	blk := Block{Key: "sub:alice", Until: now.Add(15 * time.Minute), Reason: "abuse mass-download"}
	if err := a.Block(ctx, blk); err != nil {
		t.Fatalf("Block: %v", err)
	}
	if _, ok := a.Blocked(blk.Key, now); !ok {
		t.Errorf("Blocked on the blocking node = false, want true at once")
	}
	waitForBlocks(t, appliedB, func() bool { _, ok := b.Blocked(blk.Key, now); return ok })

	got, ok := b.Blocked(blk.Key, now)
	if diff := cmp.Diff(blk, got); !ok || diff != "" {
		t.Errorf("Blocked on the other node: ok=%v, -want +got:\n%s", ok, diff)
	}
	if _, ok := b.Blocked(blk.Key, blk.Until); ok {
		t.Errorf("Blocked at Until = true, want false (a block ends at Until)")
	}
	if _, ok := b.Blocked("sub:bob", now); ok {
		t.Errorf("Blocked(unblocked key) = true, want false")
	}

	list, err := b.List(ctx, now)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if diff := cmp.Diff([]Block{before, blk}, list); diff != "" {
		t.Errorf("List -want +got:\n%s", diff)
	}
	list, err = b.List(ctx, now.Add(30*time.Minute))
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if diff := cmp.Diff([]Block{before}, list); diff != "" {
		t.Errorf("List after the block ended -want +got:\n%s", diff)
	}

	if err := b.Lift(ctx, blk.Key); err != nil {
		t.Fatalf("Lift: %v", err)
	}
	if _, ok := b.Blocked(blk.Key, now); ok {
		t.Errorf("Blocked on the lifting node = true, want false at once")
	}
	waitForBlocks(t, appliedA, func() bool { _, ok := a.Blocked(blk.Key, now); return !ok })

	if n := c.Exists(ctx, prefix+blk.Key).Val(); n != 0 {
		t.Errorf("key of a lifted block exists: got %d, want 0", n)
	}
	if err := b.Lift(ctx, "never-blocked"); err != nil {
		t.Errorf("Lift(unknown key) = %v, want nil", err)
	}
}

// TestRedisBlocksIdlePing: a follower whose subscription stays silent
// probes it with PING and keeps following when the answer comes.
func TestRedisBlocksIdlePing(t *testing.T) {
	ctx := context.Background()
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { c.Close() })
	rb := NewRedisBlocks(c, "", nil)
	rb.ping = 5 * time.Millisecond
	applied := make(chan struct{}, 16)
	rb.applied = func() {
		select {
		case applied <- struct{}{}:
		default:
		}
	}
	runCtx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	if err := rb.Start(runCtx); err != nil {
		t.Fatal(err)
	}
	for range 3 { // three idle intervals, each ended by a PONG
		select {
		case <-applied:
		case <-time.After(10 * time.Second):
			t.Fatal("no PONG on an idle subscription")
		}
	}
	other := NewRedisBlocks(c, "", nil)
	now := time.Now()
	if err := other.Block(ctx, Block{Key: "sub:idle", Until: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	waitForBlocks(t, applied, func() bool { _, ok := rb.Blocked("sub:idle", now); return ok })
}

func TestRedisBlocksExpireInRedis(t *testing.T) {
	ctx := context.Background()
	c := newTestRedisClient(t)
	prefix := testPrefix(t, c)
	rb := NewRedisBlocks(c, prefix, nil)
	until := time.Now().Add(time.Hour)
	if err := rb.Block(ctx, Block{Key: "k", Until: until}); err != nil {
		t.Fatal(err)
	}
	// Redis itself forgets the block when it ends: no sweeper needed.
	at, err := c.PExpireTime(ctx, prefix+"k").Result()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := at, time.Duration(until.UnixMilli())*time.Millisecond; got != want {
		t.Errorf("PEXPIRETIME = %v, want %v", got, want)
	}
}

func TestRedisBlocksInvalid(t *testing.T) {
	ctx := context.Background()
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { c.Close() })
	rb := NewRedisBlocks(c, "", nil)
	tests := []struct {
		name string
		call func() error
	}{
		{"block empty key", func() error { return rb.Block(ctx, Block{Until: time.Now().Add(time.Hour)}) }},
		{"block no end", func() error { return rb.Block(ctx, Block{Key: "k"}) }},
		{"lift empty key", func() error { return rb.Lift(ctx, "") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, ErrInvalidBlock) {
				t.Errorf("got %v, want ErrInvalidBlock", err)
			}
			if keys := m.Keys(); len(keys) != 0 {
				t.Errorf("keys written: %v, want none", keys)
			}
		})
	}
}

// TestRedisBlocksResync proves a follower that lost its connection catches
// up with the blocks set meanwhile, which pub/sub alone would lose.
func TestRedisBlocksResync(t *testing.T) {
	ctx := context.Background()
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { c.Close() })
	rb, applied := startTestBlocks(t, c, "")

	now := time.Now()
	m.Close()
	// Written while the follower is disconnected: no message reaches it.
	m.Set(defaultBlockPrefix+"sub:mallory", `{"key":"sub:mallory","until":"`+now.Add(time.Hour).UTC().Format(time.RFC3339Nano)+`","reason":"set elsewhere"}`)
	if err := m.Restart(); err != nil {
		t.Fatal(err)
	}

	waitForBlocks(t, applied, func() bool { _, ok := rb.Blocked("sub:mallory", now); return ok })
	if err := rb.Block(ctx, Block{Key: "sub:eve", Until: now.Add(time.Hour)}); err != nil {
		t.Fatalf("Block after reconnect: %v", err)
	}
}

func TestGlobEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"pc:block:", "pc:block:"},
		{"a*b?c[d]e\\", `a\*b\?c\[d\]e\\`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := globEscape(tt.in); got != tt.want {
				t.Errorf("globEscape(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
