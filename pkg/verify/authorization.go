package verify

import (
	"strings"
)

// scheme is how a request presents its access token.
type scheme int

const (
	// schemeBearer is RFC 6750 §2.1.
	schemeBearer scheme = iota
	// schemeDPoP is RFC 9449 §7.1.
	schemeDPoP
)

// name is the scheme as a challenge names it.
func (s scheme) name() string {
	if s == schemeDPoP {
		return "DPoP"
	}
	return "Bearer"
}

// accessToken reads the token from a request's Authorization header
// values. It accepts exactly one header holding the Bearer scheme, or
// DPoP when dpop is set; the scheme is case-insensitive (RFC 9110 §11.1),
// followed by one or more spaces and a token68 (RFC 6750 §2.1). Tokens in
// a query string or form body (RFC 6750 §2.2-2.3) are never read: they
// end up in logs. Errors wrap ErrNoToken or ErrInvalidRequest.
func accessToken(values []string, dpop bool) (string, scheme, error) {
	switch len(values) {
	case 0:
		return "", 0, ErrNoToken
	case 1:
	default:
		// RFC 9110 §5.3: Authorization is not a list; two headers are
		// ambiguous, and the two readers might pick different ones.
		return "", 0, ErrInvalidRequest
	}
	name, rest, _ := strings.Cut(values[0], " ")
	var s scheme
	switch {
	case strings.EqualFold(name, "Bearer"):
		s = schemeBearer
	case dpop && strings.EqualFold(name, "DPoP"):
		s = schemeDPoP
	default:
		// Another scheme (Basic, say) carries no token for us.
		return "", 0, ErrNoToken
	}
	tok := strings.TrimLeft(rest, " ")
	if !validToken68(tok) {
		return "", 0, ErrInvalidRequest
	}
	return tok, s, nil
}

// validToken68 is RFC 9110 §11.2: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~"
// / "+" / "/" ) *"=".
func validToken68(s string) bool {
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
