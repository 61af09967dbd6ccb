package tokenhandler

import (
	"errors"
	"net/http"
)

// The OAuth proxy's cookie side: the gateway calls these for a request to
// an API the app fronts (Fronts), in its credential extraction step, and
// resolves the token it gets like a bearer token (introspection, phantom
// JWT, scopes) — the cookie only replaces the Authorization header.
//
// A call with cookies must come from the app: Origin is one of its
// origins and CSRFHeader matches the CSRF cookie, on every method (the
// SPA always has the value, and a GET then needs no special case). The
// gateway's CORS for the API must allow the app's origins with
// credentials and the CSRFHeader request header.

// Fronts reports whether the API path (the request path) is at or below
// one of the app's api_paths.
func (h *Handler) Fronts(path string) bool {
	for _, p := range h.cfg.APIPaths {
		if under(path, p) {
			return true
		}
	}
	return false
}

// AccessToken returns the access token carried by the request's cookies.
//
//   - ok is false, and err nil, when the request carries none of the
//     app's session cookies: it is not the app's, and the gateway goes
//     on with its other credentials (an Authorization header).
//   - err is a *Problem when the cookies are there but cannot be used:
//     400 ambiguous-credentials when an Authorization header comes too
//     (RFC 6750 §2: one method only), 403 origin-not-allowed, 403
//     csrf-check-failed, or 401 ProblemTypeSessionExpired when the
//     access cookie is missing, expired or does not open (the SPA then
//     calls refresh). The gateway answers it as it is (Problem.Write).
//
// It never logs; its cost is one scan of the Cookie headers and two
// AES-GCM opens (BenchmarkAccessToken).
func (h *Handler) AccessToken(r *http.Request) (token string, ok bool, err error) {
	set := h.jar.scan(r.Header)
	// Any session cookie makes the call the app's, even one that does
	// not open: the SPA must hear session-expired, not "no token".
	if !set.has(kindAccess) && !set.has(kindRefresh) && !set.has(kindID) && !set.has(kindCSRF) {
		return "", false, nil
	}
	if _, present := r.Header["Authorization"]; present {
		return "", false, h.refuse(problemAmbiguous)
	}
	if !h.originAllowed(r.Header.Get("Origin")) {
		return "", false, h.refuse(problemOrigin)
	}
	csrf, _, cerr := h.jar.openIn(&set, kindCSRF)
	if cerr != nil {
		return "", false, h.refuse(problemSessionExpired)
	}
	if err := csrfMatches(r.Header.Get(CSRFHeader), csrf); err != nil {
		return "", false, h.refuse(problemCSRF)
	}
	at, _, aerr := h.jar.openIn(&set, kindAccess)
	if aerr != nil {
		return "", false, h.refuse(problemSessionExpired)
	}
	h.metrics.proxy["ok"].Inc()
	return string(at), true, nil
}

func (h *Handler) refuse(p *Problem) error {
	h.metrics.proxy[p.outcome].Inc()
	return p
}

// UncheckedAccessToken returns the access token of the request's access
// cookie without any of AccessToken's checks (origin, CSRF, ambiguous
// credentials) and without counting. It exists for one use: once the
// agent has answered a logout, the gateway drops that token from its own
// caches, so the session stops at once on that node rather than when the
// cache entry ends. It must never authorize a call.
func (h *Handler) UncheckedAccessToken(r *http.Request) (string, bool) {
	at, _, err := h.jar.open(r, kindAccess)
	if err != nil {
		return "", false
	}
	return string(at), true
}

// StripCookies removes every cookie of the agent, and CSRFHeader, from a
// request before it goes upstream: the backend gets the token the
// gateway forwards, never the browser's sealed session. Other cookies
// are kept. It reports whether there was one.
func (h *Handler) StripCookies(r *http.Request) bool {
	r.Header.Del(CSRFHeader)
	return stripCookies(r.Header, h.cookieNames)
}

// IsSessionExpired reports whether err (from AccessToken) is the
// session-expired problem the SPA answers by refreshing.
func IsSessionExpired(err error) bool {
	p, ok := errors.AsType[*Problem](err)
	return ok && p.Type == ProblemTypeSessionExpired
}
