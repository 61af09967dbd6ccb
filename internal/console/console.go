// Package console is the admin console: server-rendered pages under
// /console on the admin listener, for reading the stored API catalog, the
// OAuth clients and the audit trail.
//
// The console is an ordinary confidential OAuth client of this node's own
// issuer (authorization code with PKCE, state and nonce): people sign in
// on the issuer's login pages, never here. The tokens stay on the server
// side of the browser: they travel only inside a session cookie sealed
// with AES-GCM under a key derived from the master key (HttpOnly,
// SameSite=Strict), which no script can read. Every page checks the
// caller's admin roles (the admin:* scopes of the access token, as the
// admin API counts them) and answers 403 without one of the page's roles.
//
// It must never show a token or a secret, never run a script (the CSP
// forbids inline script and style), never change state on a GET, and
// never reach the store directly: it reads through the small interfaces
// below, built by the server from finished parts.
package console

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/portcullis/portcullis/internal/admin"
	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/registry"
)

// ClientID is the client id the server registers for the console.
const ClientID = "portcullis-console"

// Path is where the console is served on the admin listener.
const Path = "/console"

// CallbackPath is the console's redirect URI path.
const CallbackPath = Path + "/callback"

// csp is sent with every answer: no inline script or style, no framing,
// forms post only here.
const csp = "default-src 'self'; frame-ancestors 'none'; form-action 'self'"

// Admin roles, as scopes of the access token (docs/admin-api.md).
const (
	RolePlatform  = "admin:platform"
	RolePublisher = "admin:publisher"
	RoleApprover  = "admin:approver"
	RoleDeveloper = "admin:developer"
	RoleAuditor   = "admin:auditor"
)

// AllRoles are every admin role, the scopes the console may ask for.
func AllRoles() []string {
	return []string{RolePlatform, RolePublisher, RoleApprover, RoleDeveloper, RoleAuditor}
}

// APIVersion is a stored API version as the catalog page shows it.
type APIVersion struct {
	Name, Version, BasePath string
	// State is draft, published, deprecated or retired.
	State     string
	Tags      []string
	Owners    []string
	UpdatedAt time.Time
}

// CatalogReader lists the stored API versions.
type CatalogReader interface {
	APIVersions(ctx context.Context) ([]APIVersion, error)
}

// ClientReader lists the registered OAuth clients, without secrets.
type ClientReader interface {
	List(ctx context.Context) ([]registry.ClientInfo, error)
}

// AuditReader lists audit records (audit.Auditor.List).
type AuditReader interface {
	List(ctx context.Context, f audit.Filter, after int64, limit int) ([]audit.Record, int64, error)
}

// Sealer seals and opens the session cookie (keys.Sealer).
type Sealer interface {
	Seal(plaintext, aad []byte) ([]byte, error)
	Open(sealed, aad []byte) ([]byte, error)
}

// Options are the finished parts the console is built from.
type Options struct {
	// Issuer is this node's issuer URL; the console signs in through its
	// authorization and token endpoints.
	Issuer string
	// BaseURL is the console's own origin ("http://127.0.0.1:8081"); the
	// redirect URI is BaseURL + CallbackPath.
	BaseURL string
	// ClientSecret is the console client's secret.
	ClientSecret string
	// Scopes are the admin roles the console asks for; the issuance
	// policy grants each user those their roles allow.
	Scopes []string
	// Secure sets the cookies' Secure attribute (and __Host- names);
	// false only for a loopback http origin.
	Secure   bool
	Sealer   Sealer
	Verifier admin.TokenVerifier
	// IDTokens checks the ID token of a sign-in and returns its nonce.
	IDTokens IDTokenVerifier
	Catalog  CatalogReader
	Clients  ClientReader
	Audit    AuditReader
	// HTTPClient calls the token endpoint; nil means one with a 10 s
	// timeout.
	HTTPClient *http.Client
	Logger     *slog.Logger
	Now        func() time.Time
}

// IDTokenVerifier verifies an ID token issued to the console (signature,
// issuer, audience, expiry) and returns the claims the console uses.
type IDTokenVerifier interface {
	VerifyIDToken(ctx context.Context, raw string) (IDToken, error)
}

// IDToken holds the claims of a verified ID token the console uses.
type IDToken struct {
	// Nonce must equal the sign-in's nonce (OIDC Core §3.1.3.7).
	Nonce string
	// Username is preferred_username, shown in the header; "" when absent.
	Username string
}

// Console serves the admin console.
type Console struct {
	o     Options
	pages *template.Template
	log   *slog.Logger
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/console.css
var stylesheet []byte

// New builds the console from o.
func New(o Options) (*Console, error) {
	if o.Sealer == nil || o.Verifier == nil || o.IDTokens == nil || o.Issuer == "" || o.BaseURL == "" {
		return nil, errors.New("console: issuer, base URL, sealer and verifiers are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	t, err := template.New("").Funcs(template.FuncMap{
		"fmtTime": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04:05Z")
		},
	}).ParseFS(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	return &Console{o: o, pages: t, log: o.Logger}, nil
}

// Register adds the console's routes to mux.
func (c *Console) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+Path+"/static/console.css", c.css)
	mux.HandleFunc("GET "+Path, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, Path+"/", http.StatusSeeOther)
	})
	mux.HandleFunc("GET "+Path+"/{$}", c.home)
	mux.HandleFunc("GET "+Path+"/login", c.login)
	mux.HandleFunc("GET "+CallbackPath, c.callback)
	mux.HandleFunc("POST "+Path+"/logout", c.logout)
	mux.HandleFunc("GET "+Path+"/catalog", c.page(pageCatalog, c.catalog))
	mux.HandleFunc("GET "+Path+"/clients", c.page(pageClients, c.clients))
	mux.HandleFunc("GET "+Path+"/audit", c.page(pageAudit, c.audit))
}

func (c *Console) css(w http.ResponseWriter, _ *http.Request) {
	securityHeaders(w)
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(stylesheet) // the client went away; nothing to do
}

// securityHeaders are sent with every answer of the console.
func securityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}
