package phantom_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/phantom"
	"github.com/portcullis/portcullis/internal/phantom/phantomtest"
	"github.com/portcullis/portcullis/internal/token"
)

// fakeSource is a SplitSource over a map from digest to header.payload,
// as the authorization server's store keeps them.
type fakeSource struct {
	mu    sync.Mutex
	parts map[string]string
	err   error
	gate  chan struct{}
	calls atomic.Int64
	// digests records what was asked, to check the digest is token.Digest.
	digests [][]byte
}

func newFakeSource() *fakeSource { return &fakeSource{parts: map[string]string{}} }

// add stores jwt split and returns the signature the client would hold.
func (s *fakeSource) add(t testing.TB, jwt string) string {
	t.Helper()
	hp, sig, err := token.Split(jwt)
	if err != nil {
		t.Fatalf("Split: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.parts[string(token.Digest(sig))] = hp
	return sig
}

func (s *fakeSource) HeaderPayload(ctx context.Context, digest []byte) (string, error) {
	s.calls.Add(1)
	s.mu.Lock()
	gate, err := s.gate, s.err
	s.digests = append(s.digests, bytes.Clone(digest))
	hp, ok := s.parts[string(digest)]
	s.mu.Unlock()
	if gate != nil {
		<-gate
	}
	switch {
	case err != nil:
		return "", err
	case !ok:
		return "", phantom.ErrInactive
	}
	return hp, nil
}

type splitFixture struct {
	src   *fakeSource
	iss   *phantomtest.Issuer
	clock *phantomtest.Clock
	r     *phantom.SplitResolver
}

func newSplitFixture(t testing.TB, cfg phantom.IntrospectorConfig) *splitFixture {
	t.Helper()
	f := &splitFixture{
		src:   newFakeSource(),
		iss:   phantomtest.NewIssuer(t, issuerName),
		clock: phantomtest.NewClock(epoch),
	}
	f.r = phantom.NewSplitResolver(f.src, f.iss.Verifier(f.clock.Now), cfg, nil, f.clock.Now)
	return f
}

func (f *splitFixture) issue(t testing.TB, sub string, ttl time.Duration) (jwt, sig string) {
	t.Helper()
	jwt = f.iss.AccessToken(t, sub, "list_items", f.clock.Now(), f.clock.Now().Add(ttl))
	return jwt, f.src.add(t, jwt)
}

func TestSplitResolve(t *testing.T) {
	f := newSplitFixture(t, phantom.IntrospectorConfig{})
	jwt, sig := f.issue(t, "alice", time.Hour)
	// The same header.payload under a signature that is not its own.
	hp, _, _ := token.Split(jwt)
	forged := strings.Repeat("A", len(sig))
	f.src.mu.Lock()
	f.src.parts[string(token.Digest(forged))] = hp
	f.src.mu.Unlock()

	tests := []struct {
		name      string
		sig       string
		wantErr   error
		wantCalls int64
	}{
		{name: "known", sig: sig, wantCalls: 1},
		{name: "unknown", sig: strings.Repeat("B", len(sig)-1) + "A", wantErr: phantom.ErrInactive, wantCalls: 1},
		{name: "stored part with a wrong signature", sig: forged, wantErr: token.ErrSignature, wantCalls: 1},
		{name: "empty", sig: "", wantErr: phantom.ErrInactive},
		{name: "too long", sig: strings.Repeat("A", token.MaxLength+1), wantErr: phantom.ErrInactive},
		{name: "whole jwt", sig: jwt, wantErr: phantom.ErrInactive},
		{name: "padding", sig: sig + "=", wantErr: phantom.ErrInactive},
		{name: "standard base64", sig: "ab+/", wantErr: phantom.ErrInactive},
		// Refused by shape, before any lookup: no allowed algorithm signs
		// 63 bytes, and a non-zero trailing bit is a second spelling.
		{name: "no algorithm's size", sig: sig[:len(sig)-2], wantErr: phantom.ErrInactive},
		{name: "non-canonical", sig: strings.Repeat("B", len(sig)), wantErr: phantom.ErrInactive},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := f.src.calls.Load()
			got, err := f.r.Resolve(t.Context(), tc.sig)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Resolve err = %v, want %v", err, tc.wantErr)
			}
			if err != nil && !errors.Is(err, phantom.ErrInactive) {
				t.Errorf("Resolve err = %v, want it to wrap ErrInactive", err)
			}
			if tc.wantErr == nil && (got.JWT != jwt || got.Claims.Subject != "alice") {
				t.Errorf("Resolve = %q, want the reassembled JWT of alice", got.JWT)
			}
			if calls := f.src.calls.Load() - before; calls != tc.wantCalls {
				t.Errorf("source calls = %d, want %d", calls, tc.wantCalls)
			}
		})
	}
	// The store keeps split tokens under token.Digest of the signature.
	if diff := cmp.Diff(token.Digest(sig), f.src.digests[0]); diff != "" {
		t.Errorf("digest asked for (-want +got):\n%s", diff)
	}
}

func TestSplitCache(t *testing.T) {
	f := newSplitFixture(t, phantom.IntrospectorConfig{MaxTTL: time.Minute, NegativeTTL: 5 * time.Second})
	_, sig := f.issue(t, "alice", time.Hour)
	junk := strings.Repeat("C", 85) + "A"
	for range 100 {
		if _, err := f.r.Resolve(t.Context(), sig); err != nil {
			t.Fatalf("Resolve: %v", err)
		}
		if _, err := f.r.Resolve(t.Context(), junk); !errors.Is(err, phantom.ErrInactive) {
			t.Fatalf("Resolve junk err = %v, want ErrInactive", err)
		}
	}
	want := phantom.Stats{Hits: 99, NegativeHits: 99, Misses: 2, Introspections: 2}
	if diff := cmp.Diff(want, f.r.Stats()); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
	if got := f.src.calls.Load(); got != 2 {
		t.Errorf("source calls = %d, want 2", got)
	}
	// Negative entries end first, positive ones at MaxTTL.
	f.clock.Advance(5 * time.Second)
	_, _ = f.r.Resolve(t.Context(), sig)
	_, _ = f.r.Resolve(t.Context(), junk)
	if got := f.src.calls.Load(); got != 3 {
		t.Errorf("source calls after NegativeTTL = %d, want 3", got)
	}
	f.clock.Advance(55 * time.Second)
	_, _ = f.r.Resolve(t.Context(), sig)
	if got := f.src.calls.Load(); got != 4 {
		t.Errorf("source calls after MaxTTL = %d, want 4", got)
	}
}

func TestSplitUnavailable(t *testing.T) {
	f := newSplitFixture(t, phantom.IntrospectorConfig{})
	_, sig := f.issue(t, "alice", time.Hour)
	f.src.err = errors.New("database is locked")
	for range 2 {
		_, err := f.r.Resolve(t.Context(), sig)
		if !errors.Is(err, phantom.ErrUnavailable) {
			t.Fatalf("Resolve err = %v, want ErrUnavailable", err)
		}
		if strings.Contains(err.Error(), sig) {
			t.Errorf("error %q shows the signature", err)
		}
	}
	if got := f.src.calls.Load(); got != 2 {
		t.Errorf("source calls = %d, want 2 (failures are not cached)", got)
	}
	f.src.err = nil
	if _, err := f.r.Resolve(t.Context(), sig); err != nil {
		t.Errorf("Resolve after the source recovered: %v", err)
	}
}

func TestSplitCoalescing(t *testing.T) {
	const callers = 100
	f := newSplitFixture(t, phantom.IntrospectorConfig{})
	_, sig := f.issue(t, "alice", time.Hour)
	f.src.gate = make(chan struct{})
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range callers {
		wg.Go(func() {
			if _, err := f.r.Resolve(context.Background(), sig); err != nil {
				failed.Add(1)
			}
		})
	}
	waitFor(t, func() bool { return f.r.Stats().Misses == callers })
	close(f.src.gate)
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Errorf("%d callers failed", n)
	}
	if got := f.src.calls.Load(); got != 1 {
		t.Errorf("source calls = %d, want 1", got)
	}
}

func TestNewSplitResolverNil(t *testing.T) {
	v := phantomtest.NewIssuer(t, issuerName).Verifier(time.Now)
	tests := []struct {
		name string
		src  phantom.SplitSource
		v    phantom.JWTVerifier
	}{
		{name: "no source", v: v},
		{name: "no verifier", src: newFakeSource()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("NewSplitResolver did not panic")
				}
			}()
			phantom.NewSplitResolver(tc.src, tc.v, phantom.IntrospectorConfig{}, nil, nil)
		})
	}
}
