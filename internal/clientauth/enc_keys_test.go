package clientauth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/store"
)

// TestAssertionIgnoresEncryptionKeys: a client that registered a key of
// use enc (for response fields encrypted to it) cannot sign assertions
// with it, whether the assertion names the key or not.
func TestAssertionIgnoresEncryptionKeys(t *testing.T) {
	k := getKeys()
	encKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	const id = "enc-jwt-client"
	client := store.Client{ID: id, AuthMethod: store.AuthPrivateKeyJWT, JWKS: jwks(t,
		jose.JSONWebKey{Key: k.es256.Public(), KeyID: "k-sig", Use: "sig"},
		jose.JSONWebKey{Key: encKey.Public(), KeyID: "k-enc", Use: "enc", Algorithm: string(jose.ECDH_ES_A256KW)},
		jose.JSONWebKey{Key: encKey.Public(), KeyID: "k-enc-noalg", Use: "enc"},
	)}
	claims := assertionClaims(func(c map[string]any) { c["iss"], c["sub"] = id, id })
	tests := []struct {
		name   string
		signer *ecdsa.PrivateKey
		kid    string
		wantOK bool
	}{
		{"signing key", k.es256, "k-sig", true},
		{"signing key without kid", k.es256, "", true},
		{"encryption key named by kid", encKey, "k-enc", false},
		{"encryption key without alg named by kid", encKey, "k-enc-noalg", false},
		{"encryption key without kid", encKey, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAuthenticator(newMemStore(client))
			assertion := signAssertion(t, tt.signer, jose.ES256, tt.kid, claims)
			got, err := a.Authenticate(t.Context(), newRequest(t, nil, assertionForm(assertion), ""))
			if tt.wantOK && (err != nil || got.ID != id) {
				t.Fatalf("Authenticate = %q, %v; want client %s", got.ID, err, id)
			}
			if !tt.wantOK && err == nil {
				t.Fatalf("Authenticate accepted an assertion signed with an encryption key (client %q)", got.ID)
			}
		})
	}
}
