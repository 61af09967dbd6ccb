package fieldrules

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"

	"github.com/go-jose/go-jose/v4"
)

// MinRSABits is the smallest RSA modulus fields are encrypted to.
const MinRSABits = 2048

// ErrNoClientKey is a client key set without a key fields can be
// encrypted to: none with use "enc" of a supported type and algorithm.
var ErrNoClientKey = errors.New("fieldrules: the client registered no usable encryption key")

// ClientKey seals fields to one client's public encryption key. It is
// built per response from the client's registered key set, and is safe
// for concurrent use.
type ClientKey struct {
	kid string
	enc jose.Encrypter
}

// NewClientKey picks the first key of set that fields can be encrypted
// to (EncryptionAlgorithm) and prepares to encrypt to it, with its kid
// in every JWE's protected header. A set without one is ErrNoClientKey.
func NewClientKey(set *jose.JSONWebKeySet) (*ClientKey, error) {
	if set == nil {
		return nil, ErrNoClientKey
	}
	for _, k := range set.Keys {
		alg, ok := EncryptionAlgorithm(k)
		if !ok {
			continue
		}
		// The public half only: a private key in the set (never stored
		// by the registry) must not reach the encrypter.
		pub := k.Public()
		enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: alg, Key: pub.Key, KeyID: k.KeyID},
			(&jose.EncrypterOptions{}).WithContentType("json"))
		if err != nil {
			return nil, fmt.Errorf("fieldrules: client key %q: %w", k.KeyID, err)
		}
		return &ClientKey{kid: k.KeyID, enc: enc}, nil
	}
	return nil, ErrNoClientKey
}

// KeyID is the kid of the key fields are encrypted to; empty when the
// client gave its key none.
func (k *ClientKey) KeyID() string { return k.kid }

// EncryptionAlgorithm reports the JWE key management algorithm fields
// are encrypted to k with: ECDH-ES+A256KW (RFC 7518 §4.6) for an EC key
// on P-256, P-384 or P-521, RSA-OAEP-256 (§4.3) for an RSA key of at
// least MinRSABits. k must say use "enc" (RFC 7517 §4.2): a key
// registered to sign is never used to encrypt. An alg on the key must be
// the one chosen.
func EncryptionAlgorithm(k jose.JSONWebKey) (jose.KeyAlgorithm, bool) {
	if k.Use != "enc" {
		return "", false
	}
	pub := k.Public()
	if !pub.Valid() || !pub.IsPublic() {
		return "", false
	}
	var alg jose.KeyAlgorithm
	switch key := pub.Key.(type) {
	case *ecdsa.PublicKey:
		switch key.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			alg = jose.ECDH_ES_A256KW
		default:
			return "", false
		}
	case *rsa.PublicKey:
		if key.N.BitLen() < MinRSABits {
			return "", false
		}
		alg = jose.RSA_OAEP_256
	default:
		return "", false
	}
	if k.Algorithm != "" && k.Algorithm != string(alg) {
		return "", false
	}
	return alg, true
}
