package phantom_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/logtest"
	"github.com/portcullis/portcullis/internal/phantom"
	"github.com/portcullis/portcullis/internal/phantom/phantomtest"
	"github.com/portcullis/portcullis/internal/token"
)

const (
	gatewayID     = "gateway"
	gatewaySecret = "gateway-secret"
	issuerName    = "https://as.example"
)

var epoch = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// fixture is an authorization server, an issuer, a clock and an
// introspector wired together.
type fixture struct {
	as    *phantomtest.AuthServer
	iss   *phantomtest.Issuer
	clock *phantomtest.Clock
	ver   *phantomtest.Verifier
	in    *phantom.Introspector
	logs  *logtest.Buffer
}

func newFixture(t testing.TB, cfg phantom.IntrospectorConfig) *fixture {
	t.Helper()
	f := &fixture{
		as:    phantomtest.NewAuthServer(t, gatewayID, gatewaySecret),
		iss:   phantomtest.NewIssuer(t, issuerName),
		clock: phantomtest.NewClock(epoch),
		logs:  &logtest.Buffer{},
	}
	f.ver = f.iss.Verifier(f.clock.Now)
	if cfg.URL == "" {
		cfg.URL = f.as.URL
	}
	if cfg.ClientID == "" {
		cfg.ClientID, cfg.ClientSecret = gatewayID, gatewaySecret
	}
	if cfg.Client == nil {
		cfg.Client = defaultClient(t, cfg)
	}
	logger := slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	in, err := phantom.NewIntrospector(cfg, f.ver, logger, f.clock.Now)
	if err != nil {
		t.Fatalf("NewIntrospector: %v", err)
	}
	f.in = in
	return f
}

// issue makes the fake server know opaque, with a phantom JWT for sub
// that expires after ttl, and returns the JWT.
func (f *fixture) issue(t testing.TB, opaque, sub string, ttl time.Duration) string {
	t.Helper()
	jwt := f.iss.AccessToken(t, sub, "list_items", f.clock.Now(), f.clock.Now().Add(ttl))
	f.as.Issue(opaque, jwt)
	return jwt
}

// defaultClient is the client the introspector would build for cfg, with
// its idle connections closed when the test ends (before the fake server
// closes: cleanups run last-registered first).
func defaultClient(t testing.TB, cfg phantom.IntrospectorConfig) *http.Client {
	t.Helper()
	c := phantom.DefaultClient(cfg)
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func opaque(t testing.TB) string {
	t.Helper()
	s, err := token.NewOpaque(token.PrefixAccess)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestIntrospectorResolve(t *testing.T) {
	t.Parallel()
	f := newFixture(t, phantom.IntrospectorConfig{})
	active := opaque(t)
	jwt := f.issue(t, active, "alice", time.Hour)

	tests := []struct {
		name      string
		raw       string
		wantJWT   string
		wantErr   error
		wantCalls int64
	}{
		{name: "active", raw: active, wantJWT: jwt, wantCalls: 1},
		{name: "unknown", raw: opaque(t), wantErr: phantom.ErrInactive, wantCalls: 1},
		{name: "empty", raw: "", wantErr: phantom.ErrInactive},
		{name: "too long", raw: strings.Repeat("a", token.MaxLength+1), wantErr: phantom.ErrInactive},
		// Not shaped like token.NewOpaque's: refused before any call.
		{name: "longest allowed", raw: strings.Repeat("a", token.MaxLength), wantErr: phantom.ErrInactive},
		{name: "refresh token", raw: "pcr_" + active[4:], wantErr: phantom.ErrInactive},
		{name: "one short", raw: active[:len(active)-1], wantErr: phantom.ErrInactive},
		{name: "jwt", raw: jwt, wantErr: phantom.ErrInactive},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := f.as.Calls()
			got, err := f.in.Resolve(t.Context(), tc.raw)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Resolve err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr == nil {
				if got.JWT != tc.wantJWT || got.Claims.Subject != "alice" {
					t.Errorf("Resolve = %q (sub %q), want the phantom JWT of alice", got.JWT, got.Claims.Subject)
				}
			}
			if calls := f.as.Calls() - before; calls != tc.wantCalls {
				t.Errorf("introspection calls = %d, want %d", calls, tc.wantCalls)
			}
		})
	}
	if n := f.as.Malformed(); n != 0 {
		t.Errorf("server saw %d malformed requests, want 0", n)
	}
}

func TestIntrospectorCacheHit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, phantom.IntrospectorConfig{})
	raw := opaque(t)
	f.issue(t, raw, "alice", time.Hour)

	first, err := f.in.Resolve(t.Context(), raw)
	if err != nil {
		t.Fatalf("first Resolve: %v", err)
	}
	for range 10 {
		got, err := f.in.Resolve(t.Context(), raw)
		if err != nil {
			t.Fatalf("cached Resolve: %v", err)
		}
		if got != first {
			t.Fatalf("cached Resolve returned a different result")
		}
	}
	want := phantom.Stats{Hits: 10, Misses: 1, Introspections: 1}
	if diff := cmp.Diff(want, f.in.Stats()); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
	if got := f.as.Calls(); got != 1 {
		t.Errorf("introspection calls = %d, want 1", got)
	}
}

// TestIntrospectorCacheBounds: an entry lives until the earlier of the
// token's exp and MaxTTL, no longer.
func TestIntrospectorCacheBounds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		maxTTL   time.Duration
		tokenTTL time.Duration
		// bound is when the entry must be gone.
		bound time.Duration
		// afterErr is what a resolve at the bound answers (the token is
		// still issued at the server).
		afterErr error
	}{
		{name: "exp first", maxTTL: time.Minute, tokenTTL: 30 * time.Second, bound: 30 * time.Second, afterErr: phantom.ErrInactive},
		{name: "MaxTTL first", maxTTL: time.Minute, tokenTTL: time.Hour, bound: time.Minute},
		{name: "default MaxTTL", tokenTTL: time.Hour, bound: phantom.DefaultMaxTTL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, phantom.IntrospectorConfig{MaxTTL: tc.maxTTL})
			raw := opaque(t)
			f.issue(t, raw, "alice", tc.tokenTTL)
			if _, err := f.in.Resolve(t.Context(), raw); err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			f.clock.Advance(tc.bound - time.Second)
			if _, err := f.in.Resolve(t.Context(), raw); err != nil {
				t.Fatalf("Resolve just before the bound: %v", err)
			}
			if got := f.as.Calls(); got != 1 {
				t.Fatalf("calls just before the bound = %d, want 1 (cached)", got)
			}
			f.clock.Advance(time.Second)
			_, err := f.in.Resolve(t.Context(), raw)
			if !errors.Is(err, tc.afterErr) {
				t.Fatalf("Resolve at the bound err = %v, want %v", err, tc.afterErr)
			}
			if got := f.as.Calls(); got != 2 {
				t.Errorf("calls at the bound = %d, want 2 (entry expired)", got)
			}
		})
	}
}

// TestRevocationVisibleAfterMaxTTL documents the revocation bound: a
// revoked token keeps working from the cache for at most MaxTTL.
func TestRevocationVisibleAfterMaxTTL(t *testing.T) {
	t.Parallel()
	const maxTTL = 20 * time.Second
	f := newFixture(t, phantom.IntrospectorConfig{MaxTTL: maxTTL})
	raw := opaque(t)
	f.issue(t, raw, "alice", time.Hour)
	if _, err := f.in.Resolve(t.Context(), raw); err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	f.as.Revoke(raw)

	f.clock.Advance(maxTTL - time.Nanosecond)
	if _, err := f.in.Resolve(t.Context(), raw); err != nil {
		t.Errorf("within MaxTTL after revocation: err = %v, want the cached token", err)
	}
	f.clock.Advance(time.Nanosecond)
	if _, err := f.in.Resolve(t.Context(), raw); !errors.Is(err, phantom.ErrInactive) {
		t.Errorf("at MaxTTL after revocation: err = %v, want ErrInactive", err)
	}
}

// TestRevocationVisibleAfterForget: a token this node saw revoked is
// refused at once once forgotten, without waiting for MaxTTL; other
// tokens keep their entries.
func TestRevocationVisibleAfterForget(t *testing.T) {
	t.Parallel()
	f := newFixture(t, phantom.IntrospectorConfig{MaxTTL: time.Minute})
	raw, other := opaque(t), opaque(t)
	f.issue(t, raw, "alice", time.Hour)
	f.issue(t, other, "bob", time.Hour)
	for _, tok := range []string{raw, other} {
		if _, err := f.in.Resolve(t.Context(), tok); err != nil {
			t.Fatalf("Resolve: %v", err)
		}
	}
	f.as.Revoke(raw)
	f.in.Forget(raw)
	if _, err := f.in.Resolve(t.Context(), raw); !errors.Is(err, phantom.ErrInactive) {
		t.Errorf("after Forget: err = %v, want ErrInactive", err)
	}
	if _, err := f.in.Resolve(t.Context(), other); err != nil {
		t.Errorf("another token after Forget: %v", err)
	}
	if got := f.as.Calls(); got != 2 {
		t.Errorf("introspection calls = %d, want 2 (the forgotten one is refused without a call)", got)
	}
	f.in.Forget(opaque(t)) // a token never seen: refused if it ever comes
}

func TestIntrospectorNegativeCache(t *testing.T) {
	t.Parallel()
	t.Run("one junk token flooded", func(t *testing.T) {
		f := newFixture(t, phantom.IntrospectorConfig{NegativeTTL: 10 * time.Second})
		junk := opaque(t)
		for i := range 1000 {
			if _, err := f.in.Resolve(t.Context(), junk); !errors.Is(err, phantom.ErrInactive) {
				t.Fatalf("Resolve #%d err = %v, want ErrInactive", i, err)
			}
		}
		if got := f.as.Calls(); got != 1 {
			t.Errorf("introspection calls = %d, want 1", got)
		}
		want := phantom.Stats{Misses: 1, NegativeHits: 999, Introspections: 1}
		if diff := cmp.Diff(want, f.in.Stats()); diff != "" {
			t.Errorf("Stats (-want +got):\n%s", diff)
		}
		f.clock.Advance(10 * time.Second)
		if _, err := f.in.Resolve(t.Context(), junk); !errors.Is(err, phantom.ErrInactive) {
			t.Fatalf("Resolve after NegativeTTL err = %v, want ErrInactive", err)
		}
		if got := f.as.Calls(); got != 2 {
			t.Errorf("calls after NegativeTTL = %d, want 2", got)
		}
	})
	t.Run("distinct junk tokens", func(t *testing.T) {
		f := newFixture(t, phantom.IntrospectorConfig{})
		junk := make([]string, 200)
		for i := range junk {
			junk[i] = opaque(t) // well shaped, unknown
		}
		for round := range 3 {
			for _, j := range junk {
				if _, err := f.in.Resolve(t.Context(), j); !errors.Is(err, phantom.ErrInactive) {
					t.Fatalf("round %d: Resolve err = %v, want ErrInactive", round, err)
				}
			}
		}
		if got, want := f.as.Calls(), int64(len(junk)); got != want {
			t.Errorf("introspection calls = %d, want %d (one per distinct token)", got, want)
		}
	})
}

// TestIntrospectorCoalescing: concurrent misses for one token make one
// call, however many callers wait.
func TestIntrospectorCoalescing(t *testing.T) {
	t.Parallel()
	const callers = 100
	f := newFixture(t, phantom.IntrospectorConfig{})
	raw := opaque(t)
	jwt := f.issue(t, raw, "alice", time.Hour)
	gate := make(chan struct{})
	f.as.Block(gate)

	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			got, err := f.in.Resolve(context.Background(), raw)
			if err == nil && got.JWT != jwt {
				err = errors.New("wrong JWT")
			}
			errs <- err
		})
	}
	// Every caller has missed once all are counted; the call cannot have
	// finished, since the server is still blocked, so all of them wait
	// on the one in flight.
	waitFor(t, func() bool { return f.in.Stats().Misses == callers })
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Resolve: %v", err)
		}
	}
	if got := f.as.Calls(); got != 1 {
		t.Errorf("introspection calls = %d, want 1", got)
	}
	if got := f.in.Stats().Introspections; got != 1 {
		t.Errorf("Stats.Introspections = %d, want 1", got)
	}
}

// TestSharedCallOutlivesCaller: the caller who started a call hanging up
// neither fails the others nor wastes the answer.
func TestSharedCallOutlivesCaller(t *testing.T) {
	t.Parallel()
	f := newFixture(t, phantom.IntrospectorConfig{})
	raw := opaque(t)
	f.issue(t, raw, "alice", time.Hour)
	gate := make(chan struct{})
	f.as.Block(gate)

	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() {
		_, err := f.in.Resolve(ctx, raw)
		first <- err
	}()
	waitFor(t, func() bool { return f.as.Calls() == 1 })
	second := make(chan error, 1)
	go func() {
		_, err := f.in.Resolve(context.Background(), raw)
		second <- err
	}()
	waitFor(t, func() bool { return f.in.Stats().Misses == 2 })
	cancel()
	if err := <-first; !errors.Is(err, phantom.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled caller err = %v, want ErrUnavailable wrapping context.Canceled", err)
	}
	close(gate)
	if err := <-second; err != nil {
		t.Errorf("other caller err = %v, want the token", err)
	}
	if _, err := f.in.Resolve(context.Background(), raw); err != nil {
		t.Errorf("later Resolve err = %v, want a cache hit", err)
	}
	if got := f.as.Calls(); got != 1 {
		t.Errorf("introspection calls = %d, want 1", got)
	}
}

// waitFor polls cond, yielding between polls; the deadline only guards
// against a hung test.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}
