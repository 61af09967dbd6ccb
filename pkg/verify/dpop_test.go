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
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// rfc9449Proof is the proof of RFC 9449 Figure 5 (a token request to
// https://server.example.com/token at iat 1562262616).
const rfc9449Proof = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19" +
	".eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ" +
	".2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg"

// rfc9449JKT is the thumbprint RFC 9449 §6.1 gives for that proof's key.
const rfc9449JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"

func TestVerifyDPoPProofRFCExample(t *testing.T) {
	p, err := VerifyDPoPProof(context.Background(), rfc9449Proof, DPoPOptions{
		Method: "POST",
		URL:    "https://server.example.com/token",
		Now:    func() time.Time { return time.Unix(1562262616, 0) },
	})
	if err != nil {
		t.Fatalf("VerifyDPoPProof: %v", err)
	}
	if p.Thumbprint != rfc9449JKT {
		t.Errorf("thumbprint = %s, want %s", p.Thumbprint, rfc9449JKT)
	}
	if p.JTI != "-BwC3ESc6acc2lTc" || p.Method != "POST" || p.Algorithm != "ES256" || p.IssuedAt.Unix() != 1562262616 {
		t.Errorf("proof = %+v", p)
	}
}

// proofMaker signs proofs with go-jose, independently of any Portcullis
// code, the way a client library would.
type proofMaker struct {
	t   *testing.T
	key *ecdsa.PrivateKey
}

func newProofMaker(t *testing.T) *proofMaker {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &proofMaker{t: t, key: k}
}

func (m *proofMaker) thumbprint() string {
	jwk := jose.JSONWebKey{Key: m.key.Public()}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		m.t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(tp)
}

// sign makes a proof with claims, with typ and the embedded public key
// unless headers override them.
func (m *proofMaker) sign(claims map[string]any, typ string) string {
	m.t.Helper()
	opts := (&jose.SignerOptions{EmbedJWK: true}).WithType(jose.ContentType(typ))
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: m.key}, opts)
	if err != nil {
		m.t.Fatal(err)
	}
	b, _ := json.Marshal(claims)
	jws, err := s.Sign(b)
	if err != nil {
		m.t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		m.t.Fatal(err)
	}
	return out
}

// raw makes a proof from a hand-written header, signed by m's key.
func (m *proofMaker) raw(header map[string]any, claims map[string]any) string {
	m.t.Helper()
	hb, _ := json.Marshal(header)
	cb, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb)
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, m.key, sum[:])
	if err != nil {
		m.t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func publicJWK(t *testing.T, k *ecdsa.PrivateKey, private bool) map[string]any {
	t.Helper()
	jwk := jose.JSONWebKey{Key: k.Public()}
	if private {
		jwk = jose.JSONWebKey{Key: k}
	}
	b, err := jwk.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

func TestVerifyDPoPProof(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	m := newProofMaker(t)
	other := newProofMaker(t)
	const at = "pca_access-token-value"
	good := func() map[string]any {
		return map[string]any{"jti": "j-1", "htm": "GET", "htu": "https://api.example.com/warehouse/items",
			"iat": now.Unix(), "ath": AccessTokenHash(at)}
	}
	with := func(k string, v any) map[string]any {
		c := good()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	base := DPoPOptions{Method: "GET", URL: "https://api.example.com/warehouse/items?limit=5", AccessToken: at, Now: clock}
	cases := []struct {
		name  string
		proof string
		opts  func(*DPoPOptions)
		code  string // "" means accepted
	}{
		{name: "valid, query ignored", proof: m.sign(good(), DPoPProofType)},
		{name: "htu differs only by case and default port",
			proof: m.sign(with("htu", "HTTPS://API.example.com:443/warehouse/items"), DPoPProofType)},
		{name: "empty proof", proof: "", code: DPoPCodeInvalidProof},
		{name: "not a JWS", proof: "a.b", code: DPoPCodeInvalidProof},
		{name: "too large", proof: strings.Repeat("a", MaxDPoPProofSize+1), code: DPoPCodeInvalidProof},
		{name: "wrong typ", proof: m.sign(good(), "JWT"), code: DPoPCodeInvalidProof},
		{name: "no typ", proof: m.raw(map[string]any{"alg": "ES256", "jwk": publicJWK(t, m.key, false)}, good()), code: DPoPCodeInvalidProof},
		{name: "no jwk", proof: m.raw(map[string]any{"alg": "ES256", "typ": DPoPProofType}, good()), code: DPoPCodeInvalidProof},
		{name: "private key in jwk", proof: m.raw(map[string]any{"alg": "ES256", "typ": DPoPProofType, "jwk": publicJWK(t, m.key, true)}, good()), code: DPoPCodeInvalidProof},
		{name: "signed by another key", proof: m.raw(map[string]any{"alg": "ES256", "typ": DPoPProofType, "jwk": publicJWK(t, other.key, false)}, good()), code: DPoPCodeInvalidProof},
		{name: "alg none", proof: unsigned(map[string]any{"alg": "none", "typ": DPoPProofType, "jwk": publicJWK(t, m.key, false)}, good()), code: DPoPCodeInvalidProof},
		{name: "alg HS256", proof: unsigned(map[string]any{"alg": "HS256", "typ": DPoPProofType, "jwk": publicJWK(t, m.key, false)}, good()) + "c2ln", code: DPoPCodeInvalidProof},
		{name: "algorithm outside the allow-list", proof: m.sign(good(), DPoPProofType),
			opts: func(o *DPoPOptions) { o.Algorithms = []string{"RS256"} }, code: DPoPCodeInvalidProof},
		{name: "missing jti", proof: m.sign(with("jti", nil), DPoPProofType), code: DPoPCodeInvalidProof},
		{name: "missing htm", proof: m.sign(with("htm", nil), DPoPProofType), code: DPoPCodeInvalidProof},
		{name: "missing htu", proof: m.sign(with("htu", nil), DPoPProofType), code: DPoPCodeInvalidProof},
		{name: "missing iat", proof: m.sign(with("iat", nil), DPoPProofType), code: DPoPCodeInvalidProof},
		{name: "iat a string", proof: m.sign(with("iat", "1800000000"), DPoPProofType), code: DPoPCodeInvalidProof},
		{name: "jti too long", proof: m.sign(with("jti", strings.Repeat("j", 300)), DPoPProofType), code: DPoPCodeInvalidProof},
		{name: "wrong htm", proof: m.sign(with("htm", "POST"), DPoPProofType), code: DPoPCodeInvalidProof},
		{name: "htm in lower case", proof: m.sign(with("htm", "get"), DPoPProofType), code: DPoPCodeInvalidProof},
		{name: "wrong htu path", proof: m.sign(with("htu", "https://api.example.com/warehouse/orders"), DPoPProofType), code: DPoPCodeInvalidProof},
		{name: "wrong htu host", proof: m.sign(with("htu", "https://evil.example.com/warehouse/items"), DPoPProofType), code: DPoPCodeInvalidProof},
		{name: "wrong htu scheme", proof: m.sign(with("htu", "http://api.example.com/warehouse/items"), DPoPProofType), code: DPoPCodeInvalidProof},
		{name: "stale iat", proof: m.sign(with("iat", now.Add(-DefaultDPoPMaxAge-DefaultDPoPLeeway-time.Second).Unix()), DPoPProofType), code: DPoPCodeInvalidProof},
		{name: "iat in the future", proof: m.sign(with("iat", now.Add(DefaultDPoPLeeway+time.Second).Unix()), DPoPProofType), code: DPoPCodeInvalidProof},
		{name: "iat within the leeway", proof: m.sign(with("iat", now.Add(DefaultDPoPLeeway).Unix()), DPoPProofType)},
		{name: "missing ath", proof: m.sign(with("ath", nil), DPoPProofType), code: DPoPCodeInvalidProof},
		{name: "ath of another token", proof: m.sign(with("ath", AccessTokenHash("pca_other")), DPoPProofType), code: DPoPCodeInvalidProof},
		{name: "no access token, no ath needed", proof: m.sign(with("ath", nil), DPoPProofType),
			opts: func(o *DPoPOptions) { o.AccessToken = "" }},
		{name: "nonce required and missing", proof: m.sign(good(), DPoPProofType),
			opts: func(o *DPoPOptions) { o.Nonce = func(n string) error { return errors.New("stale") } }, code: DPoPCodeUseNonce},
		{name: "nonce required and current", proof: m.sign(with("nonce", "n-1"), DPoPProofType),
			opts: func(o *DPoPOptions) {
				o.Nonce = func(n string) error {
					if n != "n-1" {
						return errors.New("stale")
					}
					return nil
				}
			}},
	}
	// reasons are the refusals' DPoPReason where it is not DPoPMalformed.
	reasons := map[string]DPoPReason{
		"signed by another key":      DPoPBadSignature,
		"wrong htm":                  DPoPWrongMethod,
		"htm in lower case":          DPoPWrongMethod,
		"wrong htu path":             DPoPWrongURL,
		"wrong htu host":             DPoPWrongURL,
		"wrong htu scheme":           DPoPWrongURL,
		"stale iat":                  DPoPStale,
		"iat in the future":          DPoPStale,
		"missing ath":                DPoPWrongATH,
		"ath of another token":       DPoPWrongATH,
		"nonce required and missing": DPoPNonce,
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			if tc.opts != nil {
				tc.opts(&o)
			}
			p, err := VerifyDPoPProof(context.Background(), tc.proof, o)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("VerifyDPoPProof: %v", err)
				}
				if p.Thumbprint != m.thumbprint() {
					t.Errorf("thumbprint = %s, want %s", p.Thumbprint, m.thumbprint())
				}
				return
			}
			var de *DPoPError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want a *DPoPError %s", err, tc.code)
			}
			if de.Code != tc.code {
				t.Errorf("code = %s (%s), want %s", de.Code, de.Description, tc.code)
			}
			want, ok := reasons[tc.name]
			if !ok {
				want = DPoPMalformed
			}
			if de.Reason != want {
				t.Errorf("reason = %s (%s), want %s", de.Reason, de.Description, want)
			}
			if tc.proof != "" && strings.Contains(de.Error(), tc.proof) {
				t.Error("the error quotes the proof")
			}
		})
	}
}

func unsigned(header, claims map[string]any) string {
	hb, _ := json.Marshal(header)
	cb, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb) + "."
}

func TestVerifyDPoPProofReplay(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	m := newProofMaker(t)
	cache := newMemoryReplay(0, func() time.Time { return now })
	o := DPoPOptions{Method: "POST", URL: "https://as.example.com/token", Now: func() time.Time { return now }, Replay: cache}
	proof := m.sign(map[string]any{"jti": "once", "htm": "POST", "htu": "https://as.example.com/token", "iat": now.Unix()}, DPoPProofType)
	if _, err := VerifyDPoPProof(context.Background(), proof, o); err != nil {
		t.Fatalf("first use: %v", err)
	}
	_, err := VerifyDPoPProof(context.Background(), proof, o)
	var de *DPoPError
	if !errors.As(err, &de) || de.Code != DPoPCodeInvalidProof || de.Reason != DPoPReplayed {
		t.Fatalf("replay: err = %v, want invalid_dpop_proof, replayed", err)
	}
	// The same jti from another key is another proof.
	other := newProofMaker(t).sign(map[string]any{"jti": "once", "htm": "POST", "htu": "https://as.example.com/token", "iat": now.Unix()}, DPoPProofType)
	if _, err := VerifyDPoPProof(context.Background(), other, o); err != nil {
		t.Fatalf("same jti, other key: %v", err)
	}
	// A proof refused for another reason does not burn its jti.
	fresh := m.sign(map[string]any{"jti": "later", "htm": "POST", "htu": "https://as.example.com/token", "iat": now.Unix()}, DPoPProofType)
	bad := o
	bad.Method = "GET"
	if _, err := VerifyDPoPProof(context.Background(), fresh, bad); err == nil {
		t.Fatal("wrong method accepted")
	}
	if _, err := VerifyDPoPProof(context.Background(), fresh, o); err != nil {
		t.Fatalf("after a refusal for another reason: %v", err)
	}
	// A cache that cannot answer refuses the proof.
	broken := o
	broken.Replay = failingReplay{}
	third := m.sign(map[string]any{"jti": "third", "htm": "POST", "htu": "https://as.example.com/token", "iat": now.Unix()}, DPoPProofType)
	if _, err := VerifyDPoPProof(context.Background(), third, broken); err == nil {
		t.Fatal("a failing replay cache let the proof through")
	}
}

type failingReplay struct{}

func (failingReplay) Seen(context.Context, string, time.Time) (bool, error) {
	return false, errors.New("backend down")
}

func TestMemoryReplayCache(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := newMemoryReplay(replayShards, func() time.Time { return now }) // one entry per shard
	ctx := context.Background()
	if seen, err := c.Seen(ctx, "a", now.Add(time.Minute)); seen || err != nil {
		t.Fatalf("first Seen = %v, %v", seen, err)
	}
	if seen, _ := c.Seen(ctx, "a", now.Add(time.Minute)); !seen {
		t.Fatal("second Seen = false")
	}
	// Filling a's shard refuses rather than forgets.
	var full error
	for i := 0; i < 10*replayShards && full == nil; i++ {
		_, full = c.Seen(ctx, "k"+strings.Repeat("x", i), now.Add(time.Minute))
	}
	if !errors.Is(full, ErrReplayCacheFull) {
		t.Fatalf("full cache: err = %v", full)
	}
	// Once expired, entries are swept and a key may be recorded again.
	now = now.Add(2 * time.Minute)
	if seen, err := c.Seen(ctx, "a", now.Add(time.Minute)); seen || err != nil {
		t.Fatalf("after expiry Seen = %v, %v", seen, err)
	}
	if NewMemoryReplayCache(0) == nil {
		t.Fatal("NewMemoryReplayCache returned nil")
	}
}

func TestNormalizeHTU(t *testing.T) {
	cases := []struct{ in, want string }{
		{"https://as.example.com/token", "https://as.example.com/token"},
		{"HTTPS://AS.Example.COM/token", "https://as.example.com/token"},
		{"https://as.example.com:443/token", "https://as.example.com/token"},
		{"https://as.example.com:/token", "https://as.example.com/token"},
		{"http://as.example.com:80/token", "http://as.example.com/token"},
		{"http://127.0.0.1:8080/token?x=1#f", "http://127.0.0.1:8080/token"},
		{"https://as.example.com", "https://as.example.com/"},
		{"https://as.example.com/%7Euser/a%2fb", "https://as.example.com/~user/a%2Fb"},
		{"https://as.example.com/a/./b/../c", "https://as.example.com/a/c"},
		{"https://[::1]:8443/x", "https://[::1]:8443/x"},
		{"https://[::1]:443/x", "https://[::1]/x"},
	}
	for _, tc := range cases {
		got, err := NormalizeHTU(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("NormalizeHTU(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "/token", "ftp://as.example.com/", "https://user@as.example.com/", "mailto:a@b", "https://as.example.com/%zz", "https://as.example.com/%4"} {
		if got, err := NormalizeHTU(bad); err == nil {
			t.Errorf("NormalizeHTU(%q) = %q, want an error", bad, got)
		}
	}
}

func TestParseDPoPAuthorization(t *testing.T) {
	cases := []struct {
		in   string
		want string
		ok   bool
	}{
		{"DPoP abc.def-ghi_~+/==", "abc.def-ghi_~+/==", true},
		{"dpop   tok", "tok", true},
		{"Bearer tok", "", false},
		{"DPoP ", "", false},
		{"DPoP", "", false},
		{"DPoP a b", "", false},
		{"DPoP =abc", "", false},
		{"DPoPtok", "", false},
	}
	for _, tc := range cases {
		got, ok := ParseDPoPAuthorization(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseDPoPAuthorization(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzVerifyDPoPProof(f *testing.F) {
	f.Add(rfc9449Proof)
	f.Add("a.b.c")
	f.Add("")
	now := func() time.Time { return time.Unix(1562262616, 0) }
	f.Fuzz(func(t *testing.T, proof string) {
		p, err := VerifyDPoPProof(context.Background(), proof, DPoPOptions{
			Method: "POST", URL: "https://server.example.com/token", Now: now,
		})
		if err == nil && p.Thumbprint == "" {
			t.Fatal("accepted proof without a thumbprint")
		}
		var de *DPoPError
		if err != nil && !errors.As(err, &de) {
			t.Fatalf("error of type %T", err)
		}
	})
}
