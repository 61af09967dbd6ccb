// Package console is the admin console: server-rendered pages under
// /console on the admin listener, for reading the stored API catalog, the
// OAuth clients, applications, subscriptions and the audit trail, and for
// moving an API version through its lifecycle.
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
	"net/url"
	"slices"
	"strings"
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

// VersionDetail is one stored API version as its page shows it. It holds
// nothing secret: the upstream is reduced to its host.
type VersionDetail struct {
	Name, Version, BasePath string
	// State is draft, published, deprecated or retired.
	State       string
	Description string
	Owners      []string
	Tags        []string
	// UpstreamHost is the upstream's host[:port] only, never its user
	// information, path or query.
	UpstreamHost string
	// Public: every operation is reachable without a token.
	Public    bool
	Audiences []string
	// Deprecated and Sunset are zero when not set.
	Deprecated, Sunset time.Time
	// Gateways are the gateway groups serving the version; empty means
	// the default group.
	Gateways   []string
	Operations []Operation
	// Limits are the version's own limits (each operation's are in its
	// Operation).
	Limits []Limit
	// NextStates are the states the lifecycle allows the version to move
	// to from State, in lifecycle order; empty when it is final.
	NextStates []string
	// Fingerprint changes whenever the stored version does; a state
	// change is refused when it no longer matches (an entity tag).
	Fingerprint string
}

// Operation is one method and path of an API version.
type Operation struct {
	// Method is an HTTP method, or "*" for any.
	Method, Path string
	Scopes       []string
	Public       bool
	Limits       []Limit
}

// Limit is a rate limit or quota as people read it.
type Limit struct {
	Name string
	// Amount is "100/s", "5000/day" or "1000/hour (rolling)".
	Amount string
	// Burst is a rate's burst; zero means its rate.
	Burst int64
	// Key is what the limit counts by: client_id, sub, ip, ...
	Key []string
}

// VersionReader returns one stored API version, or an error wrapping
// ErrNotFound.
type VersionReader interface {
	Version(ctx context.Context, name, version string) (VersionDetail, error)
}

// StateSetter moves a stored API version to another lifecycle state, as
// the actor ctx carries (audit.WithActor), provided the version still has
// fingerprint. It returns the version as stored after the move, or an
// error wrapping ErrNotFound or ErrStale, or a *RefusedError.
type StateSetter interface {
	SetState(ctx context.Context, name, version, to, fingerprint string) (VersionDetail, error)
}

// ErrNotFound: no such object.
var ErrNotFound = errors.New("console: not found")

// ErrStale: the object changed since the operator read it.
var ErrStale = errors.New("console: changed since it was read")

// RefusedError is a change the domain refused, with reasons fit to show
// to the operator (a lifecycle rule, a validation problem), never an
// internal error's text.
type RefusedError struct {
	Reasons []string
}

// Error joins the reasons.
func (e *RefusedError) Error() string {
	return "refused: " + strings.Join(e.Reasons, "; ")
}

// Application is an application (an OAuth client owned by a developer or
// team) as the applications page shows it.
type Application struct {
	ID, Name, ClientID string
	// Owner is the subject of the developer who owns it.
	Owner, Team string
	// Environment is where it runs ("production", "sandbox"); "" when
	// not set.
	Environment string
	CreatedAt   time.Time
}

// Subscription is an application's subscription to an API version under
// a plan, as the subscriptions page shows it.
type Subscription struct {
	ID string
	// ApplicationID and Application name the subscribing application;
	// Owner is that application's owner (a subject), so a developer's
	// view keeps to their own.
	ApplicationID, Application, Owner string
	API, Version, Plan                string
	// State is the subscription's state (requested, active, ...).
	State     string
	CreatedAt time.Time
}

// ApplicationReader lists the applications.
type ApplicationReader interface {
	Applications(ctx context.Context) ([]Application, error)
}

// SubscriptionReader lists the subscriptions.
type SubscriptionReader interface {
	Subscriptions(ctx context.Context) ([]Subscription, error)
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
	// Versions shows one API version; nil: the version page says it is
	// not available on this node.
	Versions VersionReader
	// Lifecycle changes a version's state; nil: no state form.
	Lifecycle StateSetter
	Clients   ClientReader
	// Applications and Subscriptions back their pages; nil: the page says
	// it is not available on this node.
	Applications  ApplicationReader
	Subscriptions SubscriptionReader
	Audit         AuditReader
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
		"fmtDate": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02")
		},
		"versionPath":  versionPath,
		"stateMove":    func(s string) stateMove { return stateMoves[s] },
		"stateMeaning": func(s string) string { return stateMeanings[s] },
		"opLimits": func(ops []Operation) bool {
			return slices.ContainsFunc(ops, func(o Operation) bool { return len(o.Limits) > 0 })
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
	mux.HandleFunc("GET "+Path+"/catalog/{name}/{version}", c.page(pageCatalog, c.version))
	mux.HandleFunc("POST "+Path+"/catalog/{name}/{version}/state", c.action(pageCatalog, catalogWriters, c.setState))
	mux.HandleFunc("GET "+Path+"/applications", c.page(pageApplications, c.applications))
	mux.HandleFunc("GET "+Path+"/subscriptions", c.page(pageSubscriptions, c.subscriptions))
	mux.HandleFunc("GET "+Path+"/clients", c.page(pageClients, c.clients))
	mux.HandleFunc("GET "+Path+"/audit", c.page(pageAudit, c.audit))
}

// versionPath is the path of an API version's page.
func versionPath(name, version string) string {
	return Path + "/catalog/" + url.PathEscape(name) + "/" + url.PathEscape(version)
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
