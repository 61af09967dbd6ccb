package ratelimit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"
)

// lockedLog is a log sink safe for the backend's concurrent writes.
type lockedLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *lockedLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *lockedLog) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newMiniBackend returns a backend over a miniredis server, with a client
// that does not retry, so one call is one attempt. The round-trip timeout
// defaults to seconds, not the production 50 ms: these tests fail Redis by
// closing it (refused at once), and a busy -race run must not turn a
// healthy call into a timeout.
func newMiniBackend(t *testing.T, cfg RedisConfig, fallback *Memory) (*Redis, *miniredis.Miniredis, *lockedLog) {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	logs := &lockedLog{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	return NewRedis(c, cfg, fallback, logger), m, logs
}

func TestRedisBreaker(t *testing.T) {
	ctx := context.Background()
	r, m, logs := newMiniBackend(t, RedisConfig{BreakerFailures: 3, BreakerCooldown: 10 * time.Second}, nil)
	l := &Limit{Name: "pass", Kind: Rate, Count: 1000, Period: time.Second, OnError: Allow}
	checks := []Check{{Limit: l, Key: "k"}}
	states := make([]State, 1)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

	step := func(name string, now time.Time, wantErr, wantBreakerErr, wantOpen bool) {
		t.Helper()
		_, err := r.Allow(ctx, checks, now, states)
		if got := err != nil; got != wantErr {
			t.Errorf("%s: err = %v, want error %v", name, err, wantErr)
		}
		if err != nil && !errors.Is(err, ErrBackend) {
			t.Errorf("%s: err = %v, want it to wrap ErrBackend", name, err)
		}
		if got := errors.Is(err, errBreakerOpen); got != wantBreakerErr {
			t.Errorf("%s: failed fast = %v, want %v (err %v)", name, got, wantBreakerErr, err)
		}
		if got := r.BreakerOpen(); got != wantOpen {
			t.Errorf("%s: BreakerOpen = %v, want %v", name, got, wantOpen)
		}
	}

	step("healthy", t0, false, false, false)
	m.Close()
	step("failure 1", t0, true, false, false)
	step("failure 2", t0, true, false, false)
	step("failure 3 trips", t0, true, false, true)
	step("open: fails fast", t0.Add(time.Second), true, true, true)
	step("failed trial after cooldown", t0.Add(10*time.Second), true, false, true)
	step("open again after the failed trial", t0.Add(15*time.Second), true, true, true)
	if err := m.Restart(); err != nil {
		t.Fatal(err)
	}
	step("still cooling down", t0.Add(19*time.Second), true, true, true)
	step("trial succeeds: closed", t0.Add(20*time.Second), false, false, false)
	step("healthy again", t0.Add(20*time.Second), false, false, false)

	out := logs.String()
	if got := strings.Count(out, "circuit breaker open"); got != 1 {
		t.Errorf("log lines on trip = %d, want 1:\n%s", got, out)
	}
	if got := strings.Count(out, "circuit breaker closed"); got != 1 {
		t.Errorf("log lines on close = %d, want 1:\n%s", got, out)
	}
	if got := strings.Count(out, "\n"); got != 2 {
		t.Errorf("log lines = %d, want 2 (none per request):\n%s", got, out)
	}
}

// TestRedisBreakerIgnoresCallerCancel: a caller that gives up says nothing
// about Redis, so it must not trip the breaker.
func TestRedisBreakerIgnoresCallerCancel(t *testing.T) {
	r, _, _ := newMiniBackend(t, RedisConfig{BreakerFailures: 1}, nil)
	l := &Limit{Name: "pass", Kind: Rate, Count: 10, Period: time.Second, OnError: Allow}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	states := make([]State, 1)
	for range 3 {
		if _, err := r.Allow(ctx, []Check{{Limit: l, Key: "k"}}, time.Now(), states); !errors.Is(err, ErrBackend) {
			t.Fatalf("Allow with a cancelled context: err = %v, want ErrBackend", err)
		}
	}
	if r.BreakerOpen() {
		t.Errorf("BreakerOpen after cancelled calls = true, want false")
	}
}

// TestRedisTimeout: a server that accepts connections and never answers
// costs a request Timeout, not the client's read timeout (a minute here),
// whether or not the client applies context deadlines itself.
func TestRedisTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { conn.Close() })
			go io.Copy(io.Discard, conn) // read everything, answer nothing
		}
	}()
	l := &Limit{Name: "strict", Kind: Rate, Count: 10, Period: time.Second, OnError: Deny}
	for _, ctxDeadlines := range []bool{false, true} {
		t.Run(fmt.Sprintf("ContextTimeoutEnabled=%v", ctxDeadlines), func(t *testing.T) {
			c := redis.NewClient(&redis.Options{
				Addr:                  ln.Addr().String(),
				MaxRetries:            -1,
				DialTimeout:           time.Minute,
				ReadTimeout:           time.Minute,
				ContextTimeoutEnabled: ctxDeadlines,
				Protocol:              2,
			})
			t.Cleanup(func() { c.Close() })
			r := NewRedis(c, RedisConfig{Timeout: 20 * time.Millisecond, BreakerFailures: 1}, nil, nil)
			states := make([]State, 1)
			ok, err := r.Allow(context.Background(), []Check{{l, "k"}}, time.Now(), states)
			if ok || !errors.Is(err, ErrBackend) {
				t.Errorf("Allow = %v, %v; want false, ErrBackend", ok, err)
			}
			if !r.BreakerOpen() {
				t.Errorf("BreakerOpen = false, want true: a timeout is a failure")
			}
			if !states[0].Denied {
				t.Errorf("state = %+v, want Denied (OnError Deny)", states[0])
			}
		})
	}
}

// TestRedisOnError checks each OnError policy while Redis is down.
func TestRedisOnError(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	deny := &Limit{Name: "deny", Kind: Rate, Count: 10, Period: time.Second, OnError: Deny}
	unset := &Limit{Name: "unset", Kind: Rate, Count: 10, Period: time.Second}
	skip := &Limit{Name: "skip", Kind: Quota, Count: 50, Window: Day, OnError: Allow}
	local := &Limit{Name: "local", Kind: Rate, Count: 1, Period: time.Hour, Burst: 2, OnError: Local}
	refused := State{Denied: true, RetryAfter: time.Second}

	tests := []struct {
		name   string
		checks []Check
		want   []bool // allowed, call after call
		states []State
		// failClosed: refusals are for want of the backend (503), not
		// a limit reached locally (429).
		failClosed bool
	}{
		{
			name:   "allow skips the limit",
			checks: []Check{{skip, "k"}},
			want:   []bool{true, true, true},
			states: []State{{Remaining: 50}},
		},
		{
			name:       "deny refuses",
			checks:     []Check{{deny, "k"}},
			want:       []bool{false},
			states:     []State{refused},
			failClosed: true,
		},
		{
			name:       "unset fails closed",
			checks:     []Check{{unset, "k"}},
			want:       []bool{false},
			states:     []State{refused},
			failClosed: true,
		},
		{
			name:   "local counts in memory",
			checks: []Check{{local, "k"}, {skip, "k"}},
			want:   []bool{true, true, false},
		},
		{
			name:       "deny wins and consumes nothing locally",
			checks:     []Check{{local, "other"}, {deny, "other"}},
			want:       []bool{false, false, false},
			failClosed: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, m, _ := newMiniBackend(t, RedisConfig{BreakerFailures: 100}, NewMemory(MemoryConfig{}))
			m.Close()
			states := make([]State, len(tt.checks))
			for i, want := range tt.want {
				got, err := r.Allow(ctx, tt.checks, now, states)
				if !errors.Is(err, ErrBackend) {
					t.Errorf("call %d: err = %v, want ErrBackend", i, err)
				}
				if errors.Is(err, ErrFailClosed) != tt.failClosed {
					t.Errorf("call %d: err = %v, ErrFailClosed %v, want %v", i, err, errors.Is(err, ErrFailClosed), tt.failClosed)
				}
				if got != want {
					t.Errorf("call %d: allowed = %v, want %v", i, got, want)
				}
			}
			if tt.states != nil {
				if diff := cmp.Diff(tt.states, states); diff != "" {
					t.Errorf("states -want +got:\n%s", diff)
				}
			}
		})
	}

	t.Run("refused requests left the local limit whole", func(t *testing.T) {
		fallback := NewMemory(MemoryConfig{})
		r, m, _ := newMiniBackend(t, RedisConfig{}, fallback)
		m.Close()
		states := make([]State, 2)
		for range 3 {
			if ok, _ := r.Allow(ctx, []Check{{local, "k"}, {deny, "k"}}, now, states); ok {
				t.Fatal("allowed with a Deny limit and Redis down")
			}
		}
		for i := range 2 {
			if ok, _ := fallback.Allow(ctx, []Check{{local, "k"}}, now, states[:1]); !ok {
				t.Errorf("local request %d refused: the refused requests consumed the fallback", i)
			}
		}
	})
}

// TestRedisInvalid: bad input is refused before anything is written.
func TestRedisInvalid(t *testing.T) {
	ctx := context.Background()
	ok := &Limit{Name: "ok", Kind: Rate, Count: 10, Period: time.Second}
	now := time.Now()
	tests := []struct {
		name   string
		checks []Check
		states int
		now    time.Time
	}{
		{"states length", []Check{{ok, "k"}}, 2, now},
		{"nil limit", []Check{{ok, "k"}, {nil, "k"}}, 2, now},
		{"no name", []Check{{ok, "k"}, {&Limit{Kind: Rate, Count: 1, Period: time.Second}, "k"}}, 2, now},
		{"zero count", []Check{{ok, "k"}, {&Limit{Name: "z", Kind: Rate, Period: time.Second}, "k"}}, 2, now},
		{"zero period", []Check{{ok, "k"}, {&Limit{Name: "z", Kind: Rate, Count: 1}, "k"}}, 2, now},
		{"negative burst", []Check{{ok, "k"}, {&Limit{Name: "z", Kind: Rate, Count: 1, Period: time.Second, Burst: -1}, "k"}}, 2, now},
		{"unknown kind", []Check{{ok, "k"}, {&Limit{Name: "z", Count: 1, Period: time.Second}, "k"}}, 2, now},
		{"unknown window", []Check{{ok, "k"}, {&Limit{Name: "z", Kind: Quota, Count: 1}, "k"}}, 2, now},
		{"zero time", []Check{{ok, "k"}}, 1, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, m, _ := newMiniBackend(t, RedisConfig{}, nil)
			states := make([]State, tt.states)
			allowed, err := r.Allow(ctx, tt.checks, tt.now, states)
			if !errors.Is(err, ErrInvalidCheck) || allowed {
				t.Errorf("Allow = %v, %v; want false, ErrInvalidCheck", allowed, err)
			}
			if err := r.Peek(ctx, tt.checks, tt.now, states); !errors.Is(err, ErrInvalidCheck) {
				t.Errorf("Peek = %v, want ErrInvalidCheck", err)
			}
			if keys := m.Keys(); len(keys) != 0 {
				t.Errorf("keys written: %v, want none", keys)
			}
		})
	}
}
