package gateway

import (
	"errors"
	"net/http"

	"github.com/portcullis/portcullis/internal/token"
)

// Credential extraction errors. Each maps to one RFC 6750 §3 answer.
var (
	// errNoCredential: no Authorization header, or one with another
	// scheme. §3.1: the challenge then carries no error code.
	errNoCredential = errors.New("no bearer credential")
	// errMalformedCredential: a Bearer header whose token is empty or not
	// b64token syntax (invalid_token).
	errMalformedCredential = errors.New("malformed bearer credential")
	// errCredentialTooLong: longer than token.MaxLength, refused before
	// anything looks at it (invalid_token).
	errCredentialTooLong = errors.New("bearer credential too long")
	// errMultipleCredentials: more than one Authorization header (§3.1
	// invalid_request, 400).
	errMultipleCredentials = errors.New("more than one authorization header")
)

// bearerPrefixLen is len("Bearer ").
const bearerPrefixLen = 7

// authScheme is the Authorization scheme a token was presented with.
type authScheme uint8

const (
	// schemeNone: no Authorization token (another scheme, or a single-
	// page app's session cookie, which is as good as Bearer).
	schemeNone authScheme = iota
	// schemeBearer is RFC 6750 §2.1.
	schemeBearer
	// schemeDPoP is RFC 9449 §7.1: a DPoP-bound token, whose proof is
	// expected in the DPoP header (dpop.go).
	schemeDPoP
)

// extractCredential reads the access token from the Authorization
// header, the only place the gateway accepts one (RFC 6750 §2.1; the
// query string and form body of §2.2 and §2.3 are never read, as they
// end up in logs). The scheme, Bearer or DPoP (RFC 9449 §7.1), is matched
// case-insensitively, followed by one or more spaces and exactly one
// b64token (token68, the same syntax). The scheme is returned with the
// errors too, for the challenge. It allocates nothing.
func extractCredential(h http.Header) (string, authScheme, error) {
	vals := h["Authorization"]
	switch len(vals) {
	case 0:
		return "", schemeNone, errNoCredential
	case 1:
	default:
		return "", schemeNone, errMultipleCredentials
	}
	v := vals[0]
	scheme, name := schemeOf(v)
	// Bound the work before looking at the value at all: the scheme, a
	// few spaces and the largest token accepted.
	if len(v) > bearerPrefixLen+token.MaxLength+16 {
		if scheme != schemeNone {
			return "", scheme, errCredentialTooLong
		}
		return "", schemeNone, errNoCredential
	}
	if scheme == schemeNone {
		// The scheme and no token.
		if asciiEqualFold(v, "bearer") {
			return "", schemeBearer, errMalformedCredential
		}
		if asciiEqualFold(v, "dpop") {
			return "", schemeDPoP, errMalformedCredential
		}
		return "", schemeNone, errNoCredential
	}
	i := name
	for i < len(v) && v[i] == ' ' {
		i++
	}
	tok := v[i:]
	if len(tok) > token.MaxLength {
		return "", scheme, errCredentialTooLong
	}
	if !isB64Token(tok) {
		return "", scheme, errMalformedCredential
	}
	return tok, scheme, nil
}

// schemeOf reads the scheme v starts with, followed by a space, and the
// length of its name; schemeNone for any other.
func schemeOf(v string) (authScheme, int) {
	switch {
	case len(v) > 6 && v[6] == ' ' && asciiEqualFold(v[:6], "bearer"):
		return schemeBearer, 6
	case len(v) > 4 && v[4] == ' ' && asciiEqualFold(v[:4], "dpop"):
		return schemeDPoP, 4
	}
	return schemeNone, 0
}

// isB64Token is RFC 6750 §2.1: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~"
// / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	if s == "" {
		return false
	}
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' {
			continue
		}
		break
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

// asciiEqualFold compares ASCII strings case-insensitively.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// credentialStep refuses a request without a well-formed bearer token and
// remembers the token for resolution. For an API a single-page app
// fronts, the app's session cookies may carry it instead
// (tokenhandlers.go); their path allocates, the bearer path does not.
// The scheme is refused here when the API's dpop mode rules it out; the
// proof is checked once the token is resolved (dpop.go).
type credentialStep struct {
	api  *apiRoute
	dpop dpopCounts
	next http.Handler
}

func newCredentials(c *stepConfig, next http.Handler) (http.Handler, error) {
	if c.op.public {
		return &publicStep{next: next}, nil
	}
	return &credentialStep{api: c.api, dpop: newDPoPCounts(c.op.metrics), next: next}, nil
}

func (s *credentialStep) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ex := exchangeOf(w)
	if ex.spas != nil {
		// The OAuth proxy: a single-page app's session cookie stands in
		// for the Authorization header (tokenhandlers.go).
		tok, found, ok := ex.spas.sessionToken(ex, r)
		if !ok {
			return
		}
		if found {
			ex.raw = tok
			s.next.ServeHTTP(w, r)
			return
		}
	}
	raw, scheme, err := extractCredential(r.Header)
	if scheme != schemeNone && s.api.dpop.refusesScheme(ex, scheme, s.dpop) {
		return
	}
	switch err {
	case nil:
	case errNoCredential:
		ex.rw.Header()["Www-Authenticate"] = s.api.challengeNone
		ex.problem(problemInvalidToken, decisionDenyToken)
		return
	case errMultipleCredentials:
		ex.rw.Header()["Www-Authenticate"] = s.api.challengeRequest
		ex.problem(problemBadRequest, decisionBadRequest)
		return
	default:
		ex.rw.Header()["Www-Authenticate"] = s.api.dpop.forScheme(scheme, dpopInvalidToken, s.api.challengeInvalid)
		ex.problem(problemInvalidToken, decisionDenyToken)
		return
	}
	ex.raw, ex.scheme = raw, scheme
	s.next.ServeHTTP(w, r)
}

// publicStep stands in for credentials on a public operation: whatever
// the client sent as Authorization is not the upstream's business, and it
// must not look as if the gateway had checked it.
type publicStep struct{ next http.Handler }

func (s *publicStep) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	delete(r.Header, "Authorization")
	if ex := exchangeOf(w); ex.spas != nil {
		ex.spas.strip(r)
	}
	s.next.ServeHTTP(w, r)
}
