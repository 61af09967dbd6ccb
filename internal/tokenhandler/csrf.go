package tokenhandler

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
)

// CSRFHeader carries the double-submit value: the SPA keeps the value it
// got from login/end or session in memory and sends it with every
// state-changing call to the agent and every call to a fronted API.
//
// The CSRF cookie holds the same value, sealed and HttpOnly: another
// site can make the browser send the cookie (SameSite=Strict already
// stops that for cross-site requests, this covers same-site ones from a
// sibling subdomain) but cannot read it or set the header, and since
// the cookie is sealed for its name and __Host- prefixed, it cannot plant
// one with a value it knows (OWASP CSRF Prevention Cheat Sheet,
// "signed double-submit cookie").
const CSRFHeader = "x-pc-csrf"

// checkCSRF compares the header with the CSRF cookie in constant time.
// No CSRF cookie means no session: the SPA must log in again.
func (h *Handler) checkCSRF(r *http.Request) error {
	want, _, err := h.jar.open(r, kindCSRF)
	if err != nil {
		return failEnd(problemSessionExpired, fmt.Errorf("csrf cookie: %w", err))
	}
	return csrfMatches(r.Header.Get(CSRFHeader), want)
}

func csrfMatches(got string, want []byte) error {
	if got == "" {
		return fail(problemCSRF, errors.New("no "+CSRFHeader+" header"))
	}
	if subtle.ConstantTimeCompare([]byte(got), want) != 1 {
		return fail(problemCSRF, errors.New(CSRFHeader+" header does not match the csrf cookie"))
	}
	return nil
}
