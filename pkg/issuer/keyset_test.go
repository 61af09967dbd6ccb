package issuer

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
)

// testKeys are one key of each kind a set may hold, and their public
// JWKs as an issuer publishes them.
type testKeys struct {
	ec, ec2, p384 *ecdsa.PrivateKey
	rs, small     *rsa.PrivateKey
	ed            ed25519.PrivateKey
}

func newTestKeys(t *testing.T) testKeys {
	t.Helper()
	var k testKeys
	var err error
	if k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if k.ec2, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if k.p384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if k.rs, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if k.small, err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
		t.Fatal(err)
	}
	if _, k.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	return k
}

// jwk marshals one key of a set.
func jwk(t *testing.T, k jose.JSONWebKey) json.RawMessage {
	t.Helper()
	b, err := k.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// jwkSet is a JWK Set document of keys.
func jwkSet(keys ...json.RawMessage) []byte {
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}

func TestParseKeySet(t *testing.T) {
	k := newTestKeys(t)
	ec := jwk(t, jose.JSONWebKey{Key: k.ec.Public(), KeyID: "ec", Use: "sig", Algorithm: "ES256"})
	ed := jwk(t, jose.JSONWebKey{Key: k.ed.Public(), KeyID: "ed"})
	rs := jwk(t, jose.JSONWebKey{Key: k.rs.Public(), KeyID: "rs", Use: "sig"})
	tests := []struct {
		name     string
		body     []byte
		wantKIDs []string
		wantErr  string
	}{
		{"public keys", jwkSet(ec, ed, rs), []string{"ec", "ed", "rs"}, ""},
		{"private rsa key refuses the set", jwkSet(ec, jwk(t, jose.JSONWebKey{Key: k.rs, KeyID: "priv"})), nil, "private key material"},
		{"private ec key refuses the set", jwkSet(jwk(t, jose.JSONWebKey{Key: k.ec, KeyID: "priv"})), nil, "private key material"},
		{"private ed25519 key refuses the set", jwkSet(jwk(t, jose.JSONWebKey{Key: k.ed, KeyID: "priv"})), nil, "private key material"},
		{"oct key skipped", jwkSet(json.RawMessage(`{"kty":"oct","k":"c2VjcmV0","kid":"hs"}`), ec), []string{"ec"}, ""},
		{"enc key skipped", jwkSet(jwk(t, jose.JSONWebKey{Key: k.rs.Public(), KeyID: "enc", Use: "enc"}), ec), []string{"ec"}, ""},
		{"encryption alg skipped", jwkSet(jwk(t, jose.JSONWebKey{Key: k.rs.Public(), KeyID: "oaep", Algorithm: "RSA-OAEP"}), ec), []string{"ec"}, ""},
		{"HS256 alg skipped", jwkSet(jwk(t, jose.JSONWebKey{Key: k.ec.Public(), KeyID: "x", Algorithm: "HS256"}), ec), []string{"ec"}, ""},
		{"small rsa skipped", jwkSet(jwk(t, jose.JSONWebKey{Key: k.small.Public(), KeyID: "small"}), ec), []string{"ec"}, ""},
		{"unknown kty skipped", jwkSet(json.RawMessage(`{"kty":"XYZ","kid":"x"}`), ec), []string{"ec"}, ""},
		{"broken key skipped", jwkSet(json.RawMessage(`{"kty":"EC","crv":"P-256","x":"AA","y":"AA","kid":"bad"}`), ec), []string{"ec"}, ""},
		{"only unusable keys", jwkSet(json.RawMessage(`{"kty":"oct","k":"c2VjcmV0"}`)), nil, "no usable"},
		{"empty set", []byte(`{"keys":[]}`), nil, "no usable"},
		{"no keys member", []byte(`{}`), nil, "no keys member"},
		{"not json", []byte(`[`), nil, "not a json object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseKeySet(tc.body)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseKeySet err = %v, want one containing %q", err, tc.wantErr)
				}
				if strings.Contains(tc.name, "private") && !errors.Is(err, ErrPrivateKey) {
					t.Errorf("ParseKeySet err = %v, want ErrPrivateKey", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseKeySet: %v", err)
			}
			var kids []string
			for _, k := range got.Keys() {
				if !k.IsPublic() {
					t.Errorf("key %q is not public", k.KeyID)
				}
				kids = append(kids, k.KeyID)
			}
			if diff := cmp.Diff(tc.wantKIDs, kids); diff != "" {
				t.Errorf("kids (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFingerprint: the same keys in another order are the same set; a
// new key is not.
func TestFingerprint(t *testing.T) {
	k := newTestKeys(t)
	a := jwk(t, jose.JSONWebKey{Key: k.ec.Public(), KeyID: "a"})
	b := jwk(t, jose.JSONWebKey{Key: k.ed.Public(), KeyID: "b"})
	c := jwk(t, jose.JSONWebKey{Key: k.ec2.Public(), KeyID: "a"})
	parse := func(body []byte) *KeySet {
		s, err := ParseKeySet(body)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ab, ba, cb := parse(jwkSet(a, b)), parse(jwkSet(b, a)), parse(jwkSet(c, b))
	if ab.Fingerprint() != ba.Fingerprint() {
		t.Error("the same keys in another order have another fingerprint")
	}
	if ab.Fingerprint() == cb.Fingerprint() {
		t.Error("a new key under the same kid has the same fingerprint")
	}
	if (*KeySet)(nil).Fingerprint() != [32]byte{} || (*KeySet)(nil).Keys() != nil {
		t.Error("a nil set is not empty")
	}
}

func TestKeyLookup(t *testing.T) {
	k := newTestKeys(t)
	set, err := ParseKeySet(jwkSet(
		jwk(t, jose.JSONWebKey{Key: k.ec.Public(), KeyID: "k1", Algorithm: "ES256"}),
		jwk(t, jose.JSONWebKey{Key: k.ec2.Public()}),
		jwk(t, jose.JSONWebKey{Key: k.ed.Public(), KeyID: "ed"}),
		jwk(t, jose.JSONWebKey{Key: k.rs.Public(), KeyID: "rs", Use: "sig"}),
	))
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
		got, refetch, err := set.Lookup(tc.kid, tc.alg)
		if (got != nil) != tc.found || refetch != tc.refetch || !errors.Is(err, tc.want) {
			t.Errorf("Lookup(%q, %q) = %v, %v, %v; want found %v, refetch %v, %v", tc.kid, tc.alg, got != nil, refetch, err, tc.found, tc.refetch, tc.want)
		}
	}
	if _, refetch, err := (*KeySet)(nil).Lookup("k1", "ES256"); !refetch || !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Lookup in no set: %v, %v", refetch, err)
	}
}

func TestKeyFits(t *testing.T) {
	k := newTestKeys(t)
	tests := []struct {
		name string
		key  jose.JSONWebKey
		alg  string
		want bool
	}{
		{"P-256 for ES256", jose.JSONWebKey{Key: k.ec.Public()}, "ES256", true},
		{"P-384 for ES384", jose.JSONWebKey{Key: k.p384.Public()}, "ES384", true},
		{"P-384 for ES256", jose.JSONWebKey{Key: k.p384.Public()}, "ES256", false},
		{"P-384 declared ES512", jose.JSONWebKey{Key: k.p384.Public(), Algorithm: "ES512"}, "ES384", false},
		{"RSA for RS256", jose.JSONWebKey{Key: k.rs.Public()}, "RS256", true},
		{"RSA for PS512", jose.JSONWebKey{Key: k.rs.Public()}, "PS512", true},
		{"RSA for ES256", jose.JSONWebKey{Key: k.rs.Public()}, "ES256", false},
		{"Ed25519 for EdDSA", jose.JSONWebKey{Key: k.ed.Public()}, "EdDSA", true},
		{"Ed25519 for ES256", jose.JSONWebKey{Key: k.ed.Public()}, "ES256", false},
		{"symmetric key", jose.JSONWebKey{Key: []byte("secret")}, "HS256", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := KeyFits(&tc.key, tc.alg); got != tc.want {
				t.Errorf("KeyFits = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSignatureAlgorithm(t *testing.T) {
	for _, alg := range []string{"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"} {
		if !SignatureAlgorithm(alg) {
			t.Errorf("SignatureAlgorithm(%q) = false", alg)
		}
	}
	for _, alg := range []string{"none", "HS256", "HS512", "RSA-OAEP", "", "es256"} {
		if SignatureAlgorithm(alg) {
			t.Errorf("SignatureAlgorithm(%q) = true", alg)
		}
	}
}
