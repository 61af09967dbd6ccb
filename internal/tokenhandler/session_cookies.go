package tokenhandler

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// cookieKind is one of the agent's cookies; the name is the configured
// prefix followed by the kind.
type cookieKind int

const (
	kindAccess  cookieKind = iota // the access token
	kindRefresh                   // the refresh token
	kindID                        // the ID token
	kindCSRF                      // the double-submit value
	kindLogin                     // state, nonce and PKCE verifier of a started login
	numKinds
)

var kindSuffix = [numKinds]string{"at", "rt", "id", "csrf", "login"}

// sessionKinds are the cookies of a logged-in session (not kindLogin).
var sessionKinds = []cookieKind{kindAccess, kindRefresh, kindID, kindCSRF}

// errNoCookie is a cookie the request does not carry.
var errNoCookie = errors.New("tokenhandler: no cookie")

// errDuplicateCookie is a cookie name sent twice. With the __Host-
// prefix no other site can plant one; without it, two values mean one
// was planted (cookie tossing), and neither is trusted.
var errDuplicateCookie = errors.New("tokenhandler: cookie sent twice")

// CookieTooLargeError is a cookie that would pass MaxCookieSize. It names
// the cookie and the size, never the value.
type CookieTooLargeError struct {
	// Name is the cookie's name.
	Name string
	// Size is the length of its Set-Cookie line.
	Size int
}

// Error says which cookie is too large and what keeps cookies small.
func (e *CookieTooLargeError) Error() string {
	return fmt.Sprintf("tokenhandler: cookie %s would be %d bytes, more than the %d browsers keep; use opaque or split access tokens, or fewer ID token claims",
		e.Name, e.Size, MaxCookieSize)
}

// jar writes and reads the agent's cookies with their fixed attributes:
// HttpOnly (no script reads them), Secure (except in development mode),
// SameSite=Strict (RFC 6265bis §8.8: no cross-site request carries them),
// Path=/ and no Domain (the __Host- prefix requires both).
type jar struct {
	prefix string
	names  [numKinds]string
	secure bool
	sealer *Sealer
	now    func() time.Time
}

func newJar(prefix string, secure bool, sealer *Sealer, now func() time.Time) *jar {
	j := &jar{prefix: prefix, secure: secure, sealer: sealer, now: now}
	for k := range numKinds {
		j.names[k] = prefix + kindSuffix[k]
	}
	return j
}

// setCookies collects Set-Cookie lines so that a response sets all of
// them or, when one is too large, none.
type setCookies []string

// add seals value into a cookie of kind that lives until exp.
func (j *jar) add(sc *setCookies, kind cookieKind, value []byte, exp time.Time) error {
	name := j.names[kind]
	sealed, err := j.sealer.Seal(name, value, exp)
	if err != nil {
		return err
	}
	maxAge := int(exp.Sub(j.now()).Seconds())
	if maxAge < 1 {
		maxAge = 1
	}
	line := j.cookie(name, sealed, maxAge).String()
	if len(line) > MaxCookieSize {
		return &CookieTooLargeError{Name: name, Size: len(line)}
	}
	*sc = append(*sc, line)
	return nil
}

// clear adds the removal of kind: the same attributes with Max-Age=0, as
// a browser only replaces a cookie of the same name, path and domain.
func (j *jar) clear(sc *setCookies, kinds ...cookieKind) {
	for _, k := range kinds {
		c := j.cookie(j.names[k], "", -1) // net/http writes Max-Age=0 for < 0
		*sc = append(*sc, c.String())
	}
}

func (j *jar) cookie(name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   j.secure,
		SameSite: http.SameSiteStrictMode,
	}
}

// write adds the collected cookies to the response.
func (sc setCookies) write(w http.ResponseWriter) {
	h := w.Header()
	for _, line := range sc {
		h.Add("Set-Cookie", line)
	}
}

// cookieSet holds the agent's cookies of one request, found in one pass.
type cookieSet struct {
	vals [numKinds]string
	seen [numKinds]uint8
}

// has reports whether the request carries a cookie of kind at all.
func (s *cookieSet) has(k cookieKind) bool { return s.seen[k] > 0 }

// scan finds the agent's cookies in the Cookie headers (RFC 6265 §5.4:
// "name=value" pairs separated by "; "; HTTP/2 may split them over
// several headers, RFC 9113 §8.2.3). Other cookies are skipped on their
// name's first bytes; nothing is allocated.
func (j *jar) scan(h http.Header) cookieSet {
	var s cookieSet
	for _, line := range h["Cookie"] {
		for line != "" {
			var pair string
			pair, line, _ = strings.Cut(line, ";")
			pair = strings.TrimLeft(pair, " \t")
			if !strings.HasPrefix(pair, j.prefix) {
				continue
			}
			n, v, ok := strings.Cut(pair, "=")
			if !ok {
				continue
			}
			n = strings.TrimRight(n, " \t")
			for k := range numKinds {
				if n == j.names[k] {
					if s.seen[k] < 2 {
						s.seen[k]++
					}
					s.vals[k] = strings.Trim(strings.TrimSpace(v), `"`)
					break
				}
			}
		}
	}
	return s
}

// openIn opens the cookie of kind in s: errNoCookie when absent,
// errDuplicateCookie when sent twice, an error of Sealer.Open when it
// does not open.
func (j *jar) openIn(s *cookieSet, kind cookieKind) ([]byte, time.Time, error) {
	switch s.seen[kind] {
	case 0:
		return nil, time.Time{}, errNoCookie
	case 1:
		return j.sealer.Open(j.names[kind], s.vals[kind])
	default:
		return nil, time.Time{}, errDuplicateCookie
	}
}

// open reads and opens the cookie of kind from the request.
func (j *jar) open(r *http.Request, kind cookieKind) ([]byte, time.Time, error) {
	s := j.scan(r.Header)
	return j.openIn(&s, kind)
}

// stripCookies removes the cookies called names from the Cookie headers
// and reports whether there was one.
func stripCookies(h http.Header, names []string) bool {
	lines := h["Cookie"]
	if len(lines) == 0 {
		return false
	}
	stripped := false
	var kept []string
	for _, line := range lines {
		for line != "" {
			var pair string
			pair, line, _ = strings.Cut(line, ";")
			pair = strings.TrimSpace(pair)
			if pair == "" {
				continue
			}
			n, _, _ := strings.Cut(pair, "=")
			if slices.Contains(names, strings.TrimSpace(n)) {
				stripped = true
				continue
			}
			kept = append(kept, pair)
		}
	}
	if !stripped {
		return false
	}
	if len(kept) == 0 {
		h.Del("Cookie")
	} else {
		h["Cookie"] = []string{strings.Join(kept, "; ")}
	}
	return true
}
