package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
)

// sealVersion is the first byte of every sealed value, so the format (or
// the cipher) can change later without guessing what old data is.
const sealVersion byte = 1

// ErrOpen means sealed data could not be opened: it was tampered with,
// sealed under another master key or purpose, or bound to other aad. The
// causes are deliberately indistinguishable (AES-GCM reports only failure).
var ErrOpen = errors.New("keys: cannot open sealed data: wrong key, wrong context or tampered")

// Sealer encrypts small secrets with AES-256-GCM under a key derived from
// the master key.
//
// A sealed value is version (1 byte) || nonce (12 bytes) || ciphertext ||
// tag (16 bytes). The nonce is random, so one sealer must not seal more
// than 2^32 values (NIST SP 800-38D §8.3); sealed keys and form state are
// nowhere near that.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a sealer keyed from master for purpose.
func NewSealer(master []byte, purpose string) (*Sealer, error) {
	if err := checkMaster(master); err != nil {
		return nil, err
	}
	if purpose == "" {
		return nil, errors.New("keys: sealer purpose is empty")
	}
	block, err := aes.NewCipher(DeriveKey(master, purpose))
	if err != nil {
		return nil, fmt.Errorf("keys: new sealer: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("keys: new sealer: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext bound to aad (nonce prepended).
func (s *Sealer) Seal(plaintext, aad []byte) ([]byte, error) {
	if s == nil || s.aead == nil {
		return nil, errors.New("keys: seal with an uninitialised sealer")
	}
	out := make([]byte, 1, 1+len(plaintext)+s.aead.Overhead())
	out[0] = sealVersion
	return s.aead.Seal(out, nil, plaintext, s.additionalData(aad)), nil
}

// Open decrypts what Seal produced with the same aad.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	if s == nil || s.aead == nil {
		return nil, errors.New("keys: open with an uninitialised sealer")
	}
	if len(sealed) < 1+s.aead.Overhead() {
		return nil, fmt.Errorf("%w (too short)", ErrOpen)
	}
	if sealed[0] != sealVersion {
		return nil, fmt.Errorf("%w (unknown version %d)", ErrOpen, sealed[0])
	}
	plain, err := s.aead.Open(nil, nil, sealed[1:], s.additionalData(aad))
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}

// additionalData authenticates the version byte with the caller's aad, so
// a value cannot be replayed under a different format version.
func (s *Sealer) additionalData(aad []byte) []byte {
	ad := make([]byte, 0, 1+len(aad))
	ad = append(ad, sealVersion)
	return append(ad, aad...)
}
