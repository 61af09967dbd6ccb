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

// extractBearer reads the access token from the Authorization header,
// the only place the gateway accepts one (RFC 6750 §2.1; the query string
// and form body of §2.2 and §2.3 are never read, as they end up in logs).
// The scheme is matched case-insensitively, followed by one or more
// spaces and exactly one b64token. It allocates nothing.
func extractBearer(h http.Header) (string, error) {
	vals := h["Authorization"]
	switch len(vals) {
	case 0:
		return "", errNoCredential
	case 1:
	default:
		return "", errMultipleCredentials
	}
	v := vals[0]
	// Bound the work before looking at the value at all: the scheme, a
	// few spaces and the largest token accepted.
	if len(v) > bearerPrefixLen+token.MaxLength+16 {
		if isBearerScheme(v) {
			return "", errCredentialTooLong
		}
		return "", errNoCredential
	}
	if !isBearerScheme(v) {
		if asciiEqualFold(v, "bearer") {
			return "", errMalformedCredential // the scheme and no token
		}
		return "", errNoCredential
	}
	i := 6
	for i < len(v) && v[i] == ' ' {
		i++
	}
	tok := v[i:]
	if len(tok) > token.MaxLength {
		return "", errCredentialTooLong
	}
	if !isB64Token(tok) {
		return "", errMalformedCredential
	}
	return tok, nil
}

// isBearerScheme reports whether v starts with "Bearer" and a space.
func isBearerScheme(v string) bool {
	return len(v) > 6 && v[6] == ' ' && asciiEqualFold(v[:6], "bearer")
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
type credentialStep struct {
	api  *apiRoute
	next http.Handler
}

func newCredentials(c *stepConfig, next http.Handler) (http.Handler, error) {
	if c.op.public {
		return &publicStep{next: next}, nil
	}
	return &credentialStep{api: c.api, next: next}, nil
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
	raw, err := extractBearer(r.Header)
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
		ex.rw.Header()["Www-Authenticate"] = s.api.challengeInvalid
		ex.problem(problemInvalidToken, decisionDenyToken)
		return
	}
	ex.raw = raw
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
