package identity

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
)

//go:embed templates/*.html templates/style.css
var templateFS embed.FS

// LoginPage is what the login form shows.
type LoginPage struct {
	// Action is the URL the form posts to.
	Action string
	// Request is an opaque, sealed copy of the pending authorization
	// request, posted back in a hidden field.
	Request string
	// CSRF is the token from CSRF.Token, posted back as "csrf_token".
	CSRF string
	// ClientName names the client the user is signing in to.
	ClientName string
	// Username refills the username field after a failed attempt.
	Username string
	// Error is a message for the user ("Wrong username or password.").
	Error string
}

// ConsentPage is what the consent form shows.
type ConsentPage struct {
	// Action is the URL the form posts to.
	Action string
	// Request is the sealed pending authorization request, posted back.
	Request string
	// CSRF is the token from CSRF.Token, posted back as "csrf_token".
	CSRF string
	// ClientName names the client asking for access.
	ClientName string
	// Username names the signed-in user.
	Username string
	// Scopes are the scopes the client asks for.
	Scopes []string
	// ScopeDescriptions optionally explain scopes in plain words; a scope
	// without one falls back to a built-in text for the OpenID Connect
	// scopes, else shows its name alone.
	ScopeDescriptions map[string]string
}

// ErrorPage is shown when the authorization request cannot be redirected
// back to the client (unknown client, bad redirect_uri, RFC 6749 §4.1.2.1).
type ErrorPage struct {
	// Title is the heading; empty means "Error".
	Title string
	// Message explains what happened; it must not hold secrets.
	Message string
}

// The form field names the authorization endpoint reads back; the
// templates use the same names.
const (
	// FieldRequest holds the sealed pending authorization request.
	FieldRequest = "request"
	// FieldCSRF holds the CSRF token.
	FieldCSRF = "csrf_token"
	// FieldUsername holds the username on the login form.
	FieldUsername = "username"
	// FieldPassword holds the password on the login form.
	FieldPassword = "password"
	// FieldDecision holds DecisionAllow or DecisionDeny on the consent form.
	FieldDecision = "decision"
	// DecisionAllow is the consent form's value for granting access.
	DecisionAllow = "allow"
	// DecisionDeny is the consent form's value for refusing access.
	DecisionDeny = "deny"
)

// builtinScopes describes the OpenID Connect Core §5.4 and §11 scopes.
var builtinScopes = map[string]string{
	"openid":         "Confirm who you are",
	"profile":        "See your basic profile (name, picture)",
	"email":          "See your email address",
	"address":        "See your postal address",
	"phone":          "See your phone number",
	"offline_access": "Stay connected when you are not using it",
}

// Pages renders the server's HTML pages from embedded templates, with
// security headers: a strict Content-Security-Policy with
// frame-ancestors 'none', X-Frame-Options DENY, Cache-Control no-store,
// Referrer-Policy no-referrer.
//
// The pages run no script at all. The one stylesheet is inlined in a
// <style> element allowed by its SHA-256 hash in the CSP, so nothing else
// can style (or exfiltrate through CSS) even if markup were injected.
type Pages struct {
	log     *slog.Logger
	login   *template.Template
	consent *template.Template
	errPage *template.Template
	// logout and signedOut are the end-session pages (logout_pages.go).
	logout    *template.Template
	signedOut *template.Template
	csp       string
}

// NewPages parses the embedded templates. A nil logger discards.
func NewPages(logger *slog.Logger) (*Pages, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	css, err := templateFS.ReadFile("templates/style.css")
	if err != nil {
		return nil, fmt.Errorf("identity: read stylesheet: %w", err)
	}
	sum := sha256.Sum256(css)
	p := &Pages{
		log: logger,
		// CSP Level 3 §6.1: default-src 'none' blocks script, fonts,
		// connections and objects. form-action is left out on purpose:
		// browsers apply it to the redirect that follows the consent
		// POST, which goes to the client's redirect_uri.
		csp: "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
			"'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'",
	}
	funcs := template.FuncMap{
		// template.CSS is trusted as is inside <style>, so the element
		// holds exactly the bytes the CSP hash covers.
		"stylesheet":       func() template.CSS { return template.CSS(css) },
		"scopeDescription": scopeDescription,
	}
	for _, pg := range []struct {
		dst  **template.Template
		file string
	}{
		{&p.login, "login.html"},
		{&p.consent, "consent.html"},
		{&p.errPage, "error.html"},
		{&p.logout, "logout.html"},
		{&p.signedOut, "signed_out.html"},
	} {
		t, err := template.New(pg.file).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+pg.file)
		if err != nil {
			return nil, fmt.Errorf("identity: parse %s: %w", pg.file, err)
		}
		*pg.dst = t
	}
	return p, nil
}

// CSP returns the Content-Security-Policy sent with every page.
func (p *Pages) CSP() string { return p.csp }

// Login writes the login page with status.
func (p *Pages) Login(w http.ResponseWriter, status int, d LoginPage) {
	p.render(w, status, p.login, d)
}

// Consent writes the consent page.
func (p *Pages) Consent(w http.ResponseWriter, d ConsentPage) {
	p.render(w, http.StatusOK, p.consent, d)
}

// Error writes an error page with status.
func (p *Pages) Error(w http.ResponseWriter, status int, d ErrorPage) {
	p.render(w, status, p.errPage, d)
}

// render executes t into a buffer first, so a template failure becomes a
// clean 500 instead of half a page under a success status.
func (p *Pages) render(w http.ResponseWriter, status int, t *template.Template, data any) {
	if status == 0 {
		status = http.StatusOK
	}
	if status < 100 || status > 999 {
		// WriteHeader panics on such codes; a caller bug, not a user's.
		p.log.Error("page rendered with invalid status", "page", t.Name(), "status", status)
		status = http.StatusInternalServerError
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		// The error names the template and field, never the data.
		p.log.Error("render page", "page", t.Name(), "err", err)
		p.securityHeaders(w)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("internal server error\n"))
		return
	}
	p.securityHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	// A write error means the client went away; nothing left to do.
	_, _ = buf.WriteTo(w)
}

func (p *Pages) securityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", p.csp)
	// For browsers without CSP frame-ancestors (RFC 7034).
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	// Pages carry CSRF tokens and sealed requests: never cache them
	// (Pragma for HTTP/1.0 caches, RFC 9111 §5.4).
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Referrer-Policy", "no-referrer")
}

// scopeDescription returns the text shown for scope: the caller's
// description, else a built-in one, else "".
func scopeDescription(custom map[string]string, scope string) string {
	if d, ok := custom[scope]; ok && d != "" {
		return d
	}
	return builtinScopes[scope]
}
