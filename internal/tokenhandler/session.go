package tokenhandler

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// sessionResponse is GET session's answer.
type sessionResponse struct {
	IsLoggedIn bool   `json:"isLoggedIn"`
	CSRF       string `json:"csrf,omitempty"`
}

// session tells the SPA whether it has a session and, if so, the CSRF
// value (after a page reload the SPA has lost the one login/end gave
// it). Only the SPA's origins can read the answer (cors.go).
func (h *Handler) session(w http.ResponseWriter, r *http.Request) error {
	csrf, ok := h.sessionCSRF(r)
	return writeJSON(w, http.StatusOK, sessionResponse{IsLoggedIn: ok, CSRF: csrf})
}

// sessionCSRF returns the CSRF value when the request carries a session:
// a CSRF cookie and an access or refresh cookie that open.
func (h *Handler) sessionCSRF(r *http.Request) (string, bool) {
	csrf, _, err := h.jar.open(r, kindCSRF)
	if err != nil {
		return "", false
	}
	if _, _, err := h.jar.open(r, kindAccess); err == nil {
		return string(csrf), true
	}
	if _, _, err := h.jar.open(r, kindRefresh); err == nil {
		return string(csrf), true
	}
	return "", false
}

// claims answers the ID token's claims from the ID cookie, without a
// call to the issuer: the token was verified when the cookie was set,
// and the seal keeps it as it was.
func (h *Handler) claims(w http.ResponseWriter, r *http.Request) error {
	raw, _, err := h.jar.open(r, kindID)
	if err != nil {
		return fail(problemSessionExpired, fmt.Errorf("id cookie: %w", err))
	}
	payload, err := jwtPayload(string(raw))
	if err != nil {
		return err
	}
	jsonHeaders(w)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(payload, '\n'))
	return nil
}

// jwtPayload returns the claims of a compact JWS (RFC 7515 §7.1) whose
// signature was checked before it was sealed.
func jwtPayload(raw string) (json.RawMessage, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, errors.New("id cookie does not hold a compact JWS")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("id token payload: %w", err)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return nil, fmt.Errorf("id token payload: %w", err)
	}
	return b, nil
}
