package token

import "encoding/base64"

// opaqueBytes is the entropy of an opaque token (NewOpaque), and
// opaqueChars its length in unpadded base64url.
const (
	opaqueBytes = 32
	opaqueChars = (opaqueBytes*8 + 5) / 6
)

// The sizes of a JWS signature, in bytes, for the algorithms an issuer
// may allow (RFC 7518 §3.4, RFC 8037 §3.1): ECDSA's fixed-width R||S, an
// Ed25519 signature, and RSA's modulus length from 2048 bits (the least
// RFC 7518 §3.3 allows) to 8192 bits.
const (
	sigEdDSA, sigES256 = 64, 64
	sigES384           = 96
	sigES512           = 132
	sigRSAMin          = 2048 / 8
	sigRSAMax          = 8192 / 8
)

// IsOpaque reports whether s is shaped like an opaque token NewOpaque
// makes with prefix: the prefix and exactly 256 bits in canonical
// unpadded base64url. Whatever else a client presents cannot be one of
// ours, so it is refused without asking anyone. It allocates nothing.
func IsOpaque(s, prefix string) bool {
	if len(s) != len(prefix)+opaqueChars || s[:len(prefix)] != prefix {
		return false
	}
	return canonicalBase64URL(s[len(prefix):])
}

// IsSplitSignature reports whether s is shaped like the signature part of
// a compact JWS signed with an algorithm an issuer may allow: canonical
// unpadded base64url (RFC 7515 §2) of a length one of those algorithms
// produces. It allocates nothing.
func IsSplitSignature(s string) bool {
	if len(s) > base64.RawURLEncoding.EncodedLen(sigRSAMax) || !canonicalBase64URL(s) {
		return false
	}
	switch n := base64.RawURLEncoding.DecodedLen(len(s)); {
	case n == sigES256, n == sigEdDSA, n == sigES384, n == sigES512:
		return true
	default:
		return n >= sigRSAMin && n <= sigRSAMax
	}
}
