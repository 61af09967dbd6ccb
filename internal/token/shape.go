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

// OpaqueFormat is the shape of an issuer's opaque access tokens: what
// the gateway may send to its introspection endpoint at all.
type OpaqueFormat uint8

const (
	// OpaquePortcullis is the format of NewOpaque: PrefixAccess and 256
	// bits (IsOpaque). It is the zero value.
	OpaquePortcullis OpaqueFormat = iota
	// OpaqueAny is any RFC 6750 §2.1 b64token of at most MaxForeignOpaque
	// bytes, for an authorization server with a format of its own.
	OpaqueAny
)

// MaxForeignOpaque bounds an opaque token of OpaqueAny: generous for the
// formats authorization servers use (a few hundred bytes at most), and
// small enough that junk stays cheap to refuse.
const MaxForeignOpaque = 4096

// Allows reports whether s can be an opaque access token of format f.
// Whatever it refuses is refused without asking anyone. It allocates
// nothing.
func (f OpaqueFormat) Allows(s string) bool {
	if f == OpaqueAny {
		return len(s) <= MaxForeignOpaque && IsB64Token(s)
	}
	return IsOpaque(s, PrefixAccess)
}

// IsB64Token reports whether s is an RFC 6750 §2.1 b64token, the syntax
// of every bearer credential: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" /
// "+" / "/" ) *"=". It allocates nothing.
func IsB64Token(s string) bool {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
			break
		}
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}
