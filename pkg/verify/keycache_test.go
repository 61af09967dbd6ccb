package verify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
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

// TestDiscoveryDocuments covers documents the test issuer cannot serve.
func TestDiscoveryDocuments(t *testing.T) {
	tests := []struct {
		name   string
		openID string // "" answers 404
		oauth  string
		want   string // "" is success
	}{
		{"jwks_uri only in the RFC 8414 document", `{"issuer":"ISS"}`, `{"issuer":"ISS","jwks_uri":"ISS/jwks.json"}`, ""},
		{"no jwks_uri anywhere", `{"issuer":"ISS"}`, `{"issuer":"ISS"}`, "no jwks_uri"},
		{"not json", `<html>`, ``, "not a json object"},
		{"issuer not a string", `{"issuer":1,"jwks_uri":"ISS/jwks.json"}`, ``, "another issuer"},
		{"jwks_uri off loopback in clear text", `{"issuer":"ISS","jwks_uri":"http://keys.example/jwks"}`, ``, "https"},
		{"neither document", ``, ``, "status 404"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var iss string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				doc := ""
				switch r.URL.Path {
				case wellKnownOpenID:
					doc = tc.openID
				case wellKnownOAuth:
					doc = tc.oauth
				case "/jwks.json":
					doc = `{"keys":[]}`
				}
				if doc == "" {
					http.NotFound(w, r)
					return
				}
				_, _ = w.Write([]byte(strings.ReplaceAll(doc, "ISS", iss)))
			}))
			defer srv.Close()
			iss = srv.URL
			got, err := discoverJWKSURL(t.Context(), srv.Client(), iss)
			switch {
			case tc.want == "" && (err != nil || got != iss+"/jwks.json"):
				t.Errorf("discover = %q, %v; want %s/jwks.json", got, err, iss)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("discover = %q, %v; want an error about %q", got, err, tc.want)
			}
		})
	}
}

func TestMetadataURLs(t *testing.T) {
	tests := []struct {
		issuer string
		want   []string
	}{
		{"https://a.example", []string{"https://a.example/.well-known/openid-configuration", "https://a.example/.well-known/oauth-authorization-server"}},
		{"https://a.example/t1/", []string{"https://a.example/t1/.well-known/openid-configuration", "https://a.example/.well-known/oauth-authorization-server/t1"}},
	}
	for _, tc := range tests {
		if got := metadataURLs(tc.issuer); strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("metadataURLs(%q) = %q, want %q", tc.issuer, got, tc.want)
		}
	}
}

// TestKeyRotation: a token signed with a key the issuer has just
// published is verified after one refetch; refetches for unknown kids are
// limited to one per MinRefetchInterval.
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

func TestParseJWKSet(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	pub := func(k jose.JSONWebKey) string { b, _ := json.Marshal(k); return string(b) }
	ecPub := pub(jose.JSONWebKey{Key: ec.Public(), KeyID: "ec", Use: "sig"})
	tests := []struct {
		name string
		doc  string
		keys int
		want string // error substring; "" for success
	}{
		{"one key", `{"keys":[` + ecPub + `]}`, 1, ""},
		{"unknown kty skipped", `{"keys":[{"kty":"XYZ"},` + ecPub + `]}`, 1, ""},
		{"encryption key skipped", `{"keys":[` + pub(jose.JSONWebKey{Key: ec.Public(), KeyID: "enc", Use: "enc"}) + `,` + ecPub + `]}`, 1, ""},
		{"symmetric key skipped", `{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"hs"},` + ecPub + `]}`, 1, ""},
		{"HS256 alg skipped", `{"keys":[` + pub(jose.JSONWebKey{Key: ec.Public(), KeyID: "x", Algorithm: "HS256"}) + `,` + ecPub + `]}`, 1, ""},
		{"small RSA skipped", `{"keys":[` + pub(jose.JSONWebKey{Key: small.Public(), KeyID: "rsa"}) + `,` + ecPub + `]}`, 1, ""},
		{"private key refuses the set", `{"keys":[` + pub(jose.JSONWebKey{Key: ec, KeyID: "priv"}) + `,` + ecPub + `]}`, 0, "private"},
		{"no usable key", `{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`, 0, "no usable"},
		{"no keys member", `{}`, 0, "no keys"},
		{"not json", `[`, 0, "not a json object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			set, err := parseJWKSet([]byte(tc.doc))
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("got %v, want an error about %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(set.keys) != tc.keys {
				t.Errorf("got %d keys, want %d", len(set.keys), tc.keys)
			}
		})
	}
}

func TestKeyLookup(t *testing.T) {
	f := newFxIssuer(t)
	ec2 := fxNewKey(t, "", jose.ES256)
	ed := fxNewKey(t, "ed", jose.EdDSA)
	rs := fxNewKey(t, "rs", jose.RS256)
	doc, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{f.key.public(), ec2.public(), ed.public(),
		{Key: rs.priv.Public(), KeyID: "rs", Use: "sig"}}})
	set, err := parseJWKSet(doc)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		kid, alg string
		found    bool
		refetch  bool
		want     error
	}{
		{"k1", "ES256", true, false, nil},
		{"k1", "ES384", false, false, ErrAlgorithm},
		{"ed", "EdDSA", true, false, nil},
		{"ed", "ES256", false, false, ErrAlgorithm},
		{"rs", "PS256", true, false, nil},
		{"rs", "EdDSA", false, false, ErrAlgorithm},
		{"nope", "ES256", false, true, ErrUnknownKey},
		{"", "EdDSA", true, false, nil},
		{"", "ES256", false, false, ErrUnknownKey}, // two candidates
		{"", "ES512", false, true, ErrUnknownKey},
	}
	for _, tc := range tests {
		k, refetch, err := set.lookup(tc.kid, tc.alg)
		if (k != nil) != tc.found || refetch != tc.refetch || !errors.Is(err, tc.want) {
			t.Errorf("lookup(%q, %q) = %v, %v, %v; want found %v, refetch %v, %v", tc.kid, tc.alg, k != nil, refetch, err, tc.found, tc.refetch, tc.want)
		}
	}
	if _, refetch, err := (*jwkSet)(nil).lookup("k1", "ES256"); !refetch || !errors.Is(err, ErrUnknownKey) {
		t.Errorf("lookup in no set: %v, %v", refetch, err)
	}
}

func TestFetchRules(t *testing.T) {
	t.Run("urls", func(t *testing.T) {
		for _, tc := range []struct {
			url string
			ok  bool
		}{
			{"https://a.example/jwks", true},
			{"http://127.0.0.1:1/jwks", true},
			{"http://localhost/jwks", true},
			{"http://[::1]/jwks", true},
			{"http://a.example/jwks", false},
			{"http://127.0.0.1.evil.example/jwks", false},
			{"https://user@a.example/jwks", false},
			{"//a.example/jwks", false},
			{"file:///etc/passwd", false},
			{"https:opaque", false},
		} {
			if _, err := checkFetchURL(tc.url); (err == nil) != tc.ok {
				t.Errorf("checkFetchURL(%q) = %v, want ok %v", tc.url, err, tc.ok)
			}
		}
	})
	t.Run("document size bounded", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(strings.Repeat(" ", maxDocumentSize+1)))
		}))
		defer srv.Close()
		if _, err := fetchJSON(t.Context(), srv.Client(), srv.URL); err == nil || !strings.Contains(err.Error(), "larger") {
			t.Errorf("got %v, want a size error", err)
		}
	})
	t.Run("redirects", func(t *testing.T) {
		hops := 0
		var srv *httptest.Server
		srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/off-loopback":
				http.Redirect(w, r, "http://keys.example/jwks", http.StatusFound)
			case "/loop":
				hops++
				http.Redirect(w, r, srv.URL+"/loop", http.StatusFound)
			case "/once":
				http.Redirect(w, r, srv.URL+"/doc", http.StatusFound)
			default:
				_, _ = w.Write([]byte(`{}`))
			}
		}))
		defer srv.Close()
		called := false
		client := restrictRedirects(&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { called = true; return nil }})
		if _, err := fetchJSON(t.Context(), client, srv.URL+"/off-loopback"); err == nil || !strings.Contains(err.Error(), "redirect refused") {
			t.Errorf("redirect off loopback in clear text: %v", err)
		}
		if _, err := fetchJSON(t.Context(), client, srv.URL+"/loop"); err == nil || hops > maxRedirects+1 {
			t.Errorf("redirect loop: %v after %d hops", err, hops)
		}
		if _, err := fetchJSON(t.Context(), client, srv.URL+"/once"); err != nil || !called {
			t.Errorf("one redirect: %v; client's own CheckRedirect called: %v", err, called)
		}
		// https to http, even to loopback, would drop TLS.
		via := []*http.Request{{URL: mustParseURL(t, "https://a.example/")}}
		if err := client.CheckRedirect(&http.Request{URL: mustParseURL(t, "http://127.0.0.1/")}, via); err == nil {
			t.Error("a redirect from https to http was allowed")
		}
	})
}
