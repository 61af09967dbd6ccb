package httpsig

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// rfcJWKS is the JWK Set of RFC 9421 Appendix B.1's test keys, as a
// client would register them: the RSA-PSS key, the P-256 key, the
// Ed25519 key, and the HMAC secret (which must never be used here).
func rfcJWKS(t testing.TB) *jose.JSONWebKeySet {
	t.Helper()
	doc := `{"keys":[
		{"kty":"RSA","kid":"test-key-rsa-pss","alg":"PS512","n":"` + rsaPSSN + `","e":"AQAB"},
		{"kty":"EC","crv":"P-256","kid":"test-key-ecc-p256","x":"` + p256X + `","y":"` + p256Y + `"},
		{"kty":"OKP","crv":"Ed25519","kid":"test-key-ed25519","x":"` + ed25519X + `"},
		{"kty":"oct","kid":"test-shared-secret","k":"` + base64.RawURLEncoding.EncodeToString(b64(t, hmacKey)) + `"}
	]}`
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(doc), &set); err != nil {
		t.Fatal(err)
	}
	return &set
}

// rfcContent is the content of the test-request of RFC 9421 Appendix
// B.2, which its Content-Digest (sha-512) is of.
const rfcContent = `{"hello": "world"}`

// TestRFC9421RequestVectors verifies the RFC's own request signatures
// (B.2.1 to B.2.3 with rsa-pss-sha512, B.2.6 with ed25519) as the
// gateway does: fields parsed under a policy, the key found by keyid in
// the client's JWK Set, the base rebuilt from the request, the RFC's
// signature bytes verified over it, the content checked against its
// digest. B.2.5 (hmac-sha256) has no usable key.
func TestRFC9421RequestVectors(t *testing.T) {
	set := rfcJWKS(t)
	now := time.Unix(created, 0).Add(10 * time.Second)
	for _, v := range vectors(t) {
		if v.msg().Status != 0 {
			continue // a response
		}
		t.Run(v.name, func(t *testing.T) {
			h := testRequest().Header.Clone()
			h.Set("Signature-Input", v.input)
			h.Set("Signature", v.label+"=:"+v.sig+":")
			p := &RequestPolicy{Label: v.label}
			covers := strings.Contains(v.input, `"content-digest"`)
			s, err := p.ParseRequest(h, covers, now)
			if err != nil {
				t.Fatalf("ParseRequest: %v", err)
			}
			pub, err := KeyFromJWKS(set, s.KeyID(), s.Input.Params.Alg)
			if v.label == "sig-b25" {
				if !errors.Is(err, ErrUnknownKey) {
					t.Fatalf("the HMAC secret was found as a key: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("KeyFromJWKS: %v", err)
			}
			r := testRequest()
			r.Header = h
			if err := s.Verify(r, pub); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if s.CoversDigest() != covers {
				t.Errorf("CoversDigest = %v, want %v", s.CoversDigest(), covers)
			}
			if covers {
				if err := CheckContentDigest(h.Values("Content-Digest"), []byte(rfcContent)); err != nil {
					t.Errorf("CheckContentDigest: %v", err)
				}
			}
			// One byte of the request changed: the RFC's signature no
			// longer verifies.
			r.Method, r.TargetURI = "PUT", "https://example.com/foo?param=Value&Pet=cat"
			r.Header = h.Clone()
			r.Header.Set("Date", "Tue, 20 Apr 2021 02:07:56 GMT")
			r.Header.Set("Content-Digest", "sha-512=:AAAA:")
			if len(s.Input.Components) > 0 && s.Verify(r, pub) == nil {
				t.Error("the signature verifies over a changed request")
			}
		})
	}

	// RFC 9421 has no ecdsa-p256-sha256 request example (B.2.4 is a
	// response) and ECDSA signatures are randomized: B.2.6's request is
	// signed here with the RFC's P-256 key and found through its JWK.
	r := testRequest()
	in := &Input{Components: comps(t, "date", "@method", "@path", "@authority", "content-type", "content-length"),
		Params: Params{Created: time.Unix(created, 0)}}
	input, sig, err := Sign(&Message{Header: r.Header, Request: r}, in, "sig-ecc", mustKey(t, "test-key-ecc-p256", ECDSAP256SHA256, testP256(t)))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Signature-Input", input)
	r.Header.Set("Signature", sig)
	s, err := (&RequestPolicy{}).ParseRequest(r.Header, false, now)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := KeyFromJWKS(set, s.KeyID(), s.Input.Params.Alg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(r, pub); err != nil {
		t.Errorf("ecdsa-p256-sha256 with the RFC's key: %v", err)
	}

	// The gateway's default policy refuses them: none covers the
	// method, the target URI and the token together, and B.2.6 leaves
	// the content unsigned.
	h := testRequest().Header.Clone()
	h.Set("Signature-Input", `sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"`)
	h.Set("Signature", "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:")
	if _, err := (&RequestPolicy{}).ParseRequest(h, true, now); !errors.Is(err, ErrUncovered) {
		t.Errorf("B.2.6 with content: %v, want ErrUncovered (content-digest)", err)
	}
	def := &RequestPolicy{Required: comps(t, "@method", "@target-uri", "authorization")}
	if _, err := def.ParseRequest(h, false, now); !errors.Is(err, ErrUncovered) {
		t.Errorf("B.2.6 under the default components: %v, want ErrUncovered", err)
	}
}

// testKeys are one key of each algorithm, made once (RSA is slow).
var testKeys = sync.OnceValues(func() (map[string]crypto.Signer, error) {
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return map[string]crypto.Signer{Ed25519: ed, ECDSAP256SHA256: ec, RSAPSSSHA512: rk}, nil
})

func testKey(t testing.TB, alg string) *Key {
	t.Helper()
	ks, err := testKeys()
	if err != nil {
		t.Fatal(err)
	}
	return mustKey(t, "client-"+alg, alg, ks[alg])
}

// signedRequest is a POST signed the way a client of the gateway signs:
// method, target URI, token and content digest.
func signedRequest(t testing.TB, k *Key, at time.Time, edit func(*Input)) (*Request, []byte) {
	t.Helper()
	content := []byte(`{"item":"hammer","qty":2}`)
	r := &Request{
		Method:    "POST",
		TargetURI: "https://gw.example/warehouse/orders?dry_run=1",
		Header: http.Header{
			"Authorization":  {"Bearer pca_abc"},
			"Content-Type":   {"application/json"},
			"Content-Digest": {ContentDigest(content)},
		},
	}
	in := &Input{
		Components: comps(t, "@method", "@target-uri", "authorization", "content-digest"),
		Params:     Params{Created: at},
	}
	if edit != nil {
		edit(in)
	}
	input, sig, err := Sign(&Message{Header: r.Header, Request: r}, in, "sig1", k)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Signature-Input", input)
	r.Header.Set("Signature", sig)
	return r, content
}

// verifyRequest runs every phase the gateway runs.
func verifyRequest(p *RequestPolicy, r *Request, content []byte, now time.Time, pub crypto.PublicKey) error {
	s, err := p.ParseRequest(r.Header, len(content) > 0, now)
	if err != nil {
		return err
	}
	if err := s.Verify(r, pub); err != nil {
		return err
	}
	if s.CoversDigest() {
		return CheckContentDigest(r.Header.Values("Content-Digest"), content)
	}
	return nil
}

func TestVerifyRequest(t *testing.T) {
	at := time.Unix(1_700_000_000, 0)
	policy := &RequestPolicy{Required: comps(t, "@method", "@target-uri", "authorization", "content-digest")}
	for _, alg := range RequestAlgorithms() {
		t.Run(alg, func(t *testing.T) {
			k := testKey(t, alg)
			r, content := signedRequest(t, k, at, nil)
			if err := verifyRequest(policy, r, content, at.Add(30*time.Second), k.Public()); err != nil {
				t.Fatalf("a good request: %v", err)
			}
		})
	}

	other := testKey(t, ECDSAP256SHA256)
	k := testKey(t, Ed25519)
	tests := []struct {
		name   string
		edit   func(*Input)
		tamper func(r *Request, content []byte) []byte
		policy *RequestPolicy
		now    time.Time
		pub    crypto.PublicKey
		want   error
	}{
		{name: "method changed", tamper: func(r *Request, c []byte) []byte { r.Method = "PUT"; return c }, want: ErrSignature},
		{name: "path changed", tamper: func(r *Request, c []byte) []byte {
			r.TargetURI = "https://gw.example/warehouse/admin?dry_run=1"
			return c
		}, want: ErrSignature},
		{name: "query changed", tamper: func(r *Request, c []byte) []byte {
			r.TargetURI = "https://gw.example/warehouse/orders?dry_run=0"
			return c
		}, want: ErrSignature},
		{name: "host changed", tamper: func(r *Request, c []byte) []byte {
			r.TargetURI = "https://other.example/warehouse/orders?dry_run=1"
			return c
		}, want: ErrSignature},
		{name: "token swapped", tamper: func(r *Request, c []byte) []byte {
			r.Header.Set("Authorization", "Bearer pca_stolen")
			return c
		}, want: ErrSignature},
		{name: "body changed", tamper: func(r *Request, c []byte) []byte { return []byte(`{"item":"hammer","qty":200}`) }, want: ErrDigest},
		{name: "body and digest changed", tamper: func(r *Request, c []byte) []byte {
			b := []byte(`{"item":"hammer","qty":200}`)
			r.Header.Set("Content-Digest", ContentDigest(b))
			return b
		}, want: ErrSignature},
		{name: "expired", now: at.Add(61 * time.Second), want: ErrExpired},
		{name: "shorter max age", policy: &RequestPolicy{MaxAge: 10 * time.Second}, now: at.Add(11 * time.Second), want: ErrExpired},
		{name: "past expires", edit: func(in *Input) { in.Params.Expires = at.Add(5 * time.Second) }, now: at.Add(6 * time.Second), want: ErrExpired},
		{name: "created in the future", now: at.Add(-6 * time.Second), want: ErrNotYetValid},
		{name: "wider clock skew", policy: &RequestPolicy{ClockSkew: 10 * time.Second}, now: at.Add(-6 * time.Second)},
		{name: "wrong key", pub: other.Public(), want: ErrAlgorithm},
		{name: "another ed25519 key", pub: func() crypto.PublicKey { p, _, _ := ed25519.GenerateKey(rand.Reader); return p }(), want: ErrSignature},
		{name: "alg names another algorithm", tamper: func(r *Request, c []byte) []byte {
			r.Header.Set("Signature-Input", strings.Replace(r.Header.Get("Signature-Input"), `alg="ed25519"`, `alg="ecdsa-p256-sha256"`, 1))
			return c
		}, want: ErrAlgorithm},
		{name: "missing component", edit: func(in *Input) { in.Components = comps(t, "@method", "@target-uri", "content-digest") }, want: ErrUncovered},
		{name: "content not covered", edit: func(in *Input) { in.Components = comps(t, "@method", "@target-uri", "authorization") },
			policy: &RequestPolicy{}, want: ErrUncovered},
		{name: "no created", edit: func(in *Input) { in.Params.Created = time.Time{} }, want: ErrSignatureFields},
		{name: "unsigned", tamper: func(r *Request, c []byte) []byte {
			r.Header.Del("Signature")
			r.Header.Del("Signature-Input")
			return c
		}, want: ErrNotSigned},
		{name: "signature without input", tamper: func(r *Request, c []byte) []byte { r.Header.Del("Signature-Input"); return c }, want: ErrSignatureFields},
		{name: "other label asked", policy: &RequestPolicy{Label: "other"}, want: ErrSignatureFields},
		{name: "two signatures, no label", tamper: func(r *Request, c []byte) []byte {
			r.Header.Add("Signature-Input", `sig2=();created=1700000000;keyid="x"`)
			r.Header.Add("Signature", `sig2=:AAAA:`)
			return c
		}, want: ErrSignatureFields},
		{name: "two signatures, labelled", policy: &RequestPolicy{Label: "sig1"}, tamper: func(r *Request, c []byte) []byte {
			r.Header.Add("Signature-Input", `sig2=();created=1700000000;keyid="x"`)
			r.Header.Add("Signature", `sig2=:AAAA:`)
			return c
		}},
		{name: "forged signature bytes", tamper: func(r *Request, c []byte) []byte {
			r.Header.Set("Signature", "sig1=:"+base64.StdEncoding.EncodeToString(make([]byte, ed25519.SignatureSize))+":")
			return c
		}, want: ErrSignature},
		{name: "short signature", tamper: func(r *Request, c []byte) []byte {
			r.Header.Set("Signature", "sig1=:AAAA:")
			return c
		}, want: ErrSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, content := signedRequest(t, k, at, tt.edit)
			if tt.tamper != nil {
				content = tt.tamper(r, content)
			}
			p := policy
			if tt.policy != nil {
				p = tt.policy
			}
			now := tt.now
			if now.IsZero() {
				now = at.Add(time.Second)
			}
			pub := tt.pub
			if pub == nil {
				pub = k.Public()
			}
			err := verifyRequest(p, r, content, now, pub)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParseRequestRefuses(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for name, input := range map[string]string{
		"hmac":              `s=("@method");created=1700000000;keyid="k";alg="hmac-sha256"`,
		"unknown alg":       `s=("@method");created=1700000000;keyid="k";alg="rsa-v1_5-sha256"`,
		"no keyid":          `s=("@method");created=1700000000`,
		"req component":     `s=("@method";req);created=1700000000;keyid="k"`,
		"status":            `s=("@status");created=1700000000;keyid="k"`,
		"unknown parameter": `s=("@method");created=1700000000;keyid="k";foo=1`,
	} {
		h := http.Header{"Signature-Input": {input}, "Signature": {"s=:AAAA:"}}
		if _, err := (&RequestPolicy{}).ParseRequest(h, false, now); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestKeyFromJWKS(t *testing.T) {
	ed := testKey(t, Ed25519)
	ec := testKey(t, ECDSAP256SHA256)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	ks, _ := testKeys()
	set := &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: ec.Public(), KeyID: "shared", Use: "enc"},
		{Key: ed.Public(), KeyID: "shared", Use: "sig"},
		{Key: ec.Public(), KeyID: "ec", Algorithm: "ES256"},
		{Key: ec.Public(), KeyID: "ec-ecdh", Algorithm: "ECDH-ES"},
		{Key: ks[RSAPSSSHA512].Public(), KeyID: "rsa-rs256", Algorithm: "RS256"},
		{Key: ks[RSAPSSSHA512].Public(), KeyID: "rsa", Algorithm: "PS512", Use: "sig"},
		{Key: &p384.PublicKey, KeyID: "p384"},
		{Key: &small.PublicKey, KeyID: "rsa-1024"},
		{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "oct"},
		{Key: ks[Ed25519], KeyID: "private"},
		{Key: ed.Public(), KeyID: "twice"},
		{Key: ec.Public(), KeyID: "twice"},
		{Key: ed.Public(), KeyID: "dup"},
		{Key: ed.Public(), KeyID: "dup"},
	}}
	tests := []struct {
		kid, alg string
		want     crypto.PublicKey
	}{
		{"shared", "", ed.Public()},
		{"ec", "", ec.Public()},
		{"ec", ECDSAP256SHA256, ec.Public()},
		{"ec", Ed25519, nil},
		{"ec-ecdh", "", nil},
		{"rsa-rs256", "", nil},
		{"rsa", "", ks[RSAPSSSHA512].Public()},
		{"p384", "", nil},
		{"rsa-1024", "", nil},
		{"oct", "", nil},
		{"private", "", ed.Public()},
		{"twice", "", nil},
		{"twice", ECDSAP256SHA256, ec.Public()},
		{"dup", "", ed.Public()},
		{"absent", "", nil},
	}
	for _, tt := range tests {
		got, err := KeyFromJWKS(set, tt.kid, tt.alg)
		switch {
		case tt.want == nil && !errors.Is(err, ErrUnknownKey):
			t.Errorf("KeyFromJWKS(%q, %q) = %v, %v; want ErrUnknownKey", tt.kid, tt.alg, got, err)
		case tt.want != nil && (err != nil || !samePublic(tt.want, got)):
			t.Errorf("KeyFromJWKS(%q, %q) = %v, %v; want the key", tt.kid, tt.alg, got, err)
		}
	}
	if _, err := KeyFromJWKS(nil, "x", ""); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("nil set: %v", err)
	}
}

func TestRSAPSSKey(t *testing.T) {
	k := testKey(t, RSAPSSSHA512)
	sig, err := k.Sign([]byte("base"))
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(RSAPSSSHA512, k.Public(), []byte("base"), sig); err != nil {
		t.Errorf("own signature: %v", err)
	}
	if err := Verify(RSAPSSSHA512, k.Public(), []byte("basf"), sig); err == nil {
		t.Error("a signature over another base verified")
	}
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	if _, err := NewKey("k", RSAPSSSHA512, small); err == nil {
		t.Error("a 1024-bit RSA key was accepted")
	}
}

func TestAcceptSignature(t *testing.T) {
	got, err := AcceptSignature("sig", comps(t, "@method", "@target-uri", "authorization", "content-digest", `@query-param;name="id"`))
	if err != nil {
		t.Fatal(err)
	}
	// The shape of RFC 9421 §5.1's example.
	if want := `sig=("@method" "@target-uri" "authorization" "content-digest" "@query-param";name="id");created`; got != want {
		t.Errorf("AcceptSignature:\n got %s\nwant %s", got, want)
	}
	if _, err := AcceptSignature("Bad Label", nil); err == nil {
		t.Error("a bad label was accepted")
	}
}
