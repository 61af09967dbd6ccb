package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/portcullis/portcullis/internal/store"
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
	errTemporarilyUnavailable  = "temporarily_unavailable"
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
//
// Helpers return it as a plain error, never as *oauthError: a nil
// *oauthError stored in an error is not a nil error (the typed-nil trap),
// so the concrete type only comes back through errors.As, in clientError.
type oauthError struct {
	Status      int
	Code        string
	Description string
	// Basic marks a failed HTTP Basic authentication: the response is 401
	// with WWW-Authenticate (RFC 6749 §5.2).
	Basic bool
}

func (e *oauthError) Error() string { return e.Code + ": " + e.Description }

func newError(status int, code, description string) error {
	return &oauthError{Status: status, Code: code, Description: description}
}

func badRequest(code, description string) error {
	return newError(http.StatusBadRequest, code, description)
}

// internalError is what a client learns of a failure on our side; the
// cause goes to the log.
var internalError = oauthError{Status: http.StatusInternalServerError, Code: errServerError, Description: "internal error"}

// unavailableError is what a client learns when the store cannot be
// reached: the same request succeeds once it is back, so 503 with
// Retry-After (RFC 9110 §15.6.4) tells it to come back, where
// server_error says something is broken. temporarily_unavailable is the
// code RFC 6749 §4.1.2.1 gives the authorization endpoint for this; the
// token endpoint (§5.2) has none of its own and uses the same.
var unavailableError = oauthError{Status: http.StatusServiceUnavailable, Code: errTemporarilyUnavailable,
	Description: "the service is temporarily unavailable; retry later"}

// unavailableRetryAfter is the Retry-After of a 503, in seconds: long
// enough not to hammer a database coming back, short enough that a
// client does not wait much past its return.
const unavailableRetryAfter = "2"

// serverError logs err with what failed and returns the error the client
// sees instead: temporarily_unavailable when the store could not be
// reached (logged as a warning: an outage, not a bug), else server_error.
func (s *Server) serverError(ctx context.Context, what string, err error) error {
	if store.IsUnavailable(err) {
		s.log.WarnContext(ctx, what+": store unavailable", "err", err)
		e := unavailableError
		return &e
	}
	s.log.ErrorContext(ctx, what, "err", err)
	e := internalError
	return &e
}

// clientError returns the RFC error that err carries. A store that could
// not be reached is temporarily_unavailable; any other error is a bug on
// our side: it is logged and the client sees server_error.
func (s *Server) clientError(ctx context.Context, err error) oauthError {
	var e *oauthError
	if errors.As(err, &e) && e != nil {
		return *e
	}
	if store.IsUnavailable(err) {
		s.log.WarnContext(ctx, "store unavailable", "err", err)
		return unavailableError
	}
	s.log.ErrorContext(ctx, "error without an oauth error code", "err", err)
	return internalError
}

// writeError writes e as the JSON error body of RFC 6749 §5.2.
func (s *Server) writeError(w http.ResponseWriter, e oauthError) {
	h := w.Header()
	if e.Basic {
		h.Set("WWW-Authenticate", `Basic realm="`+s.realm+`", charset="UTF-8"`)
	}
	if e.Status == http.StatusServiceUnavailable {
		h.Set("Retry-After", unavailableRetryAfter)
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
