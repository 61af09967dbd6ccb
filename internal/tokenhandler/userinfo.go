package tokenhandler

import (
	"errors"
	"fmt"
	"net/http"
)

// userinfo relays the issuer's userinfo (OpenID Connect Core §5.3) for
// the access token in the cookie. An access token the issuer refuses is
// a session-expired answer without ending the session: the SPA refreshes
// and tries again.
func (h *Handler) userinfo(w http.ResponseWriter, r *http.Request) error {
	at, _, err := h.jar.open(r, kindAccess)
	if err != nil {
		return fail(problemSessionExpired, fmt.Errorf("access cookie: %w", err))
	}
	ctx := r.Context()
	ic, err := h.disc.get(ctx)
	if err != nil {
		return fail(problemIssuerUnavailable, err)
	}
	if ic.userinfo == "" {
		return fail(problemNoUserinfo, nil)
	}
	body, err := h.fetchUserinfo(ctx, ic, string(at))
	switch {
	case errors.Is(err, errUnauthorized):
		return fail(problemSessionExpired, err)
	case err != nil:
		return fail(problemIssuerUnavailable, err)
	}
	jsonHeaders(w)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	return nil
}
