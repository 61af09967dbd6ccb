package verify

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// fxDPoPKey is a client's DPoP key.
type fxDPoPKey struct {
	priv *ecdsa.PrivateKey
	jkt  string
}

func newFxDPoPKey(t *testing.T) fxDPoPKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := (&jose.JSONWebKey{Key: priv.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return fxDPoPKey{priv: priv, jkt: base64.RawURLEncoding.EncodeToString(tp)}
}

var fxJTI atomic.Int64

// proof makes an RFC 9449 §4.2 proof, signed independently of the
// package's own proof code.
func (k fxDPoPKey) proof(t *testing.T, method, htu, accessToken string, iat time.Time, mod func(map[string]any)) string {
	t.Helper()
	claims := map[string]any{
		"jti": fmt.Sprintf("proof-%d", fxJTI.Add(1)), "htm": method, "htu": htu, "iat": iat.Unix(),
		"ath": fxTokenHash(accessToken),
	}
	if mod != nil {
		mod(claims)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k.priv}, (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	o, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	out, err := o.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// fxTokenHash is RFC 9449 §4.2's ath.
func fxTokenHash(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// fxDownReplay is a replay cache that cannot answer.
type fxDownReplay struct{}

func (fxDownReplay) Seen(context.Context, string, time.Time) (bool, error) {
	return false, errors.New("replay store down")
}

func TestMiddlewareDPoP(t *testing.T) {
	f := newFxIssuer(t)
	key, otherKey := newFxDPoPKey(t), newFxDPoPKey(t)
	bound := f.mint(func(c map[string]any) { c["cnf"] = map[string]any{"jkt": key.jkt} })
	unbound := f.mint(nil)
	narrow := f.mint(func(c map[string]any) {
		c["cnf"] = map[string]any{"jkt": key.jkt}
		c["scope"] = "other"
	})
	const htu = "http://example.com/items"
	now := f.clock.Now()
	algs := `algs="ES256 ES384 RS256 PS256 EdDSA"`
	replayed := key.proof(t, "GET", htu, bound, now, nil)

	type request struct {
		auth   string
		proofs []string
	}
	tests := []struct {
		name       string
		realm      string
		scopes     []string
		cfg        ProofOfPossession
		reqs       []request // all but the last must succeed
		wantStatus int
		wantWWW    []string
		wantNonce  string
	}{
		{name: "bound token with its proof",
			reqs: []request{{"DPoP " + bound, []string{key.proof(t, "GET", htu, bound, now, nil)}}}, wantStatus: 200},
		{name: "scheme in lower case",
			reqs: []request{{"dpop " + bound, []string{key.proof(t, "GET", htu, bound, now, nil)}}}, wantStatus: 200},
		{name: "replayed proof",
			reqs:       []request{{"DPoP " + bound, []string{replayed}}, {"DPoP " + bound, []string{replayed}}},
			wantStatus: 401, wantWWW: []string{`DPoP ` + algs + `, error="invalid_dpop_proof", error_description="the DPoP proof has been used before"`}},
		{name: "bound token presented as Bearer",
			reqs:       []request{{"Bearer " + bound, nil}},
			wantStatus: 401, wantWWW: []string{`DPoP ` + algs + `, error="invalid_token", error_description="the access token is bound to a DPoP key; present it with the DPoP scheme and a proof"`}},
		{name: "bound token as Bearer, even with a proof",
			reqs:       []request{{"Bearer " + bound, []string{key.proof(t, "GET", htu, bound, now, nil)}}},
			wantStatus: 401, wantWWW: []string{`DPoP ` + algs + `, error="invalid_token", error_description="the access token is bound to a DPoP key; present it with the DPoP scheme and a proof"`}},
		{name: "no proof",
			reqs:       []request{{"DPoP " + bound, nil}},
			wantStatus: 401, wantWWW: []string{`DPoP ` + algs + `, error="invalid_dpop_proof", error_description="send exactly one DPoP header"`}},
		{name: "two proofs",
			reqs:       []request{{"DPoP " + bound, []string{key.proof(t, "GET", htu, bound, now, nil), key.proof(t, "GET", htu, bound, now, nil)}}},
			wantStatus: 401, wantWWW: []string{`DPoP ` + algs + `, error="invalid_dpop_proof", error_description="send exactly one DPoP header"`}},
		{name: "proof signed with another key",
			reqs:       []request{{"DPoP " + bound, []string{otherKey.proof(t, "GET", htu, bound, now, nil)}}},
			wantStatus: 401, wantWWW: []string{`DPoP ` + algs + `, error="invalid_token", error_description="the DPoP proof is signed with another key than the one the access token is bound to"`}},
		{name: "proof for another URL",
			reqs:       []request{{"DPoP " + bound, []string{key.proof(t, "GET", "http://example.com/orders", bound, now, nil)}}},
			wantStatus: 401, wantWWW: []string{`DPoP ` + algs + `, error="invalid_dpop_proof", error_description="the DPoP proof is for another URL"`}},
		{name: "proof for another token",
			reqs:       []request{{"DPoP " + bound, []string{key.proof(t, "GET", htu, unbound, now, nil)}}},
			wantStatus: 401, wantWWW: []string{`DPoP ` + algs + `, error="invalid_dpop_proof", error_description="the DPoP proof's ath does not match the access token"`}},
		{name: "unbound token with the DPoP scheme",
			reqs:       []request{{"DPoP " + unbound, []string{key.proof(t, "GET", htu, unbound, now, nil)}}},
			wantStatus: 401, wantWWW: []string{`DPoP ` + algs + `, error="invalid_token", error_description="the access token is not bound to a DPoP key"`}},
		{name: "unbound token as Bearer", reqs: []request{{"Bearer " + unbound, nil}}, wantStatus: 200},
		{name: "unbound token as Bearer where DPoP is required", cfg: ProofOfPossession{Required: true},
			reqs:       []request{{"Bearer " + unbound, nil}},
			wantStatus: 401, wantWWW: []string{`DPoP ` + algs + `, error="invalid_token", error_description="this resource requires a DPoP-bound access token"`}},
		{name: "no token: both schemes are offered", realm: "api", reqs: []request{{"", nil}},
			wantStatus: 401, wantWWW: []string{`Bearer realm="api"`, `DPoP realm="api", ` + algs}},
		{name: "nonce required",
			cfg: ProofOfPossession{
				Nonce:    func(n string) error { return map[bool]error{true: nil, false: errors.New("stale")}[n == "n1"] },
				NewNonce: func() string { return "n1" },
			},
			reqs:       []request{{"DPoP " + bound, []string{key.proof(t, "GET", htu, bound, now, nil)}}},
			wantStatus: 401, wantNonce: "n1",
			wantWWW: []string{`DPoP ` + algs + `, error="use_dpop_nonce", error_description="the authorization server requires a current nonce in the DPoP proof"`}},
		{name: "nonce given",
			cfg: ProofOfPossession{Nonce: func(n string) error {
				if n != "n1" {
					return errors.New("stale")
				}
				return nil
			}},
			reqs:       []request{{"DPoP " + bound, []string{key.proof(t, "GET", htu, bound, now, func(c map[string]any) { c["nonce"] = "n1" })}}},
			wantStatus: 200},
		{name: "replay cache down", cfg: ProofOfPossession{Replay: fxDownReplay{}},
			reqs:       []request{{"DPoP " + bound, []string{key.proof(t, "GET", htu, bound, now, nil)}}},
			wantStatus: 503},
		{name: "request URL from the configuration",
			cfg:        ProofOfPossession{RequestURL: func(r *http.Request) string { return "https://api.example" + r.URL.Path }},
			reqs:       []request{{"DPoP " + bound, []string{key.proof(t, "GET", "https://api.example/items", bound, now, nil)}}},
			wantStatus: 200},
		{name: "ES384 proof where only ES256 is accepted", cfg: ProofOfPossession{Algorithms: []string{"ES256"}, MaxAge: time.Minute, Leeway: time.Second},
			reqs:       []request{{"DPoP " + bound, []string{"eyJhbGciOiJFUzM4NCJ9.e30.AAAA"}}},
			wantStatus: 401, wantWWW: []string{`DPoP algs="ES256", error="invalid_dpop_proof", error_description="the DPoP proof is not a JWS with an accepted algorithm"`}},
		{name: "insufficient scope with the DPoP scheme", scopes: []string{"list_items"},
			reqs:       []request{{"DPoP " + narrow, []string{key.proof(t, "GET", htu, narrow, now, nil)}}},
			wantStatus: 403, wantWWW: []string{`DPoP ` + algs + `, error="insufficient_scope", error_description="the access token lacks a required scope", scope="list_items"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			h, err := NewMiddleware(f.verifier(nil), MiddlewareConfig{Realm: tc.realm, Scopes: tc.scopes, DPoP: &cfg}, fxEcho)
			if err != nil {
				t.Fatal(err)
			}
			var w *httptest.ResponseRecorder
			for i, rq := range tc.reqs {
				r := httptest.NewRequest("GET", "/items", nil)
				if rq.auth != "" {
					r.Header.Set("Authorization", rq.auth)
				}
				for _, p := range rq.proofs {
					r.Header.Add("DPoP", p)
				}
				w = fxServe(t, h, r)
				if i < len(tc.reqs)-1 && w.Code != 200 {
					t.Fatalf("request %d: status %d, want 200", i, w.Code)
				}
			}
			if w.Code != tc.wantStatus {
				t.Errorf("status = %d, want %d (%s)", w.Code, tc.wantStatus, w.Body)
			}
			if tc.wantWWW != nil {
				if got := w.Header().Values("WWW-Authenticate"); strings.Join(got, "\n") != strings.Join(tc.wantWWW, "\n") {
					t.Errorf("WWW-Authenticate =\n%q\nwant\n%q", got, tc.wantWWW)
				}
			}
			if got := w.Header().Get("DPoP-Nonce"); got != tc.wantNonce {
				t.Errorf("DPoP-Nonce = %q, want %q", got, tc.wantNonce)
			}
		})
	}
}

// TestFixtureProofMatchesBinding: the proofs the tests make are ones
// VerifyDPoPProof accepts, and the thumbprint it reports is the cnf.jkt
// the tests bind tokens to, so the middleware tests exercise the binding
// check rather than a proof refused for another reason.
func TestFixtureProofMatchesBinding(t *testing.T) {
	key := newFxDPoPKey(t)
	now := time.Unix(1_800_000_000, 0)
	var p *DPoPProof
	p, err := VerifyDPoPProof(t.Context(), key.proof(t, "POST", "https://api.example/orders", "the-token", now, nil), DPoPOptions{
		Method: "POST", URL: "https://api.example/orders", AccessToken: "the-token", Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.Thumbprint != key.jkt || p.AccessTokenHash != fxTokenHash("the-token") {
		t.Errorf("proof thumbprint %q ath %q; want %q %q", p.Thumbprint, p.AccessTokenHash, key.jkt, fxTokenHash("the-token"))
	}
}
