package token

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
)

func TestNewOpaque(t *testing.T) {
	a, err := NewOpaque(PrefixAccess)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewOpaque(PrefixAccess)
	if a == b || !strings.HasPrefix(a, PrefixAccess) || len(a) != len(PrefixAccess)+43 {
		t.Errorf("tokens %q %q: want distinct, prefixed, 256 bits", a, b)
	}
	if LooksLikeJWT(a) {
		t.Error("an opaque token looks like a JWT")
	}
}

func TestSplitJoin(t *testing.T) {
	tests := []struct {
		in      string
		hp, sig string
		wantErr bool
	}{
		{in: "aaa.bbb.ccc", hp: "aaa.bbb", sig: "ccc"},
		{in: "aaa.bbb.", wantErr: true},
		{in: "aaa.bbb", wantErr: true},
		{in: ".bbb.ccc", hp: ".bbb", sig: "ccc"},
		{in: "a.b.c.d", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			hp, sig, err := Split(tc.in)
			if tc.wantErr {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("Split(%q) err = %v, want ErrMalformed", tc.in, err)
				}
				return
			}
			if err != nil || hp != tc.hp || sig != tc.sig {
				t.Fatalf("Split(%q) = %q, %q, %v", tc.in, hp, sig, err)
			}
			if got := Join(hp, sig); got != tc.in {
				t.Errorf("Join = %q, want %q", got, tc.in)
			}
		})
	}
}

func TestAccessClaimsMap(t *testing.T) {
	c := AccessClaims{
		Issuer: "https://as", Subject: "u1", Audience: []string{"https://api"},
		ExpiresAt: 200, IssuedAt: 100, JTI: "j", ClientID: "c", Scope: "a b",
		Extra: map[string]any{"roles": []string{"r"}, "iss": "forged", "office": "head"},
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	_ = json.Unmarshal(b, &got)
	want := map[string]any{
		"iss": "https://as", "sub": "u1", "aud": "https://api", "exp": 200.0, "iat": 100.0, "nbf": 100.0,
		"jti": "j", "client_id": "c", "scope": "a b", "roles": []any{"r"}, "office": "head",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
}

func signer(t testing.TB, key any, alg jose.SignatureAlgorithm, typ string) jose.Signer {
	opts := (&jose.SignerOptions{}).WithHeader("kid", "k1")
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerifyJWS(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	set := &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "ES256"}}}
	algs := []jose.SignatureAlgorithm{jose.ES256}
	sign := func(k any, typ string) string {
		o, err := signer(t, k, jose.ES256, typ).Sign([]byte(`{"sub":"x"}`))
		if err != nil {
			t.Fatal(err)
		}
		s, _ := o.CompactSerialize()
		return s
	}
	good := sign(key, "at+jwt")
	tests := []struct {
		name    string
		raw     string
		typ     string
		wantErr error
	}{
		{"valid", good, "at+jwt", nil},
		{"typ with application prefix", sign(key, "application/at+jwt"), "at+jwt", nil},
		{"wrong typ", sign(key, "JWT"), "at+jwt", ErrMalformed},
		{"other key", sign(other, "at+jwt"), "at+jwt", ErrSignature},
		{"alg none", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "", ErrMalformed},
		{"tampered", good[:len(good)-4] + "AAAA", "at+jwt", ErrSignature},
		{"truncated", good[:20], "", ErrMalformed},
		{"too long", strings.Repeat("a", MaxLength+1), "", ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := VerifyJWS(tc.raw, set, algs, tc.typ)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// TestVerifyJWSCompactOnly: access tokens are compact JWS (RFC 9068
// §2.1). A JSON serialization carrying a valid signature is refused, and
// so is one that puts typ or kid in an unprotected header, which no
// signature covers (RFC 8725 §3.1).
func TestVerifyJWSCompactOnly(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	set := &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "ES256"}}}
	algs := []jose.SignatureAlgorithm{jose.ES256}
	signed := func(s jose.Signer) *jose.JSONWebSignature {
		o, err := s.Sign([]byte(`{"sub":"x"}`))
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	full := signed(signer(t, key, jose.ES256, "at+jwt")).FullSerialize()
	// Signed with neither typ nor kid protected; both added unprotected.
	bare, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	compact, err := signed(bare).CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(compact, ".")
	unprotected, _ := json.Marshal(map[string]any{
		"protected": parts[0], "payload": parts[1], "signature": parts[2],
		"header": map[string]string{"typ": "at+jwt", "kid": "k1"},
	})
	if _, err := VerifyJWS(compact, set, algs, ""); err != nil {
		t.Fatalf("control: compact token without typ: %v", err)
	}
	for name, raw := range map[string]string{
		"json serialization":      full,
		"typ and kid unprotected": string(unprotected),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := VerifyJWS(raw, set, algs, "at+jwt"); !errors.Is(err, ErrMalformed) {
				t.Errorf("VerifyJWS() = %v, want ErrMalformed", err)
			}
		})
	}
}

func FuzzSplit(f *testing.F) {
	for _, s := range []string{"a.b.c", "", "..", "a.b.", "eyJ.eyJ.sig"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		hp, sig, err := Split(s)
		if err != nil {
			return
		}
		if Join(hp, sig) != s || strings.Contains(sig, ".") {
			t.Fatalf("Split(%q) = %q, %q does not round-trip", s, hp, sig)
		}
		_ = LooksLikeJWT(s)
	})
}

func FuzzVerifyJWS(f *testing.F) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	set := &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1"}}}
	o, _ := signer(f, key, jose.ES256, "at+jwt").Sign([]byte(`{"sub":"x"}`))
	good, _ := o.CompactSerialize()
	for _, s := range []string{good, "eyJhbGciOiJub25lIn0.e30.", "a.b.c", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		payload, err := VerifyJWS(s, set, []jose.SignatureAlgorithm{jose.ES256}, "at+jwt")
		if err == nil && s != good && string(payload) != `{"sub":"x"}` {
			t.Fatalf("forged token verified: %q", s)
		}
	})
}
