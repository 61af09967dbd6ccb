package token

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// testStart is the fake clock's starting instant.
var testStart = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// testAudience is the audience test verifiers expect.
const testAudience = "https://api.example"

// fakeClock is an injected clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: testStart} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testIssuer is an authorization server's metadata and JWKS endpoints.
type testIssuer struct {
	srv *httptest.Server

	mu sync.Mutex
	// keys are published at /jwks.json.
	keys []jose.JSONWebKey
	// docIssuer overrides the issuer named by the discovery document.
	docIssuer string
	// docJWKSURI overrides the jwks_uri of the discovery document.
	docJWKSURI string
	// jwksStatus, when set, answers /jwks.json with that status.
	jwksStatus int
	// jwksBody, when set, is served instead of the keys.
	jwksBody []byte
	// jwksGate, when set, blocks /jwks.json until it is closed.
	jwksGate chan struct{}
	// jwksHook, when set, receives a value for each /jwks.json hit.
	jwksHook chan struct{}
	// noOIDC answers the OpenID Connect discovery path with 404.
	noOIDC bool

	jwksHits      atomic.Int64
	discoveryHits atomic.Int64
}

func newTestIssuer(t testing.TB, keys ...jose.JSONWebKey) *testIssuer {
	t.Helper()
	is := &testIssuer{keys: keys}
	mux := http.NewServeMux()
	metadata := func(w http.ResponseWriter, r *http.Request) {
		is.discoveryHits.Add(1)
		is.mu.Lock()
		doc := map[string]any{"issuer": is.srv.URL, "jwks_uri": is.srv.URL + "/jwks.json"}
		if is.docIssuer != "" {
			doc["issuer"] = is.docIssuer
		}
		if is.docJWKSURI != "" {
			doc["jwks_uri"] = is.docJWKSURI
		}
		noOIDC := is.noOIDC
		is.mu.Unlock()
		if noOIDC && r.URL.Path == "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(doc)
	}
	mux.HandleFunc("GET "+"/.well-known/openid-configuration", metadata)
	mux.HandleFunc("GET "+"/.well-known/oauth-authorization-server", metadata)
	mux.HandleFunc("GET /jwks.json", func(w http.ResponseWriter, r *http.Request) {
		is.jwksHits.Add(1)
		is.mu.Lock()
		gate, hook, status, body := is.jwksGate, is.jwksHook, is.jwksStatus, is.jwksBody
		if body == nil {
			body, _ = json.Marshal(jose.JSONWebKeySet{Keys: is.keys})
		}
		is.mu.Unlock()
		if hook != nil {
			select {
			case hook <- struct{}{}:
			default:
			}
		}
		if gate != nil {
			<-gate
		}
		if status != 0 {
			w.WriteHeader(status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

func (is *testIssuer) URL() string { return is.srv.URL }

// set changes the issuer's behaviour under its lock.
func (is *testIssuer) set(f func(is *testIssuer)) {
	is.mu.Lock()
	defer is.mu.Unlock()
	f(is)
}

// signingKey is a private key with its kid and algorithm.
type signingKey struct {
	kid  string
	alg  jose.SignatureAlgorithm
	priv any
}

func newSigningKey(t testing.TB, alg jose.SignatureAlgorithm, kid string) signingKey {
	t.Helper()
	var (
		priv any
		err  error
	)
	switch alg {
	case jose.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.ES384:
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case jose.RS256, jose.PS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case jose.EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("no test key for %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{kid: kid, alg: alg, priv: priv}
}

// public is the key as the issuer publishes it.
func (k signingKey) public() jose.JSONWebKey {
	full := jose.JSONWebKey{Key: k.priv, KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"}
	return full.Public()
}

// claimsAt returns valid claims for a token issued at now by issuer.
func claimsAt(issuer string, now time.Time) map[string]any {
	return map[string]any{
		"iss":       issuer,
		"sub":       "alice",
		"aud":       testAudience,
		"exp":       now.Add(time.Hour).Unix(),
		"iat":       now.Unix(),
		"nbf":       now.Unix(),
		"jti":       "jti-1",
		"client_id": "warehouse-spa",
		"scope":     "list_items order_item",
		"roles":     []string{"warehouse_admin"},
	}
}

// signToken signs claims with k. Header entries in extra override the
// defaults (typ at+jwt, kid of k); a nil value removes one.
func signToken(t testing.TB, k signingKey, claims map[string]any, extra map[jose.HeaderKey]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return signRaw(t, k, payload, extra)
}

// signRaw signs payload as signToken does.
func signRaw(t testing.TB, k signingKey, payload []byte, extra map[jose.HeaderKey]any) string {
	t.Helper()
	opts := &jose.SignerOptions{}
	opts.WithType(TypeAccessJWT).WithHeader("kid", k.kid)
	for name, v := range extra {
		if name == "embed-jwk" {
			opts.EmbedJWK = true
			continue
		}
		if v == nil {
			delete(opts.ExtraHeaders, name)
			continue
		}
		opts.WithHeader(name, v)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: k.alg, Key: k.priv}, opts)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// b64 encodes a JSON value as a base64url segment.
func b64(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// testLogger writes to the test's output, shown only on failure.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), nil))
}

// testEnv is an issuer with one ES256 key, a started cache and a verifier.
type testEnv struct {
	issuer *testIssuer
	key    signingKey
	clock  *fakeClock
	cache  *JWKSCache
	v      *Verifier
}

func newTestEnv(t testing.TB, cfg VerifierConfig, keys ...signingKey) *testEnv {
	t.Helper()
	if len(keys) == 0 {
		keys = []signingKey{newSigningKey(t, jose.ES256, "k1")}
	}
	pubs := make([]jose.JSONWebKey, len(keys))
	for i, k := range keys {
		pubs[i] = k.public()
	}
	is := newTestIssuer(t, pubs...)
	clock := newFakeClock()
	cache := NewJWKSCache(JWKSConfig{Issuer: is.URL()}, testLogger(t), clock.Now)
	if err := cache.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if cfg.Issuer == "" {
		cfg.Issuer = is.URL()
	}
	if cfg.Audiences == nil {
		cfg.Audiences = []string{testAudience}
	}
	v, err := NewVerifier(cfg, cache, clock.Now)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return &testEnv{issuer: is, key: keys[0], clock: clock, cache: cache, v: v}
}

// token signs valid claims with the env's first key, changed by edit.
func (e *testEnv) token(t testing.TB, edit func(map[string]any)) string {
	t.Helper()
	c := claimsAt(e.issuer.URL(), e.clock.Now())
	if edit != nil {
		edit(c)
	}
	return signToken(t, e.key, c, nil)
}
