package tokenhandler

import (
	"encoding/json"
	"net/http"
)

// ProblemTypePrefix starts every problem type of the token handler, as
// it does the gateway's: clients branch on the type, never on the text.
const ProblemTypePrefix = "urn:portcullis:problem:"

// ProblemTypeSessionExpired is the type of the 401 an SPA recognises as
// "refresh, or log in again": the agent answers it when the session
// cookies are missing, expired or refused by the issuer, and the OAuth
// proxy when a call to an API carries no usable access token cookie.
//
//	HTTP/1.1 401 Unauthorized
//	Content-Type: application/problem+json
//
//	{"type":"urn:portcullis:problem:session-expired","title":"Session expired",
//	 "status":401,"detail":"Refresh the session or log in again."}
const ProblemTypeSessionExpired = ProblemTypePrefix + "session-expired"

// Problem is an RFC 9457 problem the token handler answers with; it is
// also the error the OAuth proxy returns (proxy.go), so the gateway can
// answer exactly what the SPA expects. Its text never holds a token, a
// cookie value or a secret.
type Problem struct {
	// Status is the HTTP status code.
	Status int
	// Type is ProblemTypePrefix followed by a stable slug.
	Type string
	// Title is a short, fixed summary of the type.
	Title string
	// Detail says what the client can do; fixed per type.
	Detail string

	// oauthError is the OAuth error code of an authorization response
	// (RFC 6749 §4.1.2.1), answered as the "error" member.
	oauthError string
	// outcome is the metric label.
	outcome string
	// endSession makes the answer clear every session cookie: a session
	// the issuer refused is of no further use.
	endSession bool
}

// Error returns the type and title.
func (p *Problem) Error() string { return "tokenhandler: " + p.Title + " (" + p.Type + ")" }

// Write answers with the problem as application/problem+json. It sets no
// cookie; the agent clears the session itself where the problem says so.
func (p *Problem) Write(w http.ResponseWriter) {
	body := struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail,omitempty"`
		Error  string `json:"error,omitempty"`
	}{p.Type, p.Title, p.Status, p.Detail, p.oauthError}
	b, _ := json.Marshal(body) // strings and an int: cannot fail
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_, _ = w.Write(append(b, '\n'))
}

func newProblem(status int, slug, title, detail, outcome string) *Problem {
	return &Problem{Status: status, Type: ProblemTypePrefix + slug, Title: title, Detail: detail, outcome: outcome}
}

// The problems. Details say what to do next, never which check failed
// in a way that helps an attacker, and never quote the request.
var (
	problemOrigin = newProblem(http.StatusForbidden, "origin-not-allowed", "Origin not allowed",
		"The request must come from one of the app's origins.", "origin")
	problemCSRF = newProblem(http.StatusForbidden, "csrf-check-failed", "CSRF check failed",
		"Send the value from login/end or session in the x-pc-csrf header.", "csrf")
	problemSessionExpired = &Problem{Status: http.StatusUnauthorized, Type: ProblemTypeSessionExpired,
		Title: "Session expired", Detail: "Refresh the session or log in again.", outcome: "session_expired", endSession: true}
	problemAmbiguous = newProblem(http.StatusBadRequest, "ambiguous-credentials", "Ambiguous credentials",
		"Send either the session cookie or an Authorization header, not both (RFC 6750 §2).", "ambiguous")
	problemBadRequest = newProblem(http.StatusBadRequest, "bad-request", "Bad request",
		"The request body must be a JSON object as documented.", "bad_request")
	problemMediaType = newProblem(http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type",
		"Send the body as application/json.", "bad_request")
	problemNotRedirect = newProblem(http.StatusBadRequest, "bad-request", "Bad request",
		"pageUrl carries an authorization response but is not the app's redirect URI.", "bad_request")
	problemNoLogin = newProblem(http.StatusBadRequest, "login-not-started", "No login in progress",
		"No login is pending in this browser, or it took too long: start the login again.", "login_state")
	problemStateMismatch = newProblem(http.StatusBadRequest, "state-mismatch", "State mismatch",
		"The authorization response does not belong to the login in progress: start the login again.", "state_mismatch")
	problemIssuerMismatch = newProblem(http.StatusBadRequest, "issuer-mismatch", "Issuer mismatch",
		"The authorization response comes from another issuer (RFC 9207): start the login again.", "issuer_mismatch")
	problemLoginFailed = newProblem(http.StatusUnauthorized, "login-failed", "Login failed",
		"The issuer refused the authorization code or its tokens did not verify: start the login again.", "login_failed")
	problemIssuerUnavailable = newProblem(http.StatusBadGateway, "issuer-unavailable", "Issuer unavailable",
		"The authorization server could not be reached; retry later.", "issuer_unavailable")
	problemCookieTooLarge = newProblem(http.StatusInternalServerError, "cookie-too-large", "Cookie too large",
		"The tokens do not fit in a cookie; the operator must use opaque or split access tokens.", "cookie_too_large")
	problemInternal   = newProblem(http.StatusInternalServerError, "internal-error", "Internal error", "", "internal")
	problemNotFound   = newProblem(http.StatusNotFound, "not-found", "Not found", "", "not_found")
	problemMethod     = newProblem(http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed", "", "method")
	problemNoUserinfo = newProblem(http.StatusNotImplemented, "not-supported", "Not supported",
		"The issuer publishes no userinfo endpoint.", "not_supported")
)

// authorizationError is the 401 for an authorization response that
// carries an error (RFC 6749 §4.1.2.1). Only the code is answered: the
// description is text anyone could have put in the URL.
func authorizationError(code string) *Problem {
	return &Problem{Status: http.StatusUnauthorized, Type: ProblemTypePrefix + "authorization-error",
		Title: "Authorization failed", Detail: "The issuer answered the login with an error; see the error member.",
		oauthError: code, outcome: "authorization_error"}
}
