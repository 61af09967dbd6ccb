package tokenhandler

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Options are what New needs beyond the configuration; every zero field
// has a working default.
type Options struct {
	// Logger receives the agent's log lines (component=tokenhandler);
	// nil discards them. No line ever holds a token or a cookie value.
	Logger *slog.Logger
	// Registerer receives the metrics; nil exports none.
	Registerer prometheus.Registerer
	// Getenv reads client_secret_env and the cookie keys' env; nil
	// means os.Getenv.
	Getenv func(string) string
	// ReadFile reads client_secret_file and the cookie keys' file; nil
	// means reading a regular file that only its owner may read.
	ReadFile func(string) ([]byte, error)
	// BaseDir resolves relative file names (the configuration file's
	// directory); empty means the working directory.
	BaseDir string
	// Now is the clock of cookie expiry and ID token checks; nil means
	// time.Now.
	Now func() time.Time
	// HTTPClient makes every call to the issuer; nil means a client with
	// a 10s timeout.
	HTTPClient *http.Client
}

var _ http.Handler = (*Handler)(nil)

// Handler is the OAuth agent of one SPA (an http.Handler for the paths
// under its prefix) and the cookie side of the gateway's OAuth proxy for
// the APIs it fronts (proxy.go). It is safe for concurrent use.
type Handler struct {
	cfg     SPA
	secret  string
	jar     *jar
	disc    *discovery
	client  *http.Client
	now     func() time.Time
	log     *slog.Logger
	metrics *metrics
	// cookieNames are every cookie name of the agent, for StripCookies.
	cookieNames []string
}

// route is one endpoint under the prefix.
type route struct {
	// name is the metric label.
	name   string
	method string
	// csrf asks for the double-submit header: every state-changing call
	// of a session. login/start and login/end run before one exists and
	// rely on the Origin check alone.
	csrf  bool
	serve func(h *Handler, w http.ResponseWriter, r *http.Request) error
}

// routes is the agent's API; the files named in the comments serve them.
var routes = map[string]route{
	"/login/start": {name: "login_start", method: http.MethodPost, serve: (*Handler).loginStart},             // login.go
	"/login/end":   {name: "login_end", method: http.MethodPost, serve: (*Handler).loginEnd},                 // login.go
	"/session":     {name: "session", method: http.MethodGet, serve: (*Handler).session},                     // session.go
	"/claims":      {name: "claims", method: http.MethodGet, serve: (*Handler).claims},                       // session.go
	"/userinfo":    {name: "userinfo", method: http.MethodGet, serve: (*Handler).userinfo},                   // userinfo.go
	"/refresh":     {name: "refresh", method: http.MethodPost, csrf: true, serve: (*Handler).refreshSession}, // refresh.go
	"/logout":      {name: "logout", method: http.MethodPost, csrf: true, serve: (*Handler).logout},          // logout.go
}

// New builds the agent of cfg, which must be validated with defaults
// applied. It reads the client secret and the cookie keys now, so a
// missing one fails start-up; the issuer is discovered on first use.
func New(cfg SPA, o Options) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("tokenhandler %s: %w", cfg.Name, err)
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.ReadFile == nil {
		o.ReadFile = readPrivateFile
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: defaultIssuerTimeout}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	src := secrets{getenv: o.Getenv, readFile: o.ReadFile, baseDir: o.BaseDir}
	secret, err := src.read("client secret", cfg.ClientSecretEnv, cfg.ClientSecretFile)
	if err != nil {
		return nil, fmt.Errorf("tokenhandler %s: %w", cfg.Name, err)
	}
	keys, err := src.cookieKeys(cfg.CookieKeys)
	if err != nil {
		return nil, fmt.Errorf("tokenhandler %s: %w", cfg.Name, err)
	}
	sealer, err := NewSealer(keys, o.Now)
	if err != nil {
		return nil, fmt.Errorf("tokenhandler %s: %w", cfg.Name, err)
	}
	m, err := newMetrics(o.Registerer, cfg.Name)
	if err != nil {
		return nil, err
	}
	h := &Handler{
		cfg:     cfg,
		secret:  secret,
		jar:     newJar(cfg.CookiePrefix, !cfg.Development(), sealer, o.Now),
		client:  o.HTTPClient,
		now:     o.Now,
		log:     o.Logger.With("component", "tokenhandler", "app", cfg.Name),
		metrics: m,
	}
	h.cookieNames = h.jar.names[:]
	h.disc = &discovery{issuer: cfg.Issuer, client: o.HTTPClient, build: h.newIssuerClient, now: o.Now, log: h.log}
	if cfg.Development() {
		h.log.Warn("development mode: cookies without Secure for a plain-http loopback app; never use it beyond this machine")
	}
	return h, nil
}

// Name returns the app's name.
func (h *Handler) Name() string { return h.cfg.Name }

// PathPrefix returns where the agent's endpoints live on the gateway
// listener; the gateway routes that path and everything below it here.
func (h *Handler) PathPrefix() string { return h.cfg.PathPrefix }

// ServeHTTP answers the agent's endpoints under the path prefix.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	allowed := h.originAllowed(origin)
	// The answer depends on Origin whether or not it is allowed, so
	// caches must key on it (Fetch standard, "CORS protocol and HTTP
	// caches").
	w.Header().Add("Vary", "Origin")
	if allowed {
		corsHeaders(w.Header(), origin)
	}
	sub, _ := strings.CutPrefix(r.URL.Path, h.cfg.PathPrefix)
	rt, ok := routes[sub]
	if !ok {
		h.answer(w, r, "unknown", fail(problemNotFound, nil))
		return
	}
	if r.Method == http.MethodOptions {
		h.answer(w, r, rt.name, h.preflight(w, r, rt, allowed))
		return
	}
	if r.Method != rt.method {
		w.Header().Set("Allow", rt.method+", OPTIONS")
		h.answer(w, r, rt.name, fail(problemMethod, nil))
		return
	}
	if err := checkOrigin(r.Method, origin, allowed); err != nil {
		h.answer(w, r, rt.name, err)
		return
	}
	if rt.csrf {
		if err := h.checkCSRF(r); err != nil {
			h.answer(w, r, rt.name, err)
			return
		}
	}
	h.answer(w, r, rt.name, rt.serve(h, w, r))
}

// failure is an endpoint's refusal: what the client sees, the cause for
// the log, and whether the session is over.
type failure struct {
	p     *Problem
	cause error
	// end clears every session cookie: the session cannot be used again
	// (a refused refresh, a missing CSRF cookie).
	end bool
}

func (f *failure) Error() string {
	if f.cause == nil {
		return f.p.Error()
	}
	return f.p.Error() + ": " + f.cause.Error()
}

func fail(p *Problem, cause error) error { return &failure{p: p, cause: cause} }

// failEnd is fail that ends the session.
func failEnd(p *Problem, cause error) error { return &failure{p: p, cause: cause, end: true} }

// answer finishes a request: counts it and, for a failure, logs the
// cause once and answers the problem. A nil err means the endpoint has
// answered.
func (h *Handler) answer(w http.ResponseWriter, r *http.Request, endpoint string, err error) {
	if err == nil {
		h.metrics.requests.WithLabelValues(h.cfg.Name, endpoint, "ok").Inc()
		return
	}
	f, ok := errors.AsType[*failure](err)
	if !ok {
		f = &failure{p: problemInternal, cause: err}
	}
	h.metrics.requests.WithLabelValues(h.cfg.Name, endpoint, f.p.outcome).Inc()
	level := slog.LevelInfo
	if f.p.Status >= 500 {
		level = slog.LevelWarn
	}
	attrs := []any{"endpoint", endpoint, "outcome", f.p.outcome, "status", f.p.Status}
	if f.cause != nil {
		attrs = append(attrs, "err", f.cause.Error())
	}
	h.log.Log(r.Context(), level, "token handler refused a call", attrs...)
	if f.end {
		var sc setCookies
		h.jar.clear(&sc, sessionKinds...)
		sc.write(w)
	}
	f.p.Write(w)
}

// maxBody bounds a JSON request body: login/end's pageUrl is the
// longest, and a URL past 16 KiB is not a redirect of ours.
const maxBody = 16 << 10

// readJSON decodes the JSON object of a request body into v. RFC 8259
// §8.1: JSON is UTF-8; asking for application/json also makes a
// cross-origin call preflighted.
func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	ct := r.Header.Get("Content-Type")
	if mt, _, _ := strings.Cut(ct, ";"); !strings.EqualFold(strings.TrimSpace(mt), "application/json") {
		return fail(problemMediaType, nil)
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(v); err != nil {
		return fail(problemBadRequest, fmt.Errorf("decode body: %w", err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fail(problemBadRequest, errors.New("body holds more than one JSON value"))
	}
	return nil
}

// writeJSON answers a JSON document that no cache may keep: it speaks
// of a session.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode answer: %w", err)
	}
	jsonHeaders(w)
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
	return nil
}

// jsonHeaders marks a JSON answer that no cache may keep and no browser
// may sniff as something else.
func jsonHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

// randomValue returns 256 bits from crypto/rand, base64url: state,
// nonce and CSRF values (RFC 6749 §10.10 asks for at least 128 bits).
func randomValue() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
