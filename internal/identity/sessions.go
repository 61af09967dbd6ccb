package identity

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// sessionBytes is the entropy of a session cookie: 256 bits, far beyond
// guessing (OWASP Session Management asks for at least 64).
const sessionBytes = 32

// ErrNoSubject means Start was called without a subject.
var ErrNoSubject = errors.New("identity: session needs a subject")

// SessionCookieName is the default name of the session cookie when it is
// not Secure (a plain-http issuer on a loopback address, a developer's
// machine), where browsers refuse the __Host- prefix.
const SessionCookieName = "portcullis_session"

// SessionHostCookieName is the default name of a Secure session cookie on
// Path=/. The __Host- prefix (RFC 6265bis §4.1.3.2) makes browsers refuse
// the cookie unless it is Secure, has Path=/ and no Domain, so a sibling
// subdomain or a plain-http page cannot plant a session (fixation) or
// overwrite one.
const SessionHostCookieName = "__Host-" + SessionCookieName

// SessionStore is what sessions need from persistence.
type SessionStore interface {
	CreateSession(ctx context.Context, s store.Session) error
	GetSession(ctx context.Context, digest []byte) (store.Session, error)
	DeleteSession(ctx context.Context, digest []byte) error
}

// SessionConfig sets the session cookie.
type SessionConfig struct {
	// CookieName empty means SessionHostCookieName when the cookie is
	// Secure on Path "/", else SessionCookieName. A name given here is
	// used as is: a __Host- one works only Secure on Path "/".
	CookieName string
	// TTL is the session lifetime; zero means 8h.
	TTL time.Duration
	// Secure sets the cookie's Secure attribute; it may be false only when
	// the issuer is plain http on a loopback address.
	Secure bool
	// Path scopes the cookie; empty means "/".
	Path string
	// Logger receives the store failures Sessions handles itself (a
	// failed delete of an expired session); nil discards them.
	Logger *slog.Logger
}

// Sessions keeps browser login sessions: a random cookie value, stored as
// its SHA-256 digest. Cookies are HttpOnly, SameSite=Lax, Secure as
// configured.
//
// SameSite=Lax, not Strict: a user arriving at the authorization endpoint
// from the client's site is a cross-site top-level navigation, and Strict
// would hide the session and force a fresh login every time.
type Sessions struct {
	st  SessionStore
	cfg SessionConfig
	now func() time.Time
}

// NewSessions returns the session service. A nil now means time.Now.
func NewSessions(st SessionStore, cfg SessionConfig, now func() time.Time) *Sessions {
	if cfg.TTL <= 0 {
		cfg.TTL = 8 * time.Hour
	}
	if cfg.Path == "" {
		cfg.Path = "/"
	}
	if cfg.CookieName == "" {
		cfg.CookieName = SessionCookieName
		if cfg.Secure && cfg.Path == "/" {
			cfg.CookieName = SessionHostCookieName
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &Sessions{st: st, cfg: cfg, now: now}
}

// CookieName returns the name of the session cookie.
func (s *Sessions) CookieName() string { return s.cfg.CookieName }

// Current returns the live session of r, if any.
//
// A missing, malformed, unknown or expired cookie gives false and no
// error; an expired session is deleted on the way. A store failure is an
// error (and false): the caller answers it as a server failure, not as a
// missing session, so an outage is seen as one rather than as a login
// page that can never succeed.
func (s *Sessions) Current(ctx context.Context, r *http.Request) (store.Session, bool, error) {
	digest, ok := s.digestOf(r)
	if !ok {
		return store.Session{}, false, nil
	}
	sess, err := s.st.GetSession(ctx, digest)
	if errors.Is(err, store.ErrNotFound) {
		return store.Session{}, false, nil
	} else if err != nil {
		return store.Session{}, false, fmt.Errorf("identity: get session: %w", err)
	}
	if !s.now().Before(sess.ExpiresAt) {
		// Best effort: a session that outlived its TTL is refused whether
		// or not the delete succeeds, and a later purge removes it anyway.
		if err := s.st.DeleteSession(ctx, digest); err != nil {
			s.cfg.Logger.WarnContext(ctx, "delete expired session", "err", err)
		}
		return store.Session{}, false, nil
	}
	return sess, true, nil
}

// Start creates a session for subject, authenticated at authTime, and sets
// its cookie on w.
//
// Every call makes a new cookie value, so a login never reuses an id an
// attacker may have planted (session fixation); callers replacing a
// session should End the old one.
func (s *Sessions) Start(ctx context.Context, w http.ResponseWriter, subject string, authTime time.Time) (store.Session, error) {
	if subject == "" {
		return store.Session{}, fmt.Errorf("identity: start session: %w", ErrNoSubject)
	}
	value := randomToken(sessionBytes)
	sess := store.Session{
		Digest:    sessionDigest(value),
		Subject:   subject,
		AuthTime:  authTime,
		ExpiresAt: s.now().Add(s.cfg.TTL),
	}
	if err := s.st.CreateSession(ctx, sess); err != nil {
		return store.Session{}, fmt.Errorf("identity: start session: %w", err)
	}
	// Max-Age rounds up: a sub-second TTL must not become Max-Age=0,
	// which would delete the cookie at once.
	http.SetCookie(w, s.cookie(value, int((s.cfg.TTL+time.Second-1)/time.Second)))
	return sess, nil
}

// End deletes the session of r and clears its cookie.
//
// The cookie is cleared even when the store fails, so the browser forgets
// the session either way; the store's error is still returned.
func (s *Sessions) End(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	var err error
	if digest, ok := s.digestOf(r); ok {
		if derr := s.st.DeleteSession(ctx, digest); derr != nil {
			err = fmt.Errorf("identity: end session: %w", derr)
		}
	}
	// MaxAge<0 sends Max-Age=0: delete now (RFC 6265 §5.2.2).
	http.SetCookie(w, s.cookie("", -1))
	return err
}

// digestOf returns the store key of r's session cookie, refusing values
// that Start cannot have made before they reach the store.
func (s *Sessions) digestOf(r *http.Request) ([]byte, bool) {
	c, err := r.Cookie(s.cfg.CookieName)
	if err != nil {
		return nil, false
	}
	if _, ok := decodeToken(c.Value, sessionBytes); !ok {
		return nil, false
	}
	return sessionDigest(c.Value), true
}

func (s *Sessions) cookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     s.cfg.CookieName,
		Value:    value,
		Path:     s.cfg.Path,
		MaxAge:   maxAge,
		Secure:   s.cfg.Secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
}

// sessionDigest is what the store keeps instead of the cookie value, so a
// leaked database row cannot be replayed as a cookie. A plain SHA-256
// suffices: the value has 256 bits of entropy, nothing to brute-force.
func sessionDigest(value string) []byte {
	d := sha256.Sum256([]byte(value))
	return d[:]
}
