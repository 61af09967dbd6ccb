package verify

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func TestDiscovery(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(f *fxIssuer)
		mod        func(f *fxIssuer, c *Config)
		want       error
		openID     int32
		oauth      int32
		wantJWKSOK bool
	}{
		{name: "openid-configuration first", openID: 1, oauth: 0},
		{name: "RFC 8414 when the OpenID document is absent",
			setup: func(f *fxIssuer) { f.set(func(f *fxIssuer) { f.openIDStatus = http.StatusNotFound }) }, openID: 1, oauth: 1},
		{name: "no fallback on a server error",
			setup: func(f *fxIssuer) { f.set(func(f *fxIssuer) { f.openIDStatus = http.StatusInternalServerError }) },
			want:  ErrKeysUnavailable, openID: 1, oauth: 0},
		{name: "document naming another issuer",
			setup: func(f *fxIssuer) { f.set(func(f *fxIssuer) { f.docIssuer = "https://evil.example" }) },
			want:  ErrKeysUnavailable, openID: 1, oauth: 0},
		{name: "document naming the issuer with a trailing slash",
			setup: func(f *fxIssuer) { f.set(func(f *fxIssuer) { f.docIssuer = f.issuer() + "/" }) },
			want:  ErrKeysUnavailable, openID: 1, oauth: 0},
		{name: "configured JWKS URL skips discovery",
			mod: func(f *fxIssuer, c *Config) { c.JWKSURL = f.issuer() + "/jwks.json" }, openID: 0, oauth: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFxIssuer(t)
			if tc.setup != nil {
				tc.setup(f)
			}
			v := f.verifier(func(c *Config) {
				if tc.mod != nil {
					tc.mod(f, c)
				}
			})
			_, err := v.Verify(t.Context(), f.mint(nil))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify: got %v, want %v", err, tc.want)
			}
			if got := f.openIDHits.Load(); got != tc.openID {
				t.Errorf("OpenID document fetched %d times, want %d", got, tc.openID)
			}
			if got := f.oauthHits.Load(); got != tc.oauth {
				t.Errorf("RFC 8414 document fetched %d times, want %d", got, tc.oauth)
			}
		})
	}
}

func TestKeyRotation(t *testing.T) {
	f := newFxIssuer(t)
	v := f.verifier(nil)
	if _, err := v.Verify(t.Context(), f.mint(nil)); err != nil {
		t.Fatal(err)
	}
	old := f.key
	f.key = fxNewKey(t, "k2", jose.ES256)
	f.publish(old, f.key)
	f.clock.Advance(DefaultMinRefetchInterval)
	if _, err := v.Verify(t.Context(), f.mint(nil)); err != nil {
		t.Fatalf("token signed with the new key: %v", err)
	}
	if got := f.jwksHits.Load(); got != 2 {
		t.Errorf("key set fetched %d times, want 2", got)
	}
	junk := fxSign(t, fxKey{kid: "junk", alg: jose.ES256, priv: old.priv}, TypeAccessToken, nil, f.claims())
	for range 5 {
		if _, err := v.Verify(t.Context(), junk); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("junk kid: got %v, want ErrUnknownKey", err)
		}
	}
	if got := f.jwksHits.Load(); got != 2 {
		t.Errorf("junk kids within the refetch interval fetched the key set %d times in all, want 2", got)
	}
	f.clock.Advance(DefaultMinRefetchInterval)
	if _, err := v.Verify(t.Context(), junk); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("junk kid: got %v, want ErrUnknownKey", err)
	}
	if got := f.jwksHits.Load(); got != 3 {
		t.Errorf("a junk kid after the refetch interval: %d fetches in all, want 3", got)
	}
	// The old key withdrawn: its tokens fail once the set is refetched.
	f.publish(f.key)
	f.clock.Advance(DefaultKeysTTL)
	tok := fxSign(t, old, TypeAccessToken, nil, f.claims())
	_, _ = v.Verify(t.Context(), tok) // starts the background refresh
	waitFor(t, func() bool { return f.jwksHits.Load() == 4 && v.keys.inflightDone() })
	if _, err := v.Verify(t.Context(), tok); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("token of a withdrawn key: got %v, want ErrUnknownKey", err)
	}
}

// inflightDone reports whether no fetch is under way.
func (c *keyCache) inflightDone() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inflight == nil
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestKeysTTLAndStaleness: a set past its TTL is refreshed in the
// background while still in use; while the issuer is down it is used up
// to KeysMaxStale past its TTL, then tokens are refused (fail closed).
func TestKeysTTLAndStaleness(t *testing.T) {
	f := newFxIssuer(t)
	v := f.verifier(func(c *Config) { c.KeysTTL = time.Minute; c.KeysMaxStale = 10 * time.Minute })
	if _, err := v.Verify(t.Context(), f.mint(nil)); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(30 * time.Second)
	if _, err := v.Verify(t.Context(), f.mint(nil)); err != nil || f.jwksHits.Load() != 1 {
		t.Fatalf("within the TTL: %v, %d fetches, want no refetch", err, f.jwksHits.Load())
	}
	f.clock.Advance(31 * time.Second)
	if _, err := v.Verify(t.Context(), f.mint(nil)); err != nil {
		t.Fatalf("past the TTL, with the cached set: %v", err)
	}
	waitFor(t, func() bool { return f.jwksHits.Load() == 2 && v.keys.inflightDone() })

	f.set(func(f *fxIssuer) { f.jwksStatus = http.StatusServiceUnavailable })
	f.clock.Advance(5 * time.Minute)
	if _, err := v.Verify(t.Context(), f.mint(nil)); err != nil {
		t.Fatalf("issuer down, set stale but within max stale: %v", err)
	}
	waitFor(t, func() bool { return f.jwksHits.Load() == 3 && v.keys.inflightDone() })
	f.clock.Advance(6 * time.Minute)
	if _, err := v.Verify(t.Context(), f.mint(nil)); !errors.Is(err, ErrKeysUnavailable) {
		t.Fatalf("issuer down past max stale: got %v, want ErrKeysUnavailable", err)
	}
	f.set(func(f *fxIssuer) { f.jwksStatus = 0 })
	if _, err := v.Verify(t.Context(), f.mint(nil)); !errors.Is(err, ErrKeysUnavailable) {
		t.Fatalf("retry within the refetch interval: got %v, want ErrKeysUnavailable", err)
	}
	f.clock.Advance(DefaultMinRefetchInterval)
	if _, err := v.Verify(t.Context(), f.mint(nil)); err != nil {
		t.Fatalf("issuer back: %v", err)
	}
}

func TestKeysUnavailableFailsClosed(t *testing.T) {
	f := newFxIssuer(t)
	f.set(func(f *fxIssuer) { f.jwksStatus = http.StatusNotFound })
	v := f.verifier(nil)
	for i := range 3 {
		if _, err := v.Verify(t.Context(), f.mint(nil)); !errors.Is(err, ErrKeysUnavailable) {
			t.Fatalf("attempt %d: got %v, want ErrKeysUnavailable", i, err)
		}
	}
	if got := f.jwksHits.Load(); got != 1 {
		t.Errorf("a down issuer was asked %d times within the refetch interval, want 1", got)
	}
	// The discovered URL is forgotten after a failure, in case the
	// issuer moved its keys.
	if got := f.openIDHits.Load(); got != 1 {
		t.Errorf("discovery fetched %d times, want 1", got)
	}
	f.set(func(f *fxIssuer) { f.jwksStatus = 0 })
	f.clock.Advance(DefaultMinRefetchInterval)
	if _, err := v.Verify(t.Context(), f.mint(nil)); err != nil {
		t.Fatal(err)
	}
	if got := f.openIDHits.Load(); got != 2 {
		t.Errorf("discovery fetched %d times after a failed key fetch, want 2", got)
	}
}

func TestKeyFetchHonoursContext(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	v, err := New(Config{Issuer: srv.URL, Audience: fxAudience, JWKSURL: srv.URL + "/jwks"})
	if err != nil {
		t.Fatal(err)
	}
	f := newFxIssuer(t)
	ctx, cancel := contextWithTimeout(t, 50*time.Millisecond)
	defer cancel()
	if _, err := v.Verify(ctx, f.mint(nil)); !errors.Is(err, ErrKeysUnavailable) {
		t.Fatalf("got %v, want ErrKeysUnavailable", err)
	}
}

func TestKeyFetchPanicIsAnError(t *testing.T) {
	f := newFxIssuer(t)
	v := f.verifier(func(c *Config) {
		c.HTTPClient = &http.Client{Transport: panicTransport{}}
	})
	if _, err := v.Verify(t.Context(), f.mint(nil)); !errors.Is(err, ErrKeysUnavailable) || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("got %v, want ErrKeysUnavailable after a panic", err)
	}
}

type panicTransport struct{}

func (panicTransport) RoundTrip(*http.Request) (*http.Response, error) { panic("transport bug") }
