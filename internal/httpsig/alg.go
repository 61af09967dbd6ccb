package httpsig

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
)

// Algorithms of the HTTP Signature Algorithms registry (RFC 9421 §6.2)
// this package signs and verifies with.
const (
	Ed25519         = "ed25519"
	ECDSAP256SHA256 = "ecdsa-p256-sha256"
)

// Algorithms returns the supported algorithm names, as a new slice.
func Algorithms() []string { return []string{Ed25519, ECDSAP256SHA256} }

// ErrSignature is returned for a signature that does not verify.
var ErrSignature = errors.New("httpsig: the signature does not verify")

// ErrKey is wrapped by every refusal of key material.
var ErrKey = errors.New("httpsig: bad key")

// Key is a signing key with its id and algorithm. Safe for concurrent
// use.
type Key struct {
	ID, Alg string
	priv    crypto.Signer
}

// NewKey checks that priv suits alg: an ed25519.PrivateKey for ed25519,
// an *ecdsa.PrivateKey on P-256 for ecdsa-p256-sha256.
func NewKey(id, alg string, priv crypto.Signer) (*Key, error) {
	if err := checkPublic(alg, priv.Public()); err != nil {
		return nil, err
	}
	return &Key{ID: id, Alg: alg, priv: priv}, nil
}

// ParsePrivateKeyPEM reads a PKCS #8 PEM private key ("PRIVATE KEY")
// for alg. Errors never quote the key.
func ParsePrivateKeyPEM(id, alg string, data []byte) (*Key, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%w: no PEM \"PRIVATE KEY\" block (PKCS #8)", ErrKey)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: not a PKCS #8 private key", ErrKey)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: not a signing key", ErrKey)
	}
	return NewKey(id, alg, s)
}

// Public returns the public key.
func (k *Key) Public() crypto.PublicKey { return k.priv.Public() }

// Sign signs a signature base (RFC 9421 §3.3.4, §3.3.6). ECDSA
// signatures are r||s, 32 bytes each, with randomness from crypto/rand.
func (k *Key) Sign(base []byte) ([]byte, error) {
	switch k.Alg {
	case Ed25519:
		return ed25519.Sign(k.priv.(ed25519.PrivateKey), base), nil
	case ECDSAP256SHA256:
		d := sha256.Sum256(base)
		r, s, err := ecdsa.Sign(rand.Reader, k.priv.(*ecdsa.PrivateKey), d[:])
		if err != nil {
			return nil, fmt.Errorf("httpsig: sign: %w", err)
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return sig, nil
	}
	return nil, fmt.Errorf("%w: algorithm %q", ErrKey, k.Alg)
}

// Verify checks sig over base with pub under alg. The caller chose alg
// from its own knowledge of the key, never from the message alone.
func Verify(alg string, pub crypto.PublicKey, base, sig []byte) error {
	if err := checkPublic(alg, pub); err != nil {
		return err
	}
	switch alg {
	case Ed25519:
		if !ed25519.Verify(pub.(ed25519.PublicKey), base, sig) {
			return ErrSignature
		}
	case ECDSAP256SHA256:
		// RFC 9421 §3.3.4: exactly 64 bytes, r then s.
		if len(sig) != 64 {
			return ErrSignature
		}
		d := sha256.Sum256(base)
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(pub.(*ecdsa.PublicKey), d[:], r, s) {
			return ErrSignature
		}
	}
	return nil
}

// AlgorithmFor names the algorithm a public key is used with here:
// ed25519 for an Ed25519 key, ecdsa-p256-sha256 for a P-256 key; "" for
// any other.
func AlgorithmFor(pub crypto.PublicKey) string {
	switch p := pub.(type) {
	case ed25519.PublicKey:
		return Ed25519
	case *ecdsa.PublicKey:
		if p.Curve == elliptic.P256() {
			return ECDSAP256SHA256
		}
	}
	return ""
}

func checkPublic(alg string, pub crypto.PublicKey) error {
	if !slices.Contains(Algorithms(), alg) {
		return fmt.Errorf("%w: algorithm %q is not one of %v", ErrKey, alg, Algorithms())
	}
	if got := AlgorithmFor(pub); got != alg {
		return fmt.Errorf("%w: the key is not a %s key", ErrKey, alg)
	}
	return nil
}

// CheckKeyID says whether id can be a keyid parameter: a non-empty
// structured-field String (printable ASCII, RFC 8941 §3.3.3), at most
// 256 bytes.
func CheckKeyID(id string) error {
	if id == "" || len(id) > 256 {
		return fmt.Errorf("%w: a key id has 1 to 256 characters", ErrKey)
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x20 || id[i] > 0x7e {
			return fmt.Errorf("%w: a key id is printable ASCII", ErrKey)
		}
	}
	return nil
}
