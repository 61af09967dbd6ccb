// Package gatewaytest provides in-memory stand-ins for what surrounds the
// gateway in tests and benchmarks: an authorization server that publishes
// discovery, a JWKS and an introspection endpoint answering phantom JWTs,
// a split-token source, and an upstream that records what reached it.
//
// It signs with throwaway keys generated per issuer and must never be used
// outside tests.
package gatewaytest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/phantom"
	"github.com/portcullis/portcullis/internal/token"
)

// Issuer is a fake authorization server on a loopback httptest server.
type Issuer struct {
	srv    *httptest.Server
	key    *ecdsa.PrivateKey
	kid    string
	signer jose.Signer
	// PhantomType is the typ of the phantom JWTs behind opaque and split
	// tokens; empty means token.TypePhantomJWT, as Portcullis mints them.
	PhantomType string
	// ClientID and ClientSecret are what the introspection endpoint
	// accepts (client_secret_basic).
	ClientID, ClientSecret string
	// Now is the clock tokens are minted with; nil means time.Now.
	Now func() time.Time

	mu       sync.Mutex
	opaque   map[string]string // opaque token -> phantom JWT
	split    map[string]string // hex digest of signature -> header.payload
	revoked  map[string]bool
	status   int // forced introspection status, 0 for normal
	jwksDown bool

	introspections atomic.Int64
	jwksFetches    atomic.Int64
	// inFlight counts introspections being answered, maxInFlight the
	// most at once; gate, when set, holds each until it is closed.
	inFlight, maxInFlight atomic.Int64
	gate                  chan struct{}
}

// NewIssuer starts a fake issuer; it stops with the test.
func NewIssuer(t testing.TB) *Issuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	is := &Issuer{
		key:          key,
		kid:          "k1",
		ClientID:     "gateway",
		ClientSecret: "gateway-secret",
		opaque:       map[string]string{},
		split:        map[string]string{},
		revoked:      map[string]bool{},
	}
	is.signer, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", is.kid))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", is.discovery)
	mux.HandleFunc("GET /jwks.json", is.jwks)
	mux.HandleFunc("POST /oauth2/introspect", is.introspect)
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

// URL is the issuer identifier (the iss claim).
func (is *Issuer) URL() string { return is.srv.URL }

// IntrospectionURL is the introspection endpoint.
func (is *Issuer) IntrospectionURL() string { return is.srv.URL + "/oauth2/introspect" }

// Introspections counts calls to the introspection endpoint.
func (is *Issuer) Introspections() int64 { return is.introspections.Load() }

// JWKSFetches counts fetches of the key set.
func (is *Issuer) JWKSFetches() int64 { return is.jwksFetches.Load() }

// Key returns the issuer's signing key, for tests that forge tokens.
func (is *Issuer) Key() *ecdsa.PrivateKey { return is.key }

// KeyID is the kid of the signing key.
func (is *Issuer) KeyID() string { return is.kid }

// SetIntrospectionStatus forces the introspection endpoint to answer code
// (0 restores normal answers).
func (is *Issuer) SetIntrospectionStatus(code int) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.status = code
}

// HoldIntrospections makes every introspection wait until gate is closed
// (or the caller gives up); nil stops holding them.
func (is *Issuer) HoldIntrospections(gate chan struct{}) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.gate = gate
}

// IntrospectionsInFlight counts introspections being answered now.
func (is *Issuer) IntrospectionsInFlight() int64 { return is.inFlight.Load() }

// MaxIntrospectionsInFlight is the most introspections answered at once.
func (is *Issuer) MaxIntrospectionsInFlight() int64 { return is.maxInFlight.Load() }

// SetJWKSDown makes the key set endpoint fail.
func (is *Issuer) SetJWKSDown(down bool) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.jwksDown = down
}

func (is *Issuer) now() time.Time {
	if is.Now != nil {
		return is.Now()
	}
	return time.Now()
}

// Claims describe a token to mint.
type Claims struct {
	Subject  string
	ClientID string
	Scope    string
	Audience []string
	// TTL is the lifetime; zero means an hour.
	TTL time.Duration
	// Extra claims, merged last (they may override the above).
	Extra map[string]any
}

// Map renders c as JWT claims.
func (is *Issuer) Map(c Claims) map[string]any {
	now := is.now()
	ttl := c.TTL
	if ttl == 0 {
		ttl = time.Hour
	}
	var jti [12]byte
	_, _ = rand.Read(jti[:])
	m := map[string]any{
		"iss":       is.URL(),
		"sub":       c.Subject,
		"client_id": c.ClientID,
		"iat":       now.Unix(),
		"nbf":       now.Unix(),
		"exp":       now.Add(ttl).Unix(),
		"jti":       base64.RawURLEncoding.EncodeToString(jti[:]),
	}
	if c.Scope != "" {
		m["scope"] = c.Scope
	}
	switch len(c.Audience) {
	case 0:
	case 1:
		m["aud"] = c.Audience[0]
	default:
		m["aud"] = c.Audience
	}
	for k, v := range c.Extra {
		m[k] = v
	}
	return m
}

// JWT mints a signed RFC 9068 access token.
func (is *Issuer) JWT(t testing.TB, c Claims) string {
	t.Helper()
	return is.Sign(t, is.Map(c))
}

// Sign signs arbitrary claims with the issuer's key (typ at+jwt).
func (is *Issuer) Sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	return is.sign(t, is.signer, claims)
}

// SignTyped signs arbitrary claims with the issuer's key and typ.
func (is *Issuer) SignTyped(t testing.TB, claims map[string]any, typ string) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: is.key},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader("kid", is.kid))
	if err != nil {
		t.Fatal(err)
	}
	return is.sign(t, signer, claims)
}

// phantomJWT signs the phantom JWT of c, typed PhantomType.
func (is *Issuer) phantomJWT(t testing.TB, c Claims) string {
	t.Helper()
	typ := is.PhantomType
	if typ == "" {
		typ = token.TypePhantomJWT
	}
	return is.SignTyped(t, is.Map(c), typ)
}

func (is *Issuer) sign(t testing.TB, signer jose.Signer, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Opaque mints an opaque token ("pca_..."); introspecting it answers the
// phantom JWT for c.
func (is *Issuer) Opaque(t testing.TB, c Claims) string {
	t.Helper()
	var b [32]byte
	_, _ = rand.Read(b[:])
	tok := "pca_" + base64.RawURLEncoding.EncodeToString(b[:])
	is.OpaqueAs(t, tok, c)
	return tok
}

// OpaqueAs makes the opaque token tok, of any format, known:
// introspecting it answers the phantom JWT for c.
func (is *Issuer) OpaqueAs(t testing.TB, tok string, c Claims) {
	t.Helper()
	jwt := is.phantomJWT(t, c)
	is.mu.Lock()
	defer is.mu.Unlock()
	is.opaque[tok] = jwt
}

// Phantom returns the phantom JWT introspection answers for the opaque
// token tok ("" when unknown), as the gateway would forward it.
func (is *Issuer) Phantom(tok string) string {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.opaque[tok]
}

// SplitJWT returns the JWT a split token reassembles into ("" when
// unknown), as the gateway would forward it.
func (is *Issuer) SplitJWT(sig string) string {
	d := sha256.Sum256([]byte(sig))
	is.mu.Lock()
	defer is.mu.Unlock()
	hp, ok := is.split[string(d[:])]
	if !ok {
		return ""
	}
	return hp + "." + sig
}

// Split mints a split token and returns the signature half the client
// holds; SplitSource finds the rest.
func (is *Issuer) Split(t testing.TB, c Claims) string {
	t.Helper()
	jwt := is.phantomJWT(t, c)
	i := strings.LastIndexByte(jwt, '.')
	sig := jwt[i+1:]
	d := sha256.Sum256([]byte(sig))
	is.mu.Lock()
	defer is.mu.Unlock()
	is.split[string(d[:])] = jwt[:i]
	return sig
}

// Revoke makes an opaque or split token inactive at the issuer.
func (is *Issuer) Revoke(tok string) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.revoked[tok] = true
	d := sha256.Sum256([]byte(tok))
	delete(is.split, string(d[:]))
}

// SplitSource is the split-token store of the issuer.
func (is *Issuer) SplitSource() phantom.SplitSource { return splitSource{is} }

type splitSource struct{ is *Issuer }

func (s splitSource) HeaderPayload(_ context.Context, digest []byte) (string, error) {
	s.is.mu.Lock()
	defer s.is.mu.Unlock()
	hp, ok := s.is.split[string(digest)]
	if !ok {
		return "", phantom.ErrInactive
	}
	return hp, nil
}

func (is *Issuer) discovery(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{
		"issuer":                 is.URL(),
		"jwks_uri":               is.URL() + "/jwks.json",
		"introspection_endpoint": is.IntrospectionURL(),
	})
}

func (is *Issuer) jwks(w http.ResponseWriter, _ *http.Request) {
	is.mu.Lock()
	down := is.jwksDown
	is.mu.Unlock()
	if down {
		http.Error(w, "down", http.StatusInternalServerError)
		return
	}
	is.jwksFetches.Add(1)
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
		Key: &is.key.PublicKey, KeyID: is.kid, Algorithm: "ES256", Use: "sig",
	}}}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(set)
}

// introspect is RFC 7662 with Accept: application/jwt answered by the
// phantom token.
func (is *Issuer) introspect(w http.ResponseWriter, r *http.Request) {
	is.introspections.Add(1)
	n := is.inFlight.Add(1)
	defer is.inFlight.Add(-1)
	for m := is.maxInFlight.Load(); n > m && !is.maxInFlight.CompareAndSwap(m, n); m = is.maxInFlight.Load() {
	}
	is.mu.Lock()
	gate := is.gate
	is.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	id, secret, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(id), []byte(is.ClientID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(secret), []byte(is.ClientSecret)) != 1 {
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		return
	}
	is.mu.Lock()
	status := is.status
	jwt, known := is.opaque[r.PostFormValue("token")]
	revoked := is.revoked[r.PostFormValue("token")]
	is.mu.Unlock()
	if status != 0 {
		w.WriteHeader(status)
		return
	}
	if !known || revoked || !strings.Contains(r.Header.Get("Accept"), "application/jwt") {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"active":false}`))
		return
	}
	w.Header().Set("Content-Type", "application/jwt")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(jwt))
}
