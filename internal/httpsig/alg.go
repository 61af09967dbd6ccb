package httpsig

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
)

// Algorithms of the HTTP Signature Algorithms registry (RFC 9421 §6.2)
// this package signs and verifies with. hmac-sha256 is left out on
// purpose: it needs a secret shared with the verifier, and Portcullis
// only ever holds other parties' public keys.
const (
	Ed25519         = "ed25519"
	ECDSAP256SHA256 = "ecdsa-p256-sha256"
	RSAPSSSHA512    = "rsa-pss-sha512"
)

// Algorithms returns the algorithms the gateway signs responses with,
// as a new slice.
func Algorithms() []string { return []string{Ed25519, ECDSAP256SHA256} }

// RequestAlgorithms returns the algorithms a client may sign a request
// with (Algorithms and rsa-pss-sha512), as a new slice.
func RequestAlgorithms() []string { return []string{Ed25519, ECDSAP256SHA256, RSAPSSSHA512} }

// minRSABits is the smallest RSA modulus accepted (NIST SP 800-131A).
const minRSABits = 2048

// pssOptions are RFC 9421 §3.3.1's: SHA-512, MGF1 with SHA-512, a salt
// of 64 bytes.
var pssOptions = &rsa.PSSOptions{SaltLength: 64, Hash: crypto.SHA512}

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
// an *ecdsa.PrivateKey on P-256 for ecdsa-p256-sha256, an
// *rsa.PrivateKey of 2048 bits or more for rsa-pss-sha512.
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
	case RSAPSSSHA512:
		d := sha512.Sum512(base)
		sig, err := rsa.SignPSS(rand.Reader, k.priv.(*rsa.PrivateKey), crypto.SHA512, d[:], pssOptions)
		if err != nil {
			return nil, fmt.Errorf("httpsig: sign: %w", err)
		}
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
	case RSAPSSSHA512:
		d := sha512.Sum512(base)
		if rsa.VerifyPSS(pub.(*rsa.PublicKey), crypto.SHA512, d[:], sig, pssOptions) != nil {
			return ErrSignature
		}
	}
	return nil
}

// AlgorithmFor names the algorithm a public key is used with here:
// ed25519 for an Ed25519 key, ecdsa-p256-sha256 for a P-256 key,
// rsa-pss-sha512 for an RSA key of 2048 bits or more; "" for any other.
// A key has one algorithm, so a signature's alg parameter can only
// agree with it, never choose (RFC 9421 §3.2, §7.3.6).
func AlgorithmFor(pub crypto.PublicKey) string {
	switch p := pub.(type) {
	case ed25519.PublicKey:
		if len(p) == ed25519.PublicKeySize {
			return Ed25519
		}
	case *ecdsa.PublicKey:
		if p.Curve == elliptic.P256() {
			return ECDSAP256SHA256
		}
	case *rsa.PublicKey:
		if p.N != nil && p.N.BitLen() >= minRSABits {
			return RSAPSSSHA512
		}
	}
	return ""
}

func checkPublic(alg string, pub crypto.PublicKey) error {
	if !slices.Contains(RequestAlgorithms(), alg) {
		return fmt.Errorf("%w: algorithm %q is not one of %v", ErrKey, alg, RequestAlgorithms())
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
