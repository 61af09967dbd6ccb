package oauth

import (
	"encoding/json"
	"net/http"
)

// Error codes of RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1, RFC 8707 §2
// and OpenID Connect Core §3.1.2.6.
const (
	errInvalidRequest          = "invalid_request"
	errInvalidClient           = "invalid_client"
	errInvalidGrant            = "invalid_grant"
	errUnauthorizedClient      = "unauthorized_client"
	errUnsupportedGrantType    = "unsupported_grant_type"
	errUnsupportedResponseType = "unsupported_response_type"
	errInvalidScope            = "invalid_scope"
	errAccessDenied            = "access_denied"
	errServerError             = "server_error"
	errInvalidTarget           = "invalid_target"
	errInvalidToken            = "invalid_token"
	errInsufficientScope       = "insufficient_scope"
	errLoginRequired           = "login_required"
	errConsentRequired         = "consent_required"
	errRequestNotSupported     = "request_not_supported"
	errRequestURINotSupported  = "request_uri_not_supported"
)

// oauthError is an error a client may see: a code from the RFCs and a
// description that never carries a secret, a token or an internal detail.
type oauthError struct {
	Status      int
	Code        string
	Description string
	// Basic marks a failed HTTP Basic authentication: the response is 401
	// with WWW-Authenticate (RFC 6749 §5.2).
	Basic bool
}

func (e *oauthError) Error() string { return e.Code + ": " + e.Description }

func newError(status int, code, description string) *oauthError {
	return &oauthError{Status: status, Code: code, Description: description}
}

func badRequest(code, description string) *oauthError {
	return newError(http.StatusBadRequest, code, description)
}

// writeError writes e as the JSON error body of RFC 6749 §5.2.
func (s *Server) writeError(w http.ResponseWriter, e *oauthError) {
	h := w.Header()
	if e.Basic {
		h.Set("WWW-Authenticate", `Basic realm="`+s.realm+`", charset="UTF-8"`)
	}
	writeJSON(w, e.Status, struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{e.Code, e.Description})
}

// writeJSON writes v with the headers every token-bearing response needs:
// RFC 6749 §5.1 forbids caching them.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
