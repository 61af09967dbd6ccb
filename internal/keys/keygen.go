package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/store"
)

// JWS algorithms a key may sign with (RFC 7518 §3.1, RFC 8037 §3.1).
const (
	// AlgES256 is ECDSA on P-256 with SHA-256, the default for access
	// tokens: small and fast to sign.
	AlgES256 = "ES256"
	// AlgRS256 is RSASSA-PKCS1-v1_5 with SHA-256, the default for ID
	// tokens.
	AlgRS256 = "RS256"
	// AlgPS256 is RSASSA-PSS with SHA-256.
	AlgPS256 = "PS256"
	// AlgEdDSA is Ed25519 (RFC 8037).
	AlgEdDSA = "EdDSA"
)

// sealPurpose derives the key that seals private signing keys; changing it
// makes every stored key unreadable.
const sealPurpose = "signing-keys"

// rsaBits is the modulus size of new RSA keys. 3072 bits (NIST SP 800-57
// 128-bit strength) takes ~150 ms to generate here, acceptable for a
// rotation; tests lower it to 2048 for speed.
var rsaBits = 3072

// minRSABits refuses stored RSA keys below 2048 bits (RFC 7518 §3.3).
const minRSABits = 2048

// ErrUnsupportedAlg means an algorithm is not one a key may sign with.
var ErrUnsupportedAlg = errors.New("keys: unsupported signing algorithm (want ES256, RS256, PS256 or EdDSA)")

// checkAlg reports whether alg is one the manager can generate.
func checkAlg(alg string) error {
	switch alg {
	case AlgES256, AlgRS256, AlgPS256, AlgEdDSA:
		return nil
	}
	return fmt.Errorf("%w: %q", ErrUnsupportedAlg, alg)
}

// newKID returns a random key id. It is never derived from the key, so the
// JWKS says nothing about key material beyond the public key itself.
func newKID() string {
	b := make([]byte, 16)
	rand.Read(b) // crypto/rand.Read never fails (Go 1.24+).
	return base64.RawURLEncoding.EncodeToString(b)
}

// generatePrivate makes a new private key for alg from crypto/rand.
func generatePrivate(alg string) (crypto.Signer, error) {
	switch alg {
	case AlgES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case AlgRS256, AlgPS256:
		return rsa.GenerateKey(rand.Reader, rsaBits)
	case AlgEdDSA:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	}
	return nil, fmt.Errorf("%w: %q", ErrUnsupportedAlg, alg)
}

// generateKey makes a key for use and alg and seals its private half with
// the kid as aad, so a sealed blob cannot be moved to another row.
func generateKey(s *Sealer, use Use, alg string, now time.Time) (store.SigningKey, error) {
	priv, err := generatePrivate(alg)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("generate %s key: %w", alg, err)
	}
	kid := newKID()
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("marshal private key: %w", err)
	}
	sealed, err := s.Seal(der, []byte(kid))
	clear(der)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("seal private key: %w", err)
	}
	pub, err := json.Marshal(publicJWK(priv, kid, alg))
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("marshal public key: %w", err)
	}
	return store.SigningKey{
		KID:           kid,
		Alg:           alg,
		Use:           string(use),
		PrivateSealed: sealed,
		PublicJWK:     pub,
		CreatedAt:     now,
	}, nil
}

// publicJWK is what the JWKS publishes for a key (RFC 7517 §4).
func publicJWK(priv crypto.Signer, kid, alg string) jose.JSONWebKey {
	return jose.JSONWebKey{Key: priv.Public(), KeyID: kid, Algorithm: alg, Use: "sig"}
}

// openKey unseals the private key of k and checks that it matches its
// algorithm and its stored public JWK. The match matters: without it,
// anyone able to write the keys table could publish a public key of their
// own and mint tokens the server's JWKS vouches for; with it, every
// published key is proven to come from the holder of the master key.
func openKey(s *Sealer, k store.SigningKey) (crypto.Signer, jose.JSONWebKey, error) {
	der, err := s.Open(k.PrivateSealed, []byte(k.KID))
	if err != nil {
		return nil, jose.JSONWebKey{}, fmt.Errorf("key %s: open private key (wrong master key?): %w", k.KID, err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	clear(der)
	if err != nil {
		return nil, jose.JSONWebKey{}, fmt.Errorf("key %s: parse private key: %w", k.KID, err)
	}
	priv, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, jose.JSONWebKey{}, fmt.Errorf("key %s: private key type %T cannot sign", k.KID, parsed)
	}
	if err := matchAlg(priv, k.Alg); err != nil {
		return nil, jose.JSONWebKey{}, fmt.Errorf("key %s: %w", k.KID, err)
	}
	jwk := publicJWK(priv, k.KID, k.Alg)
	var stored jose.JSONWebKey
	if err := json.Unmarshal(k.PublicJWK, &stored); err != nil {
		return nil, jose.JSONWebKey{}, fmt.Errorf("key %s: parse public jwk: %w", k.KID, err)
	}
	if stored.KeyID != k.KID || stored.Algorithm != k.Alg || stored.Use != "sig" || !samePublic(stored.Key, priv.Public()) {
		return nil, jose.JSONWebKey{}, fmt.Errorf("key %s: stored public jwk does not match the private key", k.KID)
	}
	return priv, jwk, nil
}

// matchAlg checks that the key type can sign with alg, so a row claiming
// "RS256" over an EC key (or a too-small RSA key) is refused at load.
func matchAlg(priv crypto.Signer, alg string) error {
	switch p := priv.(type) {
	case *ecdsa.PrivateKey:
		if alg == AlgES256 && p.Curve == elliptic.P256() {
			return nil
		}
	case *rsa.PrivateKey:
		if alg == AlgRS256 || alg == AlgPS256 {
			if p.N.BitLen() < minRSABits {
				return fmt.Errorf("rsa key of %d bits is below %d", p.N.BitLen(), minRSABits)
			}
			return nil
		}
	case ed25519.PrivateKey:
		if alg == AlgEdDSA {
			return nil
		}
	}
	return fmt.Errorf("%w: %q for a %T", ErrUnsupportedAlg, alg, priv)
}

// samePublic compares public keys of any supported type.
func samePublic(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}
