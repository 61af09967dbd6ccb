package phantom_test

import (
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/phantom"
	"github.com/portcullis/portcullis/internal/token"
)

// digestOf is the digest a revocation notice names a token by.
func digestOf(raw string) [sha256.Size]byte { return [sha256.Size]byte(token.Digest(raw)) }

// TestForgetDigest: a revocation notice names the token by its stored
// digest; the cached answer goes, other tokens stay.
func TestForgetDigest(t *testing.T) {
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
	f.in.ForgetDigest(digestOf(raw))
	if _, err := f.in.Resolve(t.Context(), raw); !errors.Is(err, phantom.ErrInactive) {
		t.Errorf("after ForgetDigest: err = %v, want ErrInactive", err)
	}
	if _, err := f.in.Resolve(t.Context(), other); err != nil {
		t.Errorf("another token: %v", err)
	}
	// The revoked token is refused from the notice on, without a call.
	if got := f.as.Calls(); got != 2 {
		t.Errorf("introspection calls = %d, want 2", got)
	}
}

// TestForgetOutlivesStaleIssuer: after a notice the issuer is not asked
// again, so an issuer node that has not heard of the revocation yet (its
// record cache still says active) cannot put the token back for MaxTTL.
func TestForgetOutlivesStaleIssuer(t *testing.T) {
	t.Parallel()
	f := newFixture(t, phantom.IntrospectorConfig{MaxTTL: time.Minute})
	raw := opaque(t)
	f.issue(t, raw, "alice", time.Hour)
	if _, err := f.in.Resolve(t.Context(), raw); err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	// The notice arrives; the issuer still answers active.
	f.in.ForgetDigest(digestOf(raw))
	for range 3 {
		if _, err := f.in.Resolve(t.Context(), raw); !errors.Is(err, phantom.ErrInactive) {
			t.Fatalf("after the notice, with a stale issuer: err = %v, want ErrInactive", err)
		}
	}
	if got := f.as.Calls(); got != 1 {
		t.Errorf("introspection calls = %d, want 1 (none after the notice)", got)
	}
}

// TestFlush: after a gap in the notices every cached answer goes.
func TestFlush(t *testing.T) {
	t.Parallel()
	f := newFixture(t, phantom.IntrospectorConfig{MaxTTL: time.Minute})
	a, b := opaque(t), opaque(t)
	f.issue(t, a, "alice", time.Hour)
	f.issue(t, b, "bob", time.Hour)
	for _, tok := range []string{a, b} {
		if _, err := f.in.Resolve(t.Context(), tok); err != nil {
			t.Fatal(err)
		}
	}
	f.as.Revoke(b)
	f.in.Flush()
	if _, err := f.in.Resolve(t.Context(), a); err != nil {
		t.Errorf("a live token after Flush: %v", err)
	}
	if _, err := f.in.Resolve(t.Context(), b); !errors.Is(err, phantom.ErrInactive) {
		t.Errorf("a revoked token after Flush: %v, want ErrInactive", err)
	}
	if got := f.as.Calls(); got != 4 {
		t.Errorf("introspection calls = %d, want 4", got)
	}
}

// TestFlushSettles: right after a flush an "active" answer is cached only
// for a few seconds, since an issuer node may not have processed the same
// revocations yet; after that window answers are cached for MaxTTL again.
func TestFlushSettles(t *testing.T) {
	t.Parallel()
	f := newFixture(t, phantom.IntrospectorConfig{MaxTTL: time.Minute})
	raw := opaque(t)
	f.issue(t, raw, "alice", time.Hour)
	f.in.Flush()
	if _, err := f.in.Resolve(t.Context(), raw); err != nil {
		t.Fatal(err)
	}
	// The stale issuer's "active" lapses with the window, not after
	// MaxTTL: a revocation it had not heard of is seen then.
	f.as.Revoke(raw)
	f.clock.Advance(5 * time.Second)
	if _, err := f.in.Resolve(t.Context(), raw); !errors.Is(err, phantom.ErrInactive) {
		t.Errorf("5 s after a flush, a token revoked meanwhile: %v, want ErrInactive", err)
	}
	// Long after the flush, answers are cached for MaxTTL again.
	live := opaque(t)
	f.issue(t, live, "bob", time.Hour)
	if _, err := f.in.Resolve(t.Context(), live); err != nil {
		t.Fatal(err)
	}
	calls := f.as.Calls()
	f.clock.Advance(30 * time.Second)
	if _, err := f.in.Resolve(t.Context(), live); err != nil || f.as.Calls() != calls {
		t.Errorf("30 s later (MaxTTL 1m): err %v, calls %d -> %d, want a cache hit", err, calls, f.as.Calls())
	}
}

// TestForgetDuringResolution: a token revoked while its introspection
// was in flight is answered to the waiters as the issuer said, but that
// answer is not cached: the next presentation is refused.
func TestForgetDuringResolution(t *testing.T) {
	t.Parallel()
	f := newFixture(t, phantom.IntrospectorConfig{MaxTTL: time.Minute})
	raw := opaque(t)
	f.issue(t, raw, "alice", time.Hour)
	gate := make(chan struct{})
	f.as.Block(gate)
	done := make(chan error, 1)
	go func() {
		_, err := f.in.Resolve(t.Context(), raw)
		done <- err
	}()
	for f.as.InFlight() == 0 {
		time.Sleep(time.Millisecond)
	}
	// The issuer has the request; the token is revoked and the notice
	// arrives before its answer does.
	f.in.ForgetDigest(digestOf(raw))
	close(gate)
	if err := <-done; err != nil {
		t.Fatalf("the resolution in flight: %v", err)
	}
	f.as.Block(nil)
	f.as.Revoke(raw)
	if _, err := f.in.Resolve(t.Context(), raw); !errors.Is(err, phantom.ErrInactive) {
		t.Errorf("after the notice: err = %v, want ErrInactive (the answer in flight was cached)", err)
	}
}
