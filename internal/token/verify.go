package token

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-jose/go-jose/v4"
)

// ErrSignature means no key of the set verified the token.
var ErrSignature = errors.New("token: signature does not verify")

// VerifyJWS checks a compact JWS against set and returns its payload. Only
// algs are accepted (never "none"; go-jose refuses it and any algorithm
// not listed before touching a key). When typ is non-empty the "typ"
// header must equal it, case-insensitively with or without the
// "application/" prefix (RFC 8725 §3.11). Keys named by the token itself
// (jku, x5u, jwk headers) are never used: only set is trusted.
//
// Only the compact serialization is read (RFC 7519 §7.2, RFC 9068 §2.1):
// a JWS JSON serialization, which could carry unprotected headers that
// no signature covers, is malformed here.
func VerifyJWS(raw string, set *jose.JSONWebKeySet, algs []jose.SignatureAlgorithm, typ string) ([]byte, error) {
	if len(raw) > MaxLength {
		return nil, ErrMalformed
	}
	// The allow-list is applied while parsing (RFC 8725 §3.1).
	sig, err := jose.ParseSignedCompact(raw, algs)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(sig.Signatures) != 1 {
		return nil, ErrMalformed
	}
	// typ and kid are read from the protected header only: a value no
	// signature covers could be changed by anyone on the way.
	h := sig.Signatures[0].Protected
	if typ != "" && !typMatches(h.ExtraHeaders[jose.HeaderType], typ) {
		return nil, fmt.Errorf("%w: unexpected typ", ErrMalformed)
	}
	candidates := set.Keys
	if h.KeyID != "" {
		candidates = set.Key(h.KeyID)
	}
	for _, k := range candidates {
		if k.Algorithm != "" && k.Algorithm != h.Algorithm {
			continue
		}
		if payload, err := sig.Verify(k.Key); err == nil {
			return payload, nil
		}
	}
	return nil, ErrSignature
}

func typMatches(got any, want string) bool {
	s, ok := got.(string)
	if !ok {
		return false
	}
	norm := func(v string) string {
		b := []byte(v)
		for i, c := range b {
			if c >= 'A' && c <= 'Z' {
				b[i] = c + 'a' - 'A'
			}
		}
		v = string(b)
		if len(v) > 12 && v[:12] == "application/" {
			v = v[12:]
		}
		return v
	}
	return norm(s) == norm(want)
}

// DecodeClaims unmarshals a verified payload into a claims map.
func DecodeClaims(payload []byte) (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	return m, nil
}
