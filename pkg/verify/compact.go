package verify

import "strings"

// isCompactJWS reports whether s is three non-empty base64url segments in
// canonical form (RFC 7515 §7.1). A non-canonical encoding (stray bits in
// the last character) decodes to the same bytes, which would let one
// token take many spellings that each verify.
func isCompactJWS(s string) bool {
	parts := 0
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			continue
		}
		if !isCanonicalBase64URL(s[start:i]) {
			return false
		}
		parts++
		start = i + 1
	}
	return parts == 3
}

// isCanonicalBase64URL checks an unpadded base64url string whose unused
// trailing bits are zero (RFC 4648 §3.5, §5).
func isCanonicalBase64URL(s string) bool {
	if len(s) == 0 || len(s)%4 == 1 {
		return false
	}
	var last byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			last = c - 'A'
		case c >= 'a' && c <= 'z':
			last = c - 'a' + 26
		case c >= '0' && c <= '9':
			last = c - '0' + 52
		case c == '-':
			last = 62
		case c == '_':
			last = 63
		default:
			return false
		}
	}
	switch len(s) % 4 {
	case 2:
		return last&0x0f == 0
	case 3:
		return last&0x03 == 0
	}
	return true
}

// sameMediaType compares two typ values the way RFC 7515 §4.1.9 asks:
// case-insensitively, with the "application/" prefix optional.
func sameMediaType(a, b string) bool {
	trim := func(s string) string {
		if len(s) > len("application/") && strings.EqualFold(s[:len("application/")], "application/") {
			return s[len("application/"):]
		}
		return s
	}
	return strings.EqualFold(trim(a), trim(b))
}
