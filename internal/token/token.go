// Package token mints and reads the tokens of Portcullis: opaque strings,
// JWT access tokens shaped per RFC 9068, and split tokens (a JWT whose
// signature part is all the client holds). Every token is remembered by the
// SHA-256 digest of what its holder presents, never by its value.
//
// It never signs anything itself: signing keys belong to package keys, and
// verification takes a key set from its caller, so the gateway can use this
// package without ever holding a private key.
package token

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
)

// Prefixes of the opaque strings the server hands out. They let secret
// scanners recognise a leaked token and let logs say what kind it was
// without showing it.
const (
	PrefixAccess  = "pca_"
	PrefixRefresh = "pcr_"
	PrefixCode    = "pcc_"
)

// MaxLength bounds every token a client may present; anything longer is
// refused before any parsing or hashing.
const MaxLength = 8 << 10

// ErrMalformed means a presented token is not of the expected shape.
var ErrMalformed = errors.New("token: malformed")

// Digest returns the SHA-256 digest under which a token is stored. Opaque
// tokens carry 256 bits of entropy, so a fast unkeyed hash is enough: a
// stolen table cannot be reversed, and lookups stay cheap.
func Digest(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}

// NewOpaque returns prefix followed by 256 random bits, base64url-encoded.
func NewOpaque(prefix string) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// NewID returns 128 random bits, base64url-encoded: for jti claims and
// grant identifiers, which must be unique but are not secrets.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("token: crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Split cuts a compact JWS into its "header.payload" part and its
// signature. The split-token pattern hands the client only the signature
// and keeps the rest server-side.
func Split(jws string) (headerPayload, signature string, err error) {
	i := strings.LastIndexByte(jws, '.')
	if i <= 0 || strings.Count(jws, ".") != 2 || i == len(jws)-1 {
		return "", "", ErrMalformed
	}
	return jws[:i], jws[i+1:], nil
}

// Join reassembles what Split cut.
func Join(headerPayload, signature string) string {
	return headerPayload + "." + signature
}

// LooksLikeJWT reports whether s has the shape of a compact JWS (three
// base64url parts), without decoding it.
func LooksLikeJWT(s string) bool {
	if len(s) > MaxLength || strings.Count(s, ".") != 2 {
		return false
	}
	for _, part := range strings.Split(s, ".") {
		if part == "" || !isBase64URL(part) {
			return false
		}
	}
	return true
}

func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
