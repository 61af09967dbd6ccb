package e2e

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/config"
)

// dpopClient holds a DPoP key and makes proofs with go-jose alone, as a
// client library would (RFC 9449 §4).
type dpopClient struct {
	t      *testing.T
	signer jose.Signer
	jkt    string
}

func newDPoPClient(t *testing.T) *dpopClient {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k},
		(&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	tp, err := (&jose.JSONWebKey{Key: k.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return &dpopClient{t: t, signer: s, jkt: base64.RawURLEncoding.EncodeToString(tp)}
}

// proof is a proof for POST to u, with nonce when not empty.
func (c *dpopClient) proof(u, nonce string) string {
	c.t.Helper()
	claims := map[string]any{"jti": rand.Text(), "htm": http.MethodPost, "htu": u, "iat": time.Now().Unix()}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	b, _ := json.Marshal(claims)
	jws, err := c.signer.Sign(b)
	if err != nil {
		c.t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		c.t.Fatal(err)
	}
	return out
}

// TestDPoPBoundToken: through the real server, a client credentials
// request with a DPoP proof gets a DPoP token (RFC 9449 §5) whose
// introspection carries cnf.jkt, the thumbprint of the proof's key
// (§6.2); the same proof sent again is refused as a replay.
func TestDPoPBoundToken(t *testing.T) {
	e, secrets := warehouse(t)
	c := newDPoPClient(t)
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"list_items"}}
	proof := c.proof(e.url("/oauth2/token"), "")

	status, _, m := e.postForm("/oauth2/token", "service-opaque", secrets["service-opaque"], form, map[string]string{"DPoP": proof})
	if status != http.StatusOK || m["token_type"] != "DPoP" {
		t.Fatalf("token = %d %v, want a DPoP token", status, m)
	}
	access, _ := m["access_token"].(string)
	_, in := e.introspect(secrets, access, "")
	cnf, _ := in["cnf"].(map[string]any)
	if in["active"] != true || cnf["jkt"] != c.jkt {
		t.Errorf("introspection = %v, want active with cnf.jkt %s", in, c.jkt)
	}

	status, _, m = e.postForm("/oauth2/token", "service-opaque", secrets["service-opaque"], form, map[string]string{"DPoP": proof})
	if status != http.StatusBadRequest || m["error"] != "invalid_dpop_proof" {
		t.Errorf("replayed proof = %d %v, want 400 invalid_dpop_proof", status, m)
	}
}

// TestDPoPNonceRequired: with dpop.require_nonce, the first request is
// refused with use_dpop_nonce and a DPoP-Nonce header, and the retry with
// that nonce gets a bound token and the next nonce (RFC 9449 §8).
func TestDPoPNonceRequired(t *testing.T) {
	e, secrets := warehouse(t, func(cfg *config.Config, _ map[string]string) { cfg.DPoP.RequireNonce = true })
	c := newDPoPClient(t)
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"list_items"}}
	tokenURL := e.url("/oauth2/token")

	status, hdr, m := e.postForm("/oauth2/token", "service-jwt", secrets["service-jwt"], form, map[string]string{"DPoP": c.proof(tokenURL, "")})
	nonce := hdr.Get("DPoP-Nonce")
	if status != http.StatusBadRequest || m["error"] != "use_dpop_nonce" || nonce == "" {
		t.Fatalf("first request = %d %v (DPoP-Nonce %q), want use_dpop_nonce with a nonce", status, m, nonce)
	}
	status, hdr, m = e.postForm("/oauth2/token", "service-jwt", secrets["service-jwt"], form, map[string]string{"DPoP": c.proof(tokenURL, nonce)})
	if status != http.StatusOK || m["token_type"] != "DPoP" || hdr.Get("DPoP-Nonce") == "" {
		t.Fatalf("retry with the nonce = %d %v (DPoP-Nonce %q)", status, m, hdr.Get("DPoP-Nonce"))
	}
	if got := jwtType(t, m["access_token"].(string)); got != "at+jwt" {
		t.Errorf("typ = %q, want at+jwt", got)
	}
}
