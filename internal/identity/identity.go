// Package identity knows end users: it hashes and checks passwords
// (argon2id), keeps browser login sessions, protects forms against CSRF and
// renders the login and consent pages of the authorization server.
//
// It must never log a password, a session id or a CSRF token, and never
// serve a page that can be framed.
package identity

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// ErrBadCredentials means the username or password is wrong (which of the
// two is never told).
var ErrBadCredentials = errors.New("identity: bad credentials")

// Hasher hashes passwords with argon2id (m=19 MiB, t=2, p=1) and bounds how
// many hashes run at once, so a login flood cannot exhaust memory.
type Hasher struct{}

// NewHasher returns a hasher allowing concurrency hashes at once (≤0 means
// the number of CPUs).
func NewHasher(concurrency int) *Hasher { panic("todo") }

// Hash returns the PHC string of password with a fresh random salt.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) { panic("todo") }

// Verify reports whether password matches the PHC string encoded.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (bool, error) {
	panic("todo")
}

// UserStore is what user management needs from persistence.
type UserStore interface {
	CreateUser(ctx context.Context, u store.User) error
	GetUser(ctx context.Context, id string) (store.User, error)
	GetUserByUsername(ctx context.Context, username string) (store.User, error)
	ListUsers(ctx context.Context) ([]store.User, error)
	UpdateUser(ctx context.Context, u store.User) error
	DeleteUser(ctx context.Context, id string) error
}

// Users manages users and checks their passwords.
type Users struct{}

// NewUsers returns the user service.
func NewUsers(st UserStore, h *Hasher, now func() time.Time) *Users { panic("todo") }

// Create adds a user with a fresh random id; password may be empty (login
// disabled until one is set). Usernames are 1–64 characters of letters,
// digits and ._@-.
func (u *Users) Create(ctx context.Context, username, password string, roles []string, attrs map[string]string) (store.User, error) {
	panic("todo")
}

// SetPassword replaces the password of the user named username.
func (u *Users) SetPassword(ctx context.Context, username, password string) error { panic("todo") }

// Authenticate returns the user when username and password match and the
// user is not disabled, else ErrBadCredentials. It spends the same hashing
// work on an unknown username, so timing does not tell which users exist.
func (u *Users) Authenticate(ctx context.Context, username, password string) (store.User, error) {
	panic("todo")
}

// SessionStore is what sessions need from persistence.
type SessionStore interface {
	CreateSession(ctx context.Context, s store.Session) error
	GetSession(ctx context.Context, digest []byte) (store.Session, error)
	DeleteSession(ctx context.Context, digest []byte) error
}

// SessionConfig sets the session cookie.
type SessionConfig struct {
	// CookieName defaults to "portcullis_session".
	CookieName string
	// TTL is the session lifetime; zero means 8h.
	TTL time.Duration
	// Secure sets the cookie's Secure attribute; it may be false only when
	// the issuer is plain http on a loopback address.
	Secure bool
	// Path scopes the cookie; empty means "/".
	Path string
}

// Sessions keeps browser login sessions: a random cookie value, stored as
// its SHA-256 digest. Cookies are HttpOnly, SameSite=Lax, Secure as
// configured.
type Sessions struct{}

// NewSessions returns the session service.
func NewSessions(st SessionStore, cfg SessionConfig, now func() time.Time) *Sessions {
	panic("todo")
}

// Current returns the live session of r, if any.
func (s *Sessions) Current(ctx context.Context, r *http.Request) (store.Session, bool) {
	panic("todo")
}

// Start creates a session for subject, authenticated at authTime, and sets
// its cookie on w.
func (s *Sessions) Start(ctx context.Context, w http.ResponseWriter, subject string, authTime time.Time) (store.Session, error) {
	panic("todo")
}

// End deletes the session of r and clears its cookie.
func (s *Sessions) End(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	panic("todo")
}

// CSRF protects forms: a random per-browser cookie plus a form field holding
// an HMAC of it (signed double-submit), compared in constant time.
type CSRF struct{}

// NewCSRF returns a CSRF guard keyed with key (32 bytes); secure sets the
// cookie's Secure attribute.
func NewCSRF(key []byte, secure bool) *CSRF { panic("todo") }

// Token returns the value to embed in a form served to r, setting the
// browser cookie on w first when r has none.
func (c *CSRF) Token(w http.ResponseWriter, r *http.Request) string { panic("todo") }

// Valid reports whether the form field value matches r's cookie.
func (c *CSRF) Valid(r *http.Request, value string) bool { panic("todo") }

// LoginPage is what the login form shows.
type LoginPage struct {
	// Action is the URL the form posts to.
	Action string
	// Request is an opaque, sealed copy of the pending authorization
	// request, posted back in a hidden field.
	Request    string
	CSRF       string
	ClientName string
	Username   string
	// Error is a message for the user ("Wrong username or password.").
	Error string
}

// ConsentPage is what the consent form shows.
type ConsentPage struct {
	Action     string
	Request    string
	CSRF       string
	ClientName string
	Username   string
	// Scopes are the scopes the client asks for.
	Scopes []string
}

// ErrorPage is shown when the authorization request cannot be redirected
// back to the client (unknown client, bad redirect_uri, RFC 6749 §4.1.2.1).
type ErrorPage struct {
	Title   string
	Message string
}

// Pages renders the server's HTML pages from embedded templates, with
// security headers: a strict Content-Security-Policy with
// frame-ancestors 'none', X-Frame-Options DENY, Cache-Control no-store,
// Referrer-Policy no-referrer.
type Pages struct{}

// NewPages parses the embedded templates.
func NewPages(logger *slog.Logger) (*Pages, error) { panic("todo") }

// Login writes the login page with status.
func (p *Pages) Login(w http.ResponseWriter, status int, d LoginPage) { panic("todo") }

// Consent writes the consent page.
func (p *Pages) Consent(w http.ResponseWriter, d ConsentPage) { panic("todo") }

// Error writes an error page with status.
func (p *Pages) Error(w http.ResponseWriter, status int, d ErrorPage) { panic("todo") }
