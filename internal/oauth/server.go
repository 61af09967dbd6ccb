// Package oauth is the authorization server: the OAuth 2.0 and OpenID
// Connect endpoints (discovery, authorize, token, introspect, revoke,
// userinfo, JWKS) and the grant handlers behind them.
//
// It must never log or echo a secret or token, never accept a redirect URI
// that is not registered verbatim, and never issue a code without PKCE S256.
package oauth

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/identity"
	"github.com/portcullis/portcullis/internal/keys"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/store"
)

// Store is what the endpoints need from persistence.
type Store interface {
	GetClient(ctx context.Context, id string) (store.Client, error)
	GetUser(ctx context.Context, id string) (store.User, error)
	CreateToken(ctx context.Context, t store.Token) error
	GetToken(ctx context.Context, digest []byte) (store.Token, error)
	RevokeToken(ctx context.Context, digest []byte) error
	RevokeGrant(ctx context.Context, grantID string) (int64, error)
	UseRefreshToken(ctx context.Context, digest []byte, now time.Time) (store.Token, error)
	CreateCode(ctx context.Context, c store.AuthCode) error
	ConsumeCode(ctx context.Context, digest []byte, now time.Time) (store.AuthCode, error)
	GetConsent(ctx context.Context, subject, clientID string) (store.Consent, error)
	SaveConsent(ctx context.Context, c store.Consent) error
}

// Config sets the server's behaviour.
type Config struct {
	// Issuer is the issuer URL; every endpoint lives under it.
	Issuer            string
	AccessTTL         time.Duration
	RefreshTTL        time.Duration
	IDTokenTTL        time.Duration
	CodeTTL           time.Duration
	RefreshReuseGrace time.Duration
	// ClaimAttributes are the user attributes copied into tokens.
	ClaimAttributes []string
	// ScopeDescriptions are shown on the consent page.
	ScopeDescriptions map[string]string
}

// Options are the server's collaborators.
type Options struct {
	Config   Config
	Store    Store
	Keys     *keys.Manager
	Clients  *clientauth.Authenticator
	Users    *identity.Users
	Sessions *identity.Sessions
	CSRF     *identity.CSRF
	Pages    *identity.Pages
	Policy   *policy.Issuance
	// Sealer protects the pending authorization request carried through
	// the login and consent forms.
	Sealer *keys.Sealer
	Logger *slog.Logger
	// Metrics registers the server's Prometheus collectors; nil means none
	// are registered.
	Metrics prometheus.Registerer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server is the authorization server.
type Server struct {
	cfg  Config
	opts Options
	now  func() time.Time
	log  *slog.Logger
	mux  *http.ServeMux
}

// New builds the server and its routes.
func New(o Options) (*Server, error) { panic("todo") }

// Handler serves every endpoint of the authorization server.
func (s *Server) Handler() http.Handler { return s.mux }
