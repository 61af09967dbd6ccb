package registry

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/store"
)

// testKeys are generated once: RSA generation is slow.
type testKeys struct {
	p256, p384, p521, p256b *ecdsa.PrivateKey
	rsa2048, rsa1024        *rsa.PrivateKey
	ed                      ed25519.PrivateKey
}

func newTestKeys(t *testing.T) testKeys {
	t.Helper()
	ec := func(c elliptic.Curve) *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	r := func(bits int) *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return testKeys{p256: ec(elliptic.P256()), p384: ec(elliptic.P384()), p521: ec(elliptic.P521()), p256b: ec(elliptic.P256()),
		rsa2048: r(2048), rsa1024: r(1024), ed: ed}
}

// jwk is the public half of priv as a JWK.
func jwk(priv crypto.Signer, kid, use, alg string) jose.JSONWebKey {
	return jose.JSONWebKey{Key: priv.Public(), KeyID: kid, Use: use, Algorithm: alg}
}

func keySet(t *testing.T, keys ...jose.JSONWebKey) []byte {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestClientJWKSAccepted(t *testing.T) {
	k := newTestKeys(t)
	tests := []struct {
		name string
		spec ClientSpec
	}{
		{"secret client with an encryption key", ClientSpec{JWKS: keySet(t, jwk(k.p256, "", "enc", "ECDH-ES+A256KW"))}},
		{"secret client with a signing key (signed requests)", ClientSpec{JWKS: keySet(t, jwk(k.p256, "", "sig", "ES256"))}},
		{"public client with an encryption key", ClientSpec{Public: true, GrantTypes: []string{GrantAuthorizationCode},
			RedirectURIs: []string{"https://app.example/cb"}, JWKS: keySet(t, jwk(k.p384, "enc-1", "enc", ""))}},
		{"P-521 and RSA encryption keys", ClientSpec{JWKS: keySet(t, jwk(k.p521, "ec", "enc", ""), jwk(k.rsa2048, "rsa", "enc", "RSA-OAEP-256"))}},
		{"private_key_jwt with sig and enc", ClientSpec{AuthMethod: store.AuthPrivateKeyJWT,
			JWKS: keySet(t, jwk(k.p256, "sig-1", "sig", "ES256"), jwk(k.p256b, "enc-1", "enc", "ECDH-ES+A256KW"))}},
		{"private_key_jwt with a key without use", ClientSpec{AuthMethod: store.AuthPrivateKeyJWT, JWKS: keySet(t, jwk(k.p256, "", "", "ES256"))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.ID = "c"
			c, err := NewClient(tt.spec, time.Now())
			if err != nil {
				t.Fatalf("NewClient: %v", err)
			}
			var got jose.JSONWebKeySet
			if err := json.Unmarshal(c.JWKS, &got); err != nil {
				t.Fatalf("stored JWKS %s: %v", c.JWKS, err)
			}
			var want jose.JSONWebKeySet
			_ = json.Unmarshal(tt.spec.JWKS, &want)
			if len(got.Keys) != len(want.Keys) {
				t.Fatalf("stored %d keys, want %d", len(got.Keys), len(want.Keys))
			}
			for i := range got.Keys {
				if got.Keys[i].Use != want.Keys[i].Use || got.Keys[i].KeyID != want.Keys[i].KeyID || !got.Keys[i].IsPublic() {
					t.Errorf("stored key %d = %+v, want %+v", i, got.Keys[i], want.Keys[i])
				}
			}
		})
	}
}

func TestClientJWKSRefused(t *testing.T) {
	k := newTestKeys(t)
	privateEnc := jose.JSONWebKey{Key: k.p256, KeyID: "e", Use: "enc"}
	tests := []struct {
		name   string
		spec   ClientSpec
		wantIn string
	}{
		{"private encryption key", ClientSpec{JWKS: keySet(t, privateEnc)}, "private"},
		{"symmetric encryption key", ClientSpec{JWKS: keySet(t, jose.JSONWebKey{Key: make([]byte, 32), Use: "enc"})}, "symmetric"},
		{"Ed25519 for encryption", ClientSpec{JWKS: keySet(t, jwk(k.ed, "", "enc", ""))}, "EC (P-256, P-384, P-521) or RSA"},
		{"small RSA for encryption", ClientSpec{JWKS: keySet(t, jwk(k.rsa1024, "", "enc", ""))}, "at least 2048 bits"},
		{"alg of another family", ClientSpec{JWKS: keySet(t, jwk(k.p256, "", "enc", "RSA-OAEP-256"))}, "does not fit"},
		{"signature alg on an enc key", ClientSpec{JWKS: keySet(t, jwk(k.p256, "", "enc", "ES256"))}, "does not fit"},
		{"unknown use", ClientSpec{JWKS: keySet(t, jwk(k.p256, "", "wrap", ""))}, "want sig or enc"},
		{"several keys without kid", ClientSpec{JWKS: keySet(t, jwk(k.p256, "s", "sig", ""), jwk(k.p256b, "", "enc", ""))}, "no kid"},
		{"repeated kid", ClientSpec{JWKS: keySet(t, jwk(k.p256, "k", "sig", ""), jwk(k.p256b, "k", "enc", ""))}, "repeats kid"},
		{"private_key_jwt with only an encryption key", ClientSpec{AuthMethod: store.AuthPrivateKeyJWT,
			JWKS: keySet(t, jwk(k.p256, "", "enc", ""))}, "use sig"},
		{"empty set for a secret client", ClientSpec{JWKS: []byte(`{"keys":[]}`)}, "no keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewClient(tt.spec, time.Now())
			var ice *InvalidClientError
			if !errors.As(err, &ice) || ice.Field != "jwks-file" {
				t.Fatalf("NewClient error = %v, want an *InvalidClientError for jwks-file", err)
			}
			if !strings.Contains(err.Error(), tt.wantIn) {
				t.Errorf("error = %q, want it to mention %q", err, tt.wantIn)
			}
		})
	}
}
