package tokenhandler

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// The sealed cookie format, version 1. A cookie value is the unpadded
// base64url encoding of
//
//	version (1 byte, 0x01) | key id length (1 byte) | key id |
//	nonce (12 bytes) | AES-256-GCM ciphertext of the payload | tag (16 bytes)
//
// and the payload is
//
//	expiry (8 bytes, big-endian Unix seconds) | value
//
// The additional data of GCM is "portcullis-tokenhandler\x00" + the
// cookie's name + "\x00" + the header (version, key id length, key id):
// a value sealed for one cookie does not open as another (a refresh
// cookie replayed as the access cookie, or one app's cookie as
// another's), and the header cannot be altered. The expiry is inside the
// seal because a cookie's Max-Age is only a request to the browser: a
// stolen cookie replayed by hand must stop working too.
//
// Nonces are random: with 96-bit nonces NIST SP 800-38D §8.3 allows 2^32
// seals per key, far beyond what one key sees between rotations.
const (
	formatVersion = 1
	// KeySize is the size of a cookie key: AES-256.
	KeySize   = 32
	nonceSize = 12
	tagSize   = 16
	expSize   = 8
	maxKeyID  = 32
	// MaxCookieSize bounds a whole Set-Cookie line (name, value and
	// attributes): RFC 6265 §6.1 asks browsers to keep at least 4096
	// bytes per cookie and no more is portable. Opaque tokens (the demo
	// uses them) or the signature half of split tokens keep far below
	// it; a JWT with many claims may not fit, and is refused when set.
	MaxCookieSize = 4096
	// aadLabel separates these seals from any other use of the keys.
	aadLabel = "portcullis-tokenhandler\x00"
	// hkdfInfo derives the AEAD key from the configured key, so the same
	// bytes used elsewhere by mistake still yield unrelated keys.
	hkdfInfo = "portcullis tokenhandler cookie seal v1"
)

// Errors of Open. None of them quotes the cookie.
var (
	// ErrMalformed is a value that is not a sealed cookie of a known
	// version: bad base64, too short, too long.
	ErrMalformed = errors.New("tokenhandler: cookie is malformed")
	// ErrUnknownKey is a cookie sealed with a key id no configured key
	// has (a key retired too early, or a forgery).
	ErrUnknownKey = errors.New("tokenhandler: cookie sealed with an unknown key")
	// ErrUnauthentic is a cookie that does not open: altered,
	// truncated, sealed for another cookie name or with other key bytes.
	ErrUnauthentic = errors.New("tokenhandler: cookie does not authenticate")
	// ErrExpired is a cookie whose sealed expiry has passed.
	ErrExpired = errors.New("tokenhandler: cookie has expired")
)

// Key is a cookie key: ID goes into every cookie it seals.
type Key struct {
	// ID names the key in the cookies it seals (at most 32 bytes).
	ID string
	// Secret is KeySize random bytes; the AES key is derived from it
	// with HKDF-SHA-256 (RFC 5869).
	Secret []byte
}

// Sealer seals and opens cookie values with a ring of keys: the first
// seals, every one opens. It is safe for concurrent use.
type Sealer struct {
	seal *sealKey
	keys []*sealKey
	now  func() time.Time
}

type sealKey struct {
	id     string
	header []byte // version | len(id) | id
	aead   cipher.AEAD
}

// NewSealer builds a sealer from keys (the first seals). A nil now means
// time.Now.
func NewSealer(keys []Key, now func() time.Time) (*Sealer, error) {
	if len(keys) == 0 {
		return nil, errors.New("tokenhandler: no cookie key")
	}
	if now == nil {
		now = time.Now
	}
	s := &Sealer{now: now}
	for i, k := range keys {
		if k.ID == "" || len(k.ID) > maxKeyID {
			return nil, fmt.Errorf("tokenhandler: cookie key %d: id must be 1 to %d bytes", i, maxKeyID)
		}
		if len(k.Secret) != KeySize {
			return nil, fmt.Errorf("tokenhandler: cookie key %s: %w", k.ID, ErrKeyEncoding)
		}
		for _, o := range s.keys {
			if o.id == k.ID {
				return nil, fmt.Errorf("tokenhandler: cookie key id %s is used twice", k.ID)
			}
		}
		derived, err := hkdf.Key(sha256.New, k.Secret, nil, hkdfInfo, KeySize)
		if err != nil {
			return nil, fmt.Errorf("tokenhandler: derive cookie key: %w", err)
		}
		block, err := aes.NewCipher(derived)
		if err != nil {
			return nil, fmt.Errorf("tokenhandler: cookie key %s: %w", k.ID, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("tokenhandler: cookie key %s: %w", k.ID, err)
		}
		header := append([]byte{formatVersion, byte(len(k.ID))}, k.ID...)
		s.keys = append(s.keys, &sealKey{id: k.ID, header: header, aead: aead})
	}
	s.seal = s.keys[0]
	return s, nil
}

// Seal returns the cookie value that carries value for the cookie called
// name until exp.
func (s *Sealer) Seal(name string, value []byte, exp time.Time) (string, error) {
	k := s.seal
	raw := make([]byte, 0, len(k.header)+nonceSize+expSize+len(value)+tagSize)
	raw = append(raw, k.header...)
	nonce := raw[len(raw) : len(raw)+nonceSize]
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("tokenhandler: nonce: %w", err)
	}
	raw = raw[:len(raw)+nonceSize]
	plain := binary.BigEndian.AppendUint64(make([]byte, 0, expSize+len(value)), uint64(exp.Unix()))
	plain = append(plain, value...)
	raw = k.aead.Seal(raw, nonce, plain, additionalData(name, k.header))
	return base64.RawURLEncoding.EncodeToString(raw), nil
}

// Open returns the value sealed for the cookie called name, and its
// expiry. The work before decryption is bounded by MaxCookieSize.
func (s *Sealer) Open(name, sealed string) (value []byte, exp time.Time, err error) {
	if len(sealed) > MaxCookieSize || len(sealed) == 0 {
		return nil, time.Time{}, ErrMalformed
	}
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil {
		return nil, time.Time{}, ErrMalformed
	}
	if len(raw) < 2 || raw[0] != formatVersion {
		return nil, time.Time{}, ErrMalformed
	}
	idLen := int(raw[1])
	hdrLen := 2 + idLen
	if idLen == 0 || idLen > maxKeyID || len(raw) < hdrLen+nonceSize+expSize+tagSize {
		return nil, time.Time{}, ErrMalformed
	}
	k := s.key(raw[2:hdrLen])
	if k == nil {
		return nil, time.Time{}, ErrUnknownKey
	}
	nonce := raw[hdrLen : hdrLen+nonceSize]
	box := raw[hdrLen+nonceSize:]
	plain, err := k.aead.Open(box[:0], nonce, box, additionalData(name, raw[:hdrLen]))
	if err != nil {
		return nil, time.Time{}, ErrUnauthentic
	}
	exp = time.Unix(int64(binary.BigEndian.Uint64(plain[:expSize])), 0)
	if !s.now().Before(exp) {
		return nil, time.Time{}, ErrExpired
	}
	return plain[expSize:], exp, nil
}

// key finds the key with id; a linear scan, as a ring holds a few keys.
func (s *Sealer) key(id []byte) *sealKey {
	for _, k := range s.keys {
		if k.id == string(id) {
			return k
		}
	}
	return nil
}

func additionalData(name string, header []byte) []byte {
	ad := make([]byte, 0, len(aadLabel)+len(name)+1+len(header))
	ad = append(ad, aadLabel...)
	ad = append(ad, name...)
	ad = append(ad, 0)
	return append(ad, header...)
}
