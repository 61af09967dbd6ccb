package verify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// The fixtures sign with go-jose directly, independently of how
// Portcullis mints tokens, so the tests check the package against the
// specifications rather than against the other half of the same code.

const fxAudience = "urn:portcullis:api:warehouse"

// fxClock is a settable clock.
type fxClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFxClock() *fxClock { return &fxClock{t: time.Unix(1_800_000_000, 0)} }

func (c *fxClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fxClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fxKey is a signing key of the test issuer.
type fxKey struct {
	kid  string
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
}

func (k fxKey) public() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"}
}

var (
	fxKeysOnce sync.Once
	fxRSA      *rsa.PrivateKey
)

// fxNewKey returns a fresh key for alg (RSA keys are generated once: they
// are slow to make).
func fxNewKey(t testing.TB, kid string, alg jose.SignatureAlgorithm) fxKey {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case jose.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.ES384:
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case jose.ES512:
		priv, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case jose.RS256, jose.PS256, jose.RS384:
		fxKeysOnce.Do(func() { fxRSA, err = rsa.GenerateKey(rand.Reader, 2048) })
		priv = fxRSA
	case jose.EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("no key for %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return fxKey{kid: kid, alg: alg, priv: priv}
}

// fxSign signs claims as a compact JWS with key, typ and extra headers.
// An empty kid in key leaves the kid header out.
func fxSign(t testing.TB, key fxKey, typ string, extra map[jose.HeaderKey]any, claims any) string {
	t.Helper()
	opts := &jose.SignerOptions{}
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	for k, v := range extra {
		opts = opts.WithHeader(k, v)
	}
	var sk any = key.priv
	if key.kid != "" {
		sk = jose.JSONWebKey{Key: key.priv, KeyID: key.kid}
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: key.alg, Key: sk}, opts)
	if err != nil {
		t.Fatal(err)
	}
	var payload []byte
	switch c := claims.(type) {
	case []byte:
		payload = c
	case string:
		payload = []byte(c)
	default:
		if payload, err = json.Marshal(c); err != nil {
			t.Fatal(err)
		}
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

// fxIssuer is an authorization server as far as verification cares: a
// discovery document and a JWK Set, both changeable, with hit counters.
type fxIssuer struct {
	t     testing.TB
	srv   *httptest.Server
	clock *fxClock
	key   fxKey // the current signing key, published

	mu        sync.Mutex
	published []jose.JSONWebKey
	// openIDStatus, when not 0, answers the OpenID document with it.
	openIDStatus int
	// docIssuer, when set, is the issuer the documents name.
	docIssuer string
	// jwksStatus, when not 0, answers the JWK Set with it.
	jwksStatus int

	openIDHits, oauthHits, jwksHits atomic.Int32
}

func newFxIssuer(t testing.TB) *fxIssuer {
	t.Helper()
	f := &fxIssuer{t: t, clock: newFxClock()}
	f.key = fxNewKey(t, "k1", jose.ES256)
	f.published = []jose.JSONWebKey{f.key.public()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		f.openIDHits.Add(1)
		f.mu.Lock()
		st := f.openIDStatus
		f.mu.Unlock()
		if st != 0 {
			w.WriteHeader(st)
			return
		}
		f.writeMetadata(w)
	})
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		f.oauthHits.Add(1)
		f.writeMetadata(w)
	})
	mux.HandleFunc("GET /jwks.json", func(w http.ResponseWriter, r *http.Request) {
		f.jwksHits.Add(1)
		f.mu.Lock()
		st, keys := f.jwksStatus, f.published
		f.mu.Unlock()
		if st != 0 {
			w.WriteHeader(st)
			return
		}
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: keys})
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fxIssuer) issuer() string { return f.srv.URL }

func (f *fxIssuer) writeMetadata(w http.ResponseWriter) {
	f.mu.Lock()
	iss := f.docIssuer
	f.mu.Unlock()
	if iss == "" {
		iss = f.issuer()
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"issuer": iss, "jwks_uri": f.issuer() + "/jwks.json"})
}

// publish replaces the published keys.
func (f *fxIssuer) publish(keys ...fxKey) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.published = nil
	for _, k := range keys {
		f.published = append(f.published, k.public())
	}
}

func (f *fxIssuer) set(fn func(f *fxIssuer)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// claims returns a valid claim set at the issuer's clock.
func (f *fxIssuer) claims() map[string]any {
	now := f.clock.Now().Unix()
	return map[string]any{
		"iss": f.issuer(), "sub": "alice", "aud": fxAudience, "exp": now + 300, "iat": now, "nbf": now,
		"jti": "jti-1", "client_id": "warehouse-spa", "scope": "list_items order_item",
	}
}

// mint signs a valid at+jwt with the current key after mod changes its
// claims (a nil mod changes nothing).
func (f *fxIssuer) mint(mod func(map[string]any)) string {
	f.t.Helper()
	c := f.claims()
	if mod != nil {
		mod(c)
	}
	return fxSign(f.t, f.key, TypeAccessToken, nil, c)
}

// verifier returns a verifier of the issuer's tokens on its clock.
func (f *fxIssuer) verifier(mod func(*Config)) *Verifier {
	f.t.Helper()
	cfg := Config{Issuer: f.issuer(), Audience: fxAudience, Now: f.clock.Now, HTTPClient: f.srv.Client()}
	if mod != nil {
		mod(&cfg)
	}
	v, err := New(cfg)
	if err != nil {
		f.t.Fatalf("New: %v", err)
	}
	return v
}
