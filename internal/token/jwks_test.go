package token

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/pkg/issuer"
)

// startedCache returns a started cache for is with a fake clock.
func startedCache(t *testing.T, is *testIssuer, cfg JWKSConfig) (*JWKSCache, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	if cfg.Issuer == "" && cfg.JWKSURI == "" {
		cfg.Issuer = is.URL()
	}
	c := NewJWKSCache(cfg, testLogger(t), clock.Now)
	if err := c.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return c, clock
}

func TestJWKSCacheStart(t *testing.T) {
	k := newSigningKey(t, jose.ES256, "k1")
	is := newTestIssuer(t, k.public())
	c := NewJWKSCache(JWKSConfig{Issuer: is.URL()}, testLogger(t), nil)
	if c.Ready() {
		t.Fatal("Ready before Start")
	}
	if err := c.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if !c.Ready() || c.Refreshes() != 1 {
		t.Errorf("after Start: Ready %v, Refreshes %d; want true, 1", c.Ready(), c.Refreshes())
	}
	got, err := c.Key(t.Context(), "k1", "ES256")
	if err != nil {
		t.Fatalf("Key: %v", err)
	}
	if !got.IsPublic() || got.KeyID != "k1" {
		t.Errorf("Key = %+v, want the public k1", got)
	}
	if err := c.Start(t.Context()); !errors.Is(err, errStarted) {
		t.Errorf("second Start: err = %v, want errStarted", err)
	}
}

func TestJWKSCacheDiscovery(t *testing.T) {
	k := newSigningKey(t, jose.ES256, "k1")
	tests := []struct {
		name    string
		setup   func(is *testIssuer)
		wantErr string
	}{
		{"openid configuration", func(*testIssuer) {}, ""},
		{"oauth metadata fallback", func(is *testIssuer) { is.noOIDC = true }, ""},
		{"issuer mix-up refused", func(is *testIssuer) { is.docIssuer = "https://evil.example" }, "names issuer"},
		{"issuer with trailing slash refused", func(is *testIssuer) { is.docIssuer = is.srv.URL + "/" }, "names issuer"},
		{"clear-text jwks_uri refused", func(is *testIssuer) { is.docJWKSURI = "http://as.example/jwks.json" }, "must use https"},
		{"blank jwks_uri", func(is *testIssuer) { is.docJWKSURI = " " }, "jwks_uri"},
		{"jwks down", func(is *testIssuer) { is.jwksStatus = http.StatusServiceUnavailable }, "status 503"},
		{"jwks too large", func(is *testIssuer) {
			is.jwksBody = []byte(`{"keys":[],"pad":"` + strings.Repeat("a", issuer.MaxDocumentSize) + `"}`)
		}, "larger than"},
		{"jwks not json", func(is *testIssuer) { is.jwksBody = []byte("<html>") }, "not a json object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is := newTestIssuer(t, k.public())
			is.set(tc.setup)
			c := NewJWKSCache(JWKSConfig{Issuer: is.URL()}, testLogger(t), nil)
			err := c.Start(t.Context())
			if tc.wantErr == "" {
				if err != nil || !c.Ready() {
					t.Fatalf("Start = %v, Ready %v; want success", err, c.Ready())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Start err = %v, want one containing %q", err, tc.wantErr)
			}
			if c.Ready() {
				t.Error("Ready after a failed first fetch")
			}
			if _, err := c.Key(t.Context(), "k1", "ES256"); !errors.Is(err, ErrUnknownKey) {
				t.Errorf("Key on an empty cache: err = %v, want ErrUnknownKey", err)
			}
		})
	}
}

func TestJWKSCacheMixUpFetchesNoKeys(t *testing.T) {
	is := newTestIssuer(t, newSigningKey(t, jose.ES256, "k1").public())
	is.set(func(is *testIssuer) { is.docIssuer = "https://evil.example" })
	c := NewJWKSCache(JWKSConfig{Issuer: is.URL()}, nil, nil)
	_ = c.Start(t.Context())
	if n := is.jwksHits.Load(); n != 0 {
		t.Errorf("keys fetched %d times from a mixed-up discovery document, want 0", n)
	}
}

func TestJWKSCacheConfiguredURI(t *testing.T) {
	is := newTestIssuer(t, newSigningKey(t, jose.ES256, "k1").public())
	c, _ := startedCache(t, is, JWKSConfig{JWKSURI: is.URL() + "/jwks.json"})
	if n := is.discoveryHits.Load(); n != 0 {
		t.Errorf("discovery fetched %d times with a configured jwks uri, want 0", n)
	}
	if _, err := c.Key(t.Context(), "k1", "ES256"); err != nil {
		t.Errorf("Key: %v", err)
	}
}

func TestJWKSCacheConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  JWKSConfig
	}{
		{"nothing to fetch", JWKSConfig{}},
		{"http issuer off loopback", JWKSConfig{Issuer: "http://as.example"}},
		{"issuer with a query", JWKSConfig{Issuer: "https://as.example?x=1"}},
		{"issuer with a fragment", JWKSConfig{Issuer: "https://as.example#x"}},
		{"relative issuer", JWKSConfig{Issuer: "as.example"}},
		{"http jwks uri off loopback", JWKSConfig{JWKSURI: "http://as.example/jwks.json"}},
		{"negative refresh", JWKSConfig{Issuer: "https://as.example", Refresh: -time.Second}},
		{"negative min refetch", JWKSConfig{Issuer: "https://as.example", MinRefetch: -time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewJWKSCache(tc.cfg, nil, nil)
			if err := c.Start(t.Context()); err == nil {
				t.Fatal("Start succeeded, want a configuration error")
			}
			if c.started.Load() {
				t.Error("a misconfigured cache started its refresh loop")
			}
		})
	}
}

func TestJWKSCacheKey(t *testing.T) {
	ecNoAlg := newSigningKey(t, jose.ES256, "ec-any")
	rsRS := newSigningKey(t, jose.RS256, "rs")
	pubNoAlg := ecNoAlg.public()
	pubNoAlg.Algorithm = ""
	is := newTestIssuer(t, pubNoAlg, rsRS.public())
	c, _ := startedCache(t, is, JWKSConfig{})
	tests := []struct {
		kid, alg string
		wantKID  string
		wantErr  error
	}{
		{"ec-any", "ES256", "ec-any", nil},
		{"ec-any", "ES384", "", ErrAlgorithm},
		{"ec-any", "RS256", "", ErrAlgorithm},
		{"rs", "RS256", "rs", nil},
		{"rs", "PS256", "", ErrAlgorithm}, // the key declares RS256
		{"", "RS256", "rs", nil},          // one key fits
		{"", "ES256", "ec-any", nil},
		{"", "EdDSA", "", ErrUnknownKey},
	}
	for _, tc := range tests {
		t.Run(tc.kid+"/"+tc.alg, func(t *testing.T) {
			got, err := c.Key(t.Context(), tc.kid, tc.alg)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Key err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && got.KeyID != tc.wantKID {
				t.Errorf("Key = %q, want %q", got.KeyID, tc.wantKID)
			}
		})
	}
}

func TestJWKSCacheEmptyKidAmbiguous(t *testing.T) {
	is := newTestIssuer(t, newSigningKey(t, jose.ES256, "a").public(), newSigningKey(t, jose.ES256, "b").public())
	c, _ := startedCache(t, is, JWKSConfig{})
	hits := is.jwksHits.Load()
	if _, err := c.Key(t.Context(), "", "ES256"); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Key without kid among two keys: err = %v, want ErrUnknownKey", err)
	}
	if got := is.jwksHits.Load() - hits; got != 0 {
		t.Errorf("an ambiguous kid-less lookup fetched %d times, want 0", got)
	}
}

func TestJWKSCacheUnknownKidRefetch(t *testing.T) {
	is := newTestIssuer(t, newSigningKey(t, jose.ES256, "k1").public())
	c, clock := startedCache(t, is, JWKSConfig{MinRefetch: time.Minute})
	hits := func() int64 { return is.jwksHits.Load() }
	base := hits()

	// Many concurrent lookups of unknown kids: one fetch, all refused.
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		wg.Go(func() {
			_, err := c.Key(t.Context(), "junk-"+string(rune('a'+i%26)), "ES256")
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("Key(junk) err = %v, want ErrUnknownKey", err)
		}
	}
	if got := hits() - base; got != 1 {
		t.Fatalf("100 concurrent unknown kids caused %d fetches, want 1", got)
	}

	// Another unknown kid within MinRefetch: no fetch at all.
	clock.Advance(59 * time.Second)
	if _, err := c.Key(t.Context(), "other", "ES256"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Key(other) err = %v, want ErrUnknownKey", err)
	}
	if got := hits() - base; got != 1 {
		t.Fatalf("fetches after a second unknown kid within MinRefetch = %d, want 1", got)
	}

	// Once MinRefetch has passed, a rotated-in key is found.
	k2 := newSigningKey(t, jose.ES256, "k2")
	is.set(func(is *testIssuer) { is.keys = append(is.keys, k2.public()) })
	clock.Advance(time.Second)
	if _, err := c.Key(t.Context(), "k2", "ES256"); err != nil {
		t.Fatalf("Key(k2) after rotation: %v", err)
	}
	if got := hits() - base; got != 2 {
		t.Errorf("fetches = %d, want 2", got)
	}
	// Known kids never fetch.
	for range 10 {
		if _, err := c.Key(t.Context(), "k1", "ES256"); err != nil {
			t.Fatal(err)
		}
	}
	if got := hits() - base; got != 2 {
		t.Errorf("fetches after known kids = %d, want 2", got)
	}
}

func TestJWKSCacheRefetchWaitersHonourContext(t *testing.T) {
	is := newTestIssuer(t, newSigningKey(t, jose.ES256, "k1").public())
	c, _ := startedCache(t, is, JWKSConfig{})
	gate := make(chan struct{})
	entered := make(chan struct{}, 1)
	is.set(func(is *testIssuer) { is.jwksGate, is.jwksHook = gate, entered })

	ctx, cancel := context.WithCancel(t.Context())
	result := make(chan error, 1)
	go func() {
		_, err := c.Key(ctx, "k2", "ES256")
		result <- err
	}()
	<-entered // the refetch is blocked inside the issuer
	cancel()
	err := <-result
	if !errors.Is(err, ErrUnknownKey) || !errors.Is(err, context.Canceled) {
		t.Errorf("Key with a cancelled context: err = %v, want ErrUnknownKey and context.Canceled", err)
	}
	close(gate)
}

func TestJWKSCacheKeepsSetOnFailure(t *testing.T) {
	is := newTestIssuer(t, newSigningKey(t, jose.ES256, "k1").public())
	c, _ := startedCache(t, is, JWKSConfig{})
	gen := c.generation()
	failures := []func(is *testIssuer){
		func(is *testIssuer) { is.jwksStatus = http.StatusInternalServerError },
		func(is *testIssuer) { is.jwksBody = []byte(`{"keys":[]}`) },
		func(is *testIssuer) { is.jwksBody = []byte(`not json`) },
		func(is *testIssuer) {
			k := newSigningKey(t, jose.ES256, "leaked")
			b, _ := json.Marshal(map[string]any{"keys": []jose.JSONWebKey{{Key: k.priv, KeyID: "leaked"}}})
			is.jwksBody = b
		},
	}
	for i, fail := range failures {
		is.set(func(is *testIssuer) { is.jwksStatus, is.jwksBody = 0, nil })
		is.set(fail)
		if err := c.refresh(t.Context()); err == nil {
			t.Fatalf("failure %d: refresh succeeded", i)
		}
		if _, err := c.Key(t.Context(), "k1", "ES256"); err != nil {
			t.Errorf("failure %d: the previous key is gone: %v", i, err)
		}
		if _, err := c.Key(t.Context(), "leaked", "ES256"); err == nil {
			t.Errorf("failure %d: a key from a refused set is in use", i)
		}
	}
	if !c.Ready() || c.Refreshes() != 1 || c.generation() != gen {
		t.Errorf("Ready %v, Refreshes %d, generation %d; want true, 1, %d", c.Ready(), c.Refreshes(), c.generation(), gen)
	}
}

func TestJWKSCacheRediscoversAfterFailure(t *testing.T) {
	is := newTestIssuer(t, newSigningKey(t, jose.ES256, "k1").public())
	c, _ := startedCache(t, is, JWKSConfig{})
	d := is.discoveryHits.Load()
	if err := c.refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := is.discoveryHits.Load() - d; got != 0 {
		t.Errorf("a healthy refresh fetched discovery %d times, want 0", got)
	}
	is.set(func(is *testIssuer) { is.jwksStatus = http.StatusNotFound })
	_ = c.refresh(t.Context())
	is.set(func(is *testIssuer) { is.jwksStatus = 0 })
	if err := c.refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := is.discoveryHits.Load() - d; got != 1 {
		t.Errorf("discovery fetched %d times after a failed key fetch, want 1", got)
	}
}

func TestJWKSCacheRedirects(t *testing.T) {
	target := newTestIssuer(t, newSigningKey(t, jose.ES256, "k1").public())
	tests := []struct {
		name     string
		location string
		ok       bool
	}{
		{"to loopback http", target.URL() + "/jwks.json", true},
		{"downgrade to http off loopback", "http://as.example/jwks.json", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.RedirectHandler(tc.location, http.StatusFound))
			t.Cleanup(srv.Close)
			c := NewJWKSCache(JWKSConfig{JWKSURI: srv.URL}, testLogger(t), nil)
			err := c.Start(t.Context())
			if (err == nil) != tc.ok {
				t.Errorf("Start err = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func TestJWKSCacheGeneration(t *testing.T) {
	k1 := newSigningKey(t, jose.ES256, "k1")
	is := newTestIssuer(t, k1.public())
	c, _ := startedCache(t, is, JWKSConfig{})
	gen := c.generation()
	if err := c.refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if c.generation() != gen {
		t.Errorf("an unchanged set moved the generation from %d to %d", gen, c.generation())
	}
	is.set(func(is *testIssuer) { is.keys = append(is.keys, newSigningKey(t, jose.ES256, "k2").public()) })
	if err := c.refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if c.generation() <= gen {
		t.Errorf("a changed set kept generation %d", c.generation())
	}
}

func TestJWKSCacheBackgroundRefresh(t *testing.T) {
	is := newTestIssuer(t, newSigningKey(t, jose.ES256, "k1").public())
	hook := make(chan struct{}, 16)
	is.set(func(is *testIssuer) { is.jwksHook = hook })
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	c := NewJWKSCache(JWKSConfig{Issuer: is.URL(), Refresh: 10 * time.Millisecond}, testLogger(t), nil)
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for i := range 3 { // the first fetch and two background ones
		select {
		case <-hook:
		case <-deadline:
			t.Fatalf("only %d key fetches within 10s", i)
		}
	}
}

func TestJitter(t *testing.T) {
	for range 1000 {
		d := jitter(time.Minute)
		if d < 54*time.Second || d >= 66*time.Second {
			t.Fatalf("jitter(1m) = %v, want within ±10%%", d)
		}
	}
	if got := jitter(1); got != 1 {
		t.Errorf("jitter(1ns) = %v, want 1ns", got)
	}
}
