package tokenhandler

import (
	"context"
	"net/http"
)

// logoutResponse is POST logout's answer: the end-session URL the SPA
// navigates to when the issuer has one (OpenID Connect RP-Initiated
// Logout 1.0), so the user's login at the issuer ends too.
type logoutResponse struct {
	EndSessionURL string `json:"endSessionUrl,omitempty"`
}

// logout revokes the session's tokens at the issuer, best effort and
// bounded in time (RFC 7009), and clears every cookie. The refresh token
// is revoked when there is one, which revokes the access tokens of its
// grant too (§2.1); otherwise the access token is.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) error {
	var sc setCookies
	h.jar.clear(&sc, sessionKinds...)
	h.jar.clear(&sc, kindLogin)
	sc.write(w)
	// Detached: the user asked to log out, and a browser that goes away
	// must not leave the tokens valid.
	ctx := context.WithoutCancel(r.Context())
	ic, err := h.disc.get(r.Context())
	if err != nil {
		h.log.WarnContext(ctx, "logout without revocation: issuer unavailable", "err", err)
		return writeJSON(w, http.StatusOK, logoutResponse{})
	}
	tok, hint := "", ""
	if rt, _, err := h.jar.open(r, kindRefresh); err == nil {
		tok, hint = string(rt), "refresh_token"
	} else if at, _, err := h.jar.open(r, kindAccess); err == nil {
		tok, hint = string(at), "access_token"
	}
	if tok != "" {
		if err := h.revoke(ctx, ic, tok, hint); err != nil {
			h.log.WarnContext(ctx, "logout: revocation failed; the tokens stay valid until they expire", "err", err)
		}
	}
	return writeJSON(w, http.StatusOK, logoutResponse{EndSessionURL: h.endSessionURL(ic)})
}
