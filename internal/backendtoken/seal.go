package backendtoken

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// sealer seals tokens for the shared cache with AES-256-GCM. The cache key
// is the additional data, so an entry copied under another key (another
// caller's, another backend's) does not open.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (*sealer, error) {
	if len(key) != 32 {
		return nil, errors.New("backendtoken: a shared cache needs a 32-byte sealing key")
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("backendtoken: %w", err)
	}
	a, err := cipher.NewGCM(b)
	if err != nil {
		return nil, fmt.Errorf("backendtoken: %w", err)
	}
	return &sealer{aead: a}, nil
}

// seal lays out nonce | GCM(expiry as Unix seconds (8 bytes) | token).
func (s *sealer) seal(key string, t Token) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+8+len(t.Value)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	plain := make([]byte, 8+len(t.Value))
	binary.BigEndian.PutUint64(plain, uint64(t.ExpiresAt.Unix()))
	copy(plain[8:], t.Value)
	return s.aead.Seal(nonce, nonce, plain, []byte(key)), nil
}

var errSealed = errors.New("backendtoken: shared entry does not open")

func (s *sealer) open(key string, b []byte) (Token, error) {
	n := s.aead.NonceSize()
	if len(b) < n+8+s.aead.Overhead() {
		return Token{}, errSealed
	}
	plain, err := s.aead.Open(nil, b[:n], b[n:], []byte(key))
	if err != nil || len(plain) < 9 {
		return Token{}, errSealed
	}
	exp := int64(binary.BigEndian.Uint64(plain))
	return Token{Value: string(plain[8:]), ExpiresAt: time.Unix(exp, 0)}, nil
}
