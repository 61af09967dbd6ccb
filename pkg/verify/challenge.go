package verify

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
)

// RFC 6750 §3.1 and RFC 9449 §7.1 error codes of a challenge.
const (
	codeInvalidRequest    = "invalid_request"
	codeInvalidToken      = "invalid_token"
	codeInsufficientScope = "insufficient_scope"
)

// refusal is a request the middleware turns away: the status, and what
// its WWW-Authenticate challenges say (RFC 6750 §3, RFC 9449 §7.1).
type refusal struct {
	status int
	// schemes are the challenges to send, in order.
	schemes []scheme
	// code and description are the error and error_description
	// parameters; code is empty when the request carried no token.
	code        string
	description string
	// scope is the scope parameter of an insufficient_scope challenge.
	scope string
	// nonce, when set, is sent in DPoP-Nonce (RFC 9449 §9).
	nonce string
	// retryAfter, in seconds, is sent with a 503.
	retryAfter int
}

// challengeParams are what the challenges of one middleware share.
type challengeParams struct {
	// realm is RFC 6750 §3's realm, empty for none.
	realm string
	// dpopAlgs is RFC 9449 §7.1's algs: the proof algorithms accepted.
	dpopAlgs string
}

// write sends f. The body repeats the error as JSON for clients that do
// not read headers; it never holds the token or anything of it.
func (p challengeParams) write(w http.ResponseWriter, f refusal) {
	h := w.Header()
	for _, s := range f.schemes {
		h.Add("WWW-Authenticate", p.challenge(s, f))
	}
	if f.nonce != "" {
		h.Set("DPoP-Nonce", f.nonce)
	}
	if f.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(f.retryAfter))
	}
	// RFC 6750 §5.3 and RFC 9111: an answer about a credential is not
	// to be stored.
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(f.status)
	body := map[string]string{"error_description": f.description}
	if f.code != "" {
		body["error"] = f.code
	}
	_ = json.NewEncoder(w).Encode(body) // the client has gone; nothing to do
}

// challenge formats one WWW-Authenticate challenge (RFC 9110 §11.6.1,
// RFC 6750 §3). Every value is a fixed string or was checked when the
// middleware was built, so none needs escaping; the token never appears.
func (p challengeParams) challenge(s scheme, f refusal) string {
	var b strings.Builder
	b.WriteString(s.name())
	params := 0
	add := func(name, value string) {
		if params == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteString(", ")
		}
		params++
		b.WriteString(name)
		b.WriteString(`="`)
		b.WriteString(value)
		b.WriteByte('"')
	}
	if p.realm != "" {
		add("realm", p.realm)
	}
	if s == schemeDPoP && p.dpopAlgs != "" {
		add("algs", p.dpopAlgs)
	}
	if f.code != "" {
		add("error", f.code)
		add("error_description", f.description)
	}
	if f.scope != "" {
		add("scope", f.scope)
	}
	return b.String()
}

// describe is the error_description of a refused token: fixed text per
// cause, so it can never quote the token.
func describe(err error) string {
	var be *bindingError
	switch {
	case errors.As(err, &be):
		return be.description
	case errors.Is(err, ErrExpired):
		return "the access token expired"
	case errors.Is(err, ErrNotYetValid):
		return "the access token is not valid yet"
	case errors.Is(err, ErrTooLarge):
		return "the access token is too large"
	case errors.Is(err, ErrAudience):
		return "the access token is not meant for this resource"
	case errors.Is(err, ErrIssuer):
		return "the access token is from another issuer"
	case errors.Is(err, ErrType):
		return "the token is not an access token"
	}
	return "the access token is invalid"
}

// validQuotedValue reports whether s can stand inside a quoted-string
// without escaping (RFC 9110 §5.6.4): printable ASCII, no '"' or '\'.
func validQuotedValue(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// validScopeToken reports whether s is an RFC 6749 §3.3 scope-token:
// 1*( %x21 / %x23-5B / %x5D-7E ).
func validScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
