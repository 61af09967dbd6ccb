// Package oauth is the authorization server: the OAuth 2.0 and OpenID
// Connect endpoints (discovery, authorize, token, introspect, revoke,
// userinfo, JWKS) and the grant handlers behind them.
//
// It must never log or echo a secret or token, never accept a redirect URI
// that is not registered verbatim, and never issue a code without PKCE S256.
package oauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/clientcert"
	"github.com/portcullis/portcullis/internal/identity"
	"github.com/portcullis/portcullis/internal/keys"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/pkg/verify"
)

// Store is what the endpoints need from persistence.
type Store interface {
	GetClient(ctx context.Context, id string) (store.Client, error)
	GetUser(ctx context.Context, id string) (store.User, error)
	CreateToken(ctx context.Context, t store.Token) error
	GetToken(ctx context.Context, digest []byte) (store.Token, error)
	RevokeToken(ctx context.Context, digest []byte) error
	RevokeGrant(ctx context.Context, grantID string) (int64, error)
	UseRefreshToken(ctx context.Context, digest []byte, clientID string, now time.Time) (store.Token, error)
	CreateCode(ctx context.Context, c store.AuthCode) error
	ConsumeCode(ctx context.Context, digest []byte, clientID string, now time.Time) (store.AuthCode, error)
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
	// Scopes are advertised as scopes_supported in discovery.
	Scopes []string
	// DefaultAudience is the audience of access tokens when neither the
	// request (resource) nor the client names one. Empty means the issuer.
	DefaultAudience string
	// Resources are the resource servers a client without audiences of
	// its own may name in its resource parameter (RFC 8707 §2), on top of
	// the default audience (DefaultAudience, else the issuer), which is
	// always allowed. Any other resource is refused with invalid_target.
	Resources []string
	// DPoP sets how token requests' DPoP proofs are checked (RFC 9449).
	DPoP DPoPConfig
	// MTLS sets what the metadata offers of RFC 8705 (mtls_bind.go).
	MTLS MTLSConfig
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
	// Throttle limits password guessing per username and per client
	// address; nil means identity.NewThrottle with its defaults.
	Throttle *identity.Throttle
	// ClientAddr is the client address the login throttle counts
	// failures by; nil means the TCP peer address. Behind a reverse proxy
	// every login shares the proxy's address, so a server there should
	// pass a function that honours its trusted proxies (or turn the
	// address limit off in the throttle's configuration).
	ClientAddr func(*http.Request) netip.Addr
	Policy     *policy.Issuance
	// Exchange turns on the token exchange grant (RFC 8693); nil leaves
	// it unsupported.
	Exchange *ExchangeOptions
	// Sealer protects the pending authorization request carried through
	// the login and consent forms.
	Sealer *keys.Sealer
	Logger *slog.Logger
	// Metrics registers the server's Prometheus collectors; nil means none
	// are registered.
	Metrics prometheus.Registerer
	// Tracer makes the spans of the token and introspection endpoints
	// (tracing.go); nil means tracing is off and costs nothing.
	Tracer trace.Tracer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// DPoPReplay remembers the DPoP proofs the token endpoint accepted,
	// so none is accepted twice (RFC 9449 §11.1). Nil means one in
	// memory, which only this node consults: nodes behind one load
	// balancer should share one (Redis).
	DPoPReplay verify.ReplayCache
	// ClientCerts says where a request's TLS client certificate comes
	// from, for certificate-bound access tokens (RFC 8705 §3): the
	// connection, or a trusted proxy's Client-Cert header. It must be
	// the Source the Clients authenticator reads, so both agree on the
	// certificate. The zero Source reads the connection only.
	ClientCerts clientcert.Source
	// DPoPNonceKey keys the server's DPoP nonces (RFC 9449 §8) when
	// Config.DPoP.RequireNonce is on: at least 32 bytes, the same on
	// every node of an issuer, so it is derived from the master key
	// (keys.PurposeDPoPNonce). Nil means a random key for this process.
	DPoPNonceKey []byte
}

// Server is the authorization server.
type Server struct {
	cfg     Config
	o       Options
	now     func() time.Time
	log     *slog.Logger
	mux     *http.ServeMux
	metrics *metrics
	tokens  *tokenCache
	dpop    *dpopChecker
	// base is the issuer's path; every route lives under it.
	base  string
	realm string
	// resources is the allow-list of RFC 8707 resource indicators for
	// clients without audiences of their own: Config.Resources and the
	// default audience.
	resources map[string]bool
}

// New builds the server and its routes.
func New(o Options) (*Server, error) {
	if o.Store == nil || o.Keys == nil || o.Clients == nil || o.Users == nil ||
		o.Sessions == nil || o.CSRF == nil || o.Pages == nil || o.Policy == nil || o.Sealer == nil {
		return nil, errors.New("oauth: missing collaborator in Options")
	}
	iss, err := url.Parse(o.Config.Issuer)
	if err != nil || iss.Scheme == "" || iss.Host == "" || iss.RawQuery != "" || iss.Fragment != "" {
		return nil, fmt.Errorf("oauth: issuer %q is not an absolute URL without query or fragment", o.Config.Issuer)
	}
	cfg := o.Config
	cfg.Issuer = strings.TrimSuffix(cfg.Issuer, "/")
	setDefault(&cfg.AccessTTL, 15*time.Minute)
	setDefault(&cfg.RefreshTTL, 30*24*time.Hour)
	setDefault(&cfg.IDTokenTTL, time.Hour)
	setDefault(&cfg.CodeTTL, time.Minute)
	s := &Server{
		cfg:    cfg,
		o:      o,
		now:    o.Now,
		log:    o.Logger,
		mux:    http.NewServeMux(),
		base:   strings.TrimSuffix(iss.Path, "/"),
		realm:  iss.Host,
		tokens: newTokenCache(),
	}
	s.resources = make(map[string]bool, len(cfg.Resources)+1)
	for _, r := range cfg.Resources {
		s.resources[r] = true
	}
	s.resources[s.defaultAudience()] = true
	if s.now == nil {
		s.now = time.Now
	}
	if s.o.Throttle == nil {
		s.o.Throttle = identity.NewThrottle(identity.ThrottleConfig{})
	}
	if s.o.ClientAddr == nil {
		s.o.ClientAddr = clientIP
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.metrics = newMetrics(o.Metrics)
	s.dpop, err = newDPoPChecker(cfg.DPoP, s.url(pathToken), cfg.Issuer, o.DPoPReplay, o.DPoPNonceKey,
		s.now, s.metrics.dpopRefused)
	if err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

func setDefault(d *time.Duration, v time.Duration) {
	if *d <= 0 {
		*d = v
	}
}

// Endpoint paths, relative to the issuer.
const (
	pathAuthorize       = "/oauth2/authorize"
	pathAuthorizeLogin  = "/oauth2/authorize/login"
	pathAuthorizeAccept = "/oauth2/authorize/consent"
	pathToken           = "/oauth2/token"
	pathIntrospect      = "/oauth2/introspect"
	pathRevoke          = "/oauth2/revoke"
	pathUserinfo        = "/userinfo"
	pathJWKS            = "/jwks.json"
)

func (s *Server) routes() {
	b := s.base
	handle := func(pattern, name string, h http.HandlerFunc) {
		s.mux.Handle(pattern, s.metrics.instrument(name, h))
	}
	handle("GET "+b+"/.well-known/openid-configuration", "discovery", s.discovery)
	handle("GET "+b+"/.well-known/oauth-authorization-server", "discovery", s.discovery)
	if b != "" {
		// RFC 8414 §3.1: the well-known segment goes before the issuer path.
		handle("GET /.well-known/oauth-authorization-server"+b, "discovery", s.discovery)
	}
	handle("GET "+b+pathJWKS, "jwks", s.jwks)
	handle(b+pathAuthorize, "authorize", s.authorize)
	handle("POST "+b+pathAuthorizeLogin, "authorize_login", s.authorizeLogin)
	handle("POST "+b+pathAuthorizeAccept, "authorize_consent", s.authorizeConsent)
	handle(b+pathToken, "token", s.tokenEndpoint)
	handle(b+pathIntrospect, "introspect", s.introspect)
	handle(b+pathRevoke, "revoke", s.revoke)
	handle(b+pathUserinfo, "userinfo", s.userinfo)
	// OpenID Connect RP-Initiated Logout 1.0 (endsession.go).
	handle(b+pathEndSession, "end_session", s.endSession)
	handle("POST "+b+pathEndSessionConfirm, "end_session_confirm", s.endSessionConfirm)
}

func (s *Server) url(path string) string { return s.cfg.Issuer + path }

// maxFormBytes bounds every form body; no legitimate OAuth request is
// anywhere near it.
const maxFormBytes = 64 << 10

// parsePost reads a POST form body per RFC 6749 §3.2 (token endpoint) and
// RFC 7662 §2.1 / RFC 7009 §2.1: only POST, only
// application/x-www-form-urlencoded, no parameter twice (RFC 6749 §3.2).
func parsePost(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return newError(http.StatusMethodNotAllowed, errInvalidRequest, "the endpoint accepts POST only")
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/x-www-form-urlencoded" {
		return badRequest(errInvalidRequest, "the body must be application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return badRequest(errInvalidRequest, "the form body cannot be parsed")
	}
	return checkSingle(r.PostForm)
}

// checkSingle refuses a parameter sent more than once: RFC 6749 §3.1 and
// §3.2 say request and response parameters MUST NOT be included more than
// once, and a duplicate is a classic way to confuse two parsers.
func checkSingle(v url.Values) error {
	for k, vs := range v {
		// RFC 8707 §2: resource may repeat; RFC 8693 §2.1: so may
		// audience (only the token exchange reads it).
		if len(vs) > 1 && k != "resource" && k != "audience" {
			return badRequest(errInvalidRequest, "parameter "+safeParam(k)+" is repeated")
		}
	}
	return nil
}

// safeParam keeps a client-chosen parameter name printable and short
// before it goes into an error description.
func safeParam(k string) string {
	if len(k) > 40 {
		k = k[:40]
	}
	b := []byte(k)
	for i, c := range b {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			b[i] = '?'
		}
	}
	return string(b)
}

// clientIP is the address of the peer. Forwarded headers are not trusted:
// the issuance policy decides on addresses a client cannot forge.
func clientIP(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// Handler serves every endpoint of the authorization server.
func (s *Server) Handler() http.Handler { return s.mux }
