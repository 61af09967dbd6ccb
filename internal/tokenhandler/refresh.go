package tokenhandler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"golang.org/x/oauth2"
)

// refreshSession runs the refresh grant with the refresh cookie and
// rewrites the token cookies; 204 on success. The issuer rotates refresh
// tokens and revokes the whole family when a rotated one comes back
// (RFC 9700 §4.14.2), so a stolen refresh cookie replayed after the
// user's own refresh ends both sessions. A refusal ends the session here
// too: every cookie is cleared and the SPA must log in again.
//
// The session does not outlive its login: the new refresh and ID
// cookies keep the expiry sealed in the old refresh cookie.
func (h *Handler) refreshSession(w http.ResponseWriter, r *http.Request) error {
	rt, sessionEnd, err := h.jar.open(r, kindRefresh)
	if err != nil {
		return failEnd(problemSessionExpired, fmt.Errorf("refresh cookie: %w", err))
	}
	ctx := r.Context()
	ic, err := h.disc.get(ctx)
	if err != nil {
		return fail(problemIssuerUnavailable, err)
	}
	tok, err := h.refresh(ctx, ic, string(rt))
	if err != nil {
		return h.tokenFailure(err, problemSessionExpired, true)
	}
	idRaw, err := h.refreshedIDToken(ctx, r, ic, tok)
	if err != nil {
		// The refresh token was rotated already; the new one is lost
		// with this answer, so the session is over either way.
		return failEnd(problemSessionExpired, err)
	}
	var sc setCookies
	if err := h.sessionCookies(&sc, tok, idRaw, sessionEnd, h.now()); err != nil {
		return err
	}
	sc.write(w)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// refreshedIDToken verifies the ID token of a refresh response, if any.
// OpenID Connect Core §12.2: it must be about the same user (iss and sub
// as before); it carries no nonce to check, as no authorization request
// preceded it.
func (h *Handler) refreshedIDToken(ctx context.Context, r *http.Request, ic *issuerClient, tok *oauth2.Token) (string, error) {
	if raw, _ := tok.Extra("id_token").(string); raw == "" {
		return "", nil
	}
	id, err := h.verifyIDToken(ctx, ic, tok)
	if err != nil {
		return "", err
	}
	if sub := h.subjectOf(r); sub != "" && sub != id.subject {
		return "", errSubjectChanged
	}
	return id.raw, nil
}

// subjectOf reads sub from the ID cookie's token; "" when there is none.
func (h *Handler) subjectOf(r *http.Request) string {
	raw, _, err := h.jar.open(r, kindID)
	if err != nil {
		return ""
	}
	payload, err := jwtPayload(string(raw))
	if err != nil {
		return ""
	}
	var c struct {
		Sub string `json:"sub"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return ""
	}
	return c.Sub
}

var errSubjectChanged = errors.New("refreshed id token names another subject")
