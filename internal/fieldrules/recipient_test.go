package fieldrules

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

	"github.com/go-jose/go-jose/v4"
)

// clientSpec encrypts ssn to the calling client and, for receptionists,
// removes the diagnosis.
func clientSpec() Spec {
	return Spec{Fields: []FieldSpec{
		{Select: "$.patients[*].diagnosis", Action: ActionRemove, When: `has(claims.roles) && "receptionist" in claims.roles`},
		{Select: "$.patients[*].ssn", Action: ActionEncrypt, Recipient: RecipientClient, Unless: `has(claims.internal) && claims.internal`},
	}}
}

func ecKey(t *testing.T, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// publicSet is the key set a client registers: the public halves only.
func publicSet(keys ...jose.JSONWebKey) *jose.JSONWebKeySet {
	set := &jose.JSONWebKeySet{}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.Public())
	}
	return set
}

// openWith decrypts a field as a client would, with go-jose alone, and
// returns the plaintext and the protected header.
func openWith(t *testing.T, v any, alg jose.KeyAlgorithm, priv crypto.PrivateKey) (string, jose.Header) {
	t.Helper()
	s, ok := v.(string)
	if !ok {
		t.Fatalf("encrypted field is %T (%v), want a JWE string", v, v)
	}
	if n := strings.Count(s, "."); n != 4 {
		t.Fatalf("field has %d dots, want a JWE compact (4)", n)
	}
	obj, err := jose.ParseEncryptedCompact(s, []jose.KeyAlgorithm{alg}, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		t.Fatalf("ParseEncryptedCompact: %v", err)
	}
	plain, err := obj.Decrypt(priv)
	if err != nil {
		t.Fatalf("Decrypt: %v", err)
	}
	return string(plain), obj.Header
}

func TestApplyToClient(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		priv crypto.Signer
		alg  jose.KeyAlgorithm
	}{
		{"P-256", ecKey(t, elliptic.P256()), jose.ECDH_ES_A256KW},
		{"P-384", ecKey(t, elliptic.P384()), jose.ECDH_ES_A256KW},
		{"P-521", ecKey(t, elliptic.P521()), jose.ECDH_ES_A256KW},
		{"RSA", rsaKey, jose.RSA_OAEP_256},
	}
	r := mustCompile(t, clientSpec())
	claims := map[string]any{"sub": "dr-lee", "roles": []any{"receptionist"}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := publicSet(
				jose.JSONWebKey{Key: ecKey(t, elliptic.P256()), KeyID: "sig-1", Use: "sig", Algorithm: "ES256"},
				jose.JSONWebKey{Key: tt.priv, KeyID: "enc-2026", Use: "enc"},
			)
			key, err := NewClientKey(set)
			if err != nil {
				t.Fatalf("NewClientKey: %v", err)
			}
			if key.KeyID() != "enc-2026" {
				t.Errorf("KeyID = %q, want enc-2026", key.KeyID())
			}
			out, n, err := r.Apply([]byte(patients), claims, key)
			if err != nil {
				t.Fatal(err)
			}
			if want := (Counts{Removed: 3, Encrypted: 3}); n != want {
				t.Errorf("counts = %+v, want %+v", n, want)
			}
			ps := decodeDoc(t, out)["patients"].([]any)
			plain, h := openWith(t, ps[1].(map[string]any)["ssn"], tt.alg, tt.priv)
			if plain != `"222-22-2222"` {
				t.Errorf("plaintext = %s, want \"222-22-2222\"", plain)
			}
			if h.KeyID != "enc-2026" || h.Algorithm != string(tt.alg) || h.ExtraHeaders["enc"] != string(jose.A256GCM) || h.ExtraHeaders["cty"] != "json" {
				t.Errorf("protected header = kid %q alg %q extra %v; want kid enc-2026, alg %s, enc A256GCM, cty json",
					h.KeyID, h.Algorithm, h.ExtraHeaders, tt.alg)
			}
			// The client's signing key opens nothing.
			other := ecKey(t, elliptic.P256())
			obj, _ := jose.ParseEncryptedCompact(ps[0].(map[string]any)["ssn"].(string), []jose.KeyAlgorithm{tt.alg}, []jose.ContentEncryption{jose.A256GCM})
			if _, err := obj.Decrypt(other); err == nil {
				t.Error("a field decrypts with another key")
			}
		})
	}
}

func TestApplyToClientWithoutKey(t *testing.T) {
	r := mustCompile(t, clientSpec())
	out, n, err := r.Apply([]byte(patients), map[string]any{"sub": "x"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Counts{NoKey: 3}); n != want {
		t.Errorf("counts = %+v, want %+v", n, want)
	}
	if strings.Contains(string(out), "ssn") || strings.Contains(string(out), "111-11") {
		t.Errorf("a field for a client without a key left in: %s", out)
	}
	// An exempt caller needs no key and loses nothing.
	out, n, err = r.Apply([]byte(patients), map[string]any{"internal": true}, nil)
	if err != nil || n != (Counts{}) || string(out) != patients {
		t.Errorf("exempt caller: %+v %v, body changed: %v", n, err, string(out) != patients)
	}
}

func TestNeedsClientKey(t *testing.T) {
	r := mustCompile(t, clientSpec())
	if !r.EncryptsToClient() {
		t.Error("EncryptsToClient = false for a rule to the client")
	}
	for _, tt := range []struct {
		name   string
		claims map[string]any
		want   bool
	}{
		{"caller", map[string]any{"sub": "a"}, true},
		{"no claims", nil, true},
		{"exempt", map[string]any{"internal": true}, false},
	} {
		if got := r.NeedsClientKey(tt.claims); got != tt.want {
			t.Errorf("%s: NeedsClientKey = %v, want %v", tt.name, got, tt.want)
		}
	}
	api := mustCompile(t, clinicSpec())
	if api.EncryptsToClient() || api.NeedsClientKey(nil) {
		t.Error("rules to the API ask for a client key")
	}
}

func TestNewClientKeyChoosesAnEncryptionKey(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p256 := ecKey(t, elliptic.P256())
	skipped := []jose.JSONWebKey{
		{Key: ecKey(t, elliptic.P256()), KeyID: "sig", Use: "sig"},
		{Key: ecKey(t, elliptic.P256()), KeyID: "no-use"},
		{Key: ed, KeyID: "ed", Use: "enc"},
		{Key: small, KeyID: "rsa-1024", Use: "enc"},
		{Key: ecKey(t, elliptic.P256()), KeyID: "wrong-alg", Use: "enc", Algorithm: "ECDH-ES"},
		{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "oct", Use: "enc"},
	}
	for _, k := range skipped {
		if alg, ok := EncryptionAlgorithm(k); ok {
			t.Errorf("EncryptionAlgorithm(%s) = %s, want refused", k.KeyID, alg)
		}
	}
	if _, err := NewClientKey(publicSet(skipped[:5]...)); !errors.Is(err, ErrNoClientKey) {
		t.Errorf("NewClientKey of unusable keys = %v, want ErrNoClientKey", err)
	}
	if _, err := NewClientKey(nil); !errors.Is(err, ErrNoClientKey) {
		t.Errorf("NewClientKey(nil) = %v, want ErrNoClientKey", err)
	}
	set := publicSet(append(skipped[:5:5],
		jose.JSONWebKey{Key: p256, KeyID: "first", Use: "enc", Algorithm: string(jose.ECDH_ES_A256KW)},
		jose.JSONWebKey{Key: ecKey(t, elliptic.P384()), KeyID: "second", Use: "enc"})...)
	key, err := NewClientKey(set)
	if err != nil || key.KeyID() != "first" {
		t.Fatalf("NewClientKey = %v, %v; want the first enc key", key, err)
	}
	// A private key in the set is used by its public half only.
	withPrivate := &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: p256, KeyID: "p", Use: "enc"}}}
	if _, err := NewClientKey(withPrivate); err != nil {
		t.Errorf("NewClientKey with a private key: %v", err)
	}
}

func TestApplyAPIKeyID(t *testing.T) {
	r := mustCompile(t, Spec{Fields: []FieldSpec{{Select: "$.a", Action: ActionEncrypt, Key: testKey, KeyID: "clinic-2026-05"}}})
	out, _, err := r.Apply([]byte(`{"a":"secret"}`), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]string
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	plain, h := openWith(t, doc["a"], jose.DIRECT, testKey)
	if plain != `"secret"` || h.KeyID != "clinic-2026-05" {
		t.Errorf("plaintext %s kid %q, want \"secret\" and clinic-2026-05", plain, h.KeyID)
	}
}

func TestCompileRecipientErrors(t *testing.T) {
	tests := []struct {
		name string
		fs   FieldSpec
		want string
	}{
		{"client with key", FieldSpec{Select: "$.a", Action: ActionEncrypt, Recipient: RecipientClient, Key: testKey}, "uses the client's key"},
		{"client with key id", FieldSpec{Select: "$.a", Action: ActionEncrypt, Recipient: RecipientClient, KeyID: "k"}, "uses the client's key"},
		{"unknown recipient", FieldSpec{Select: "$.a", Action: ActionEncrypt, Recipient: "user", Key: testKey}, `recipient: "user"`},
		{"remove with recipient", FieldSpec{Select: "$.a", Action: ActionRemove, Recipient: RecipientClient}, "encrypt only"},
		{"api without key", FieldSpec{Select: "$.a", Action: ActionEncrypt, Recipient: RecipientAPI}, "must be 32 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(Spec{Fields: []FieldSpec{tt.fs}})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Compile error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func BenchmarkApplyToClient(b *testing.B) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	r, err := Compile(clientSpec())
	if err != nil {
		b.Fatal(err)
	}
	set := publicSet(jose.JSONWebKey{Key: priv, KeyID: "enc", Use: "enc"})
	body := []byte(patients)
	claims := map[string]any{"sub": "dr-lee"}
	b.ReportAllocs()
	for b.Loop() {
		// Per response: the key, then every field.
		key, err := NewClientKey(set)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := r.Apply(body, claims, key); err != nil {
			b.Fatal(err)
		}
	}
}
