// Package gateway is the API gateway: it matches each request to an API
// operation, answers CORS preflights, resolves the presented token (JWT,
// phantom or split) into a verified JWT, checks scopes and policies,
// strips identity headers a client could forge, and proxies to the
// upstream with the JWT as the only credential.
//
// It never issues tokens and never imports the authorization server's
// packages (oauth, keys): it trusts only what the issuer publishes.
//
// It is built from a catalog snapshot (package catalog), which it
// validates with the catalog's one validation before building anything;
// what it checks itself needs the running process: files to read, CEL to
// compile, secrets to find.
//
// Each operation's chain is built once per snapshot from small
// http.Handler steps (cors, credentials, resolve, scope, policy, limits,
// body, headers, then the proxy); the table of APIs and operations is immutable
// and swapped whole on reload. Upstream requests are never retried: a
// failed exchange answers 502 or 504 and the client decides.
//
// Single-page apps' token handlers (package tokenhandler) are served on
// the same listener: their agents under their path prefixes, and their
// session cookies in place of a bearer token for the APIs each fronts
// (tokenhandlers.go). No agent cookie ever goes upstream.
package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/portcullis/portcullis/internal/backendtoken"
	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/clientcert"
	"github.com/portcullis/portcullis/internal/phantom"
	"github.com/portcullis/portcullis/internal/ratelimit"
	"github.com/portcullis/portcullis/internal/tokenhandler"
	"github.com/portcullis/portcullis/pkg/verify"
)

// Options are the gateway's collaborators.
type Options struct {
	// Catalog is what the gateway serves: its APIs, issuers, limits and
	// settings. BaseDir resolves the relative paths in it (OpenAPI
	// documents, secret files, CA files).
	Catalog catalog.Snapshot
	BaseDir string
	// SplitSource finds split tokens; nil means APIs accepting split
	// tokens refuse them (fail closed).
	SplitSource phantom.SplitSource
	// Getenv reads client_secret_env; nil means os.Getenv.
	Getenv func(string) string
	Logger *slog.Logger
	// AccessLog receives the access log, one line a request; nil means
	// Logger. A node passes an asynchronous logger here, so writing the
	// line is not on the request's path.
	AccessLog *slog.Logger
	Metrics   prometheus.Registerer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// RateLimiter counts rate limits and quotas. Nil is allowed only when
	// the catalog declares no limits, plans or abuse rules: New
	// and Reload refuse one that does (fail closed).
	RateLimiter ratelimit.Backend
	// Blocks holds the clients and users blocked by abuse rules (or an
	// operator); every request with a token is checked against it. Nil
	// means no block checks, and abuse rules are refused.
	Blocks ratelimit.Blocks
	// Revoker revokes a blocked key's tokens for abuse rules with
	// revoke_tokens; nil refuses such rules.
	Revoker Revoker
	// ClientKeys finds the keys clients registered, for field rules that
	// encrypt to the calling client and for signed requests; nil refuses
	// both (fail closed).
	ClientKeys ClientKeys
	// DPoPReplay remembers the DPoP proofs the gateway accepted, so none
	// is used twice (RFC 9449 §11.1). Several nodes behind one load
	// balancer need one they share (replay.Redis). Nil means
	// verify.NewMemoryReplayCache(0), for this process only.
	DPoPReplay verify.ReplayCache
	// ClientCerts says where a request's client certificate comes from,
	// for certificate-bound tokens (RFC 8705 §3, mtls.go): the TLS
	// connection, and Header from Proxies when the gateway sits behind a
	// TLS-terminating proxy. The zero value reads the connection only.
	// ServeHTTP removes Header from every request that did not come from
	// one of Proxies before anything else reads it.
	ClientCerts clientcert.Source
	// BackendTokenShared lets the gateway nodes share the tokens they
	// obtain for upstreams (upstream_token), sealed under a key derived
	// from the gateway's client secret at the issuer, which every node
	// holds and the shared store does not. Nil keeps them per node.
	BackendTokenShared backendtoken.Shared
	// TokenHandlers are the single-page apps' OAuth agents, served under
	// their path prefixes; their cookies authorize calls to the APIs each
	// fronts (tokenhandlers.go). None means no token handler.
	// SetTokenHandlers swaps them.
	TokenHandlers []*tokenhandler.Handler
	// Tracer makes the spans of each request (tracing.go): the request,
	// token resolution and the introspection call, policy, rate limits
	// and the upstream call, with W3C traceparent sent to the issuer and
	// the upstream. Nil means tracing is off: no span work at all, and a
	// client's traceparent passes to the upstream untouched.
	Tracer trace.Tracer
}

// Gateway serves every configured API. Safe for concurrent use; Reload
// swaps the route table atomically.
type Gateway struct {
	table  atomic.Pointer[table]
	ids    *requestIDs
	logger *slog.Logger
	// root is the logger the gateway was given, for the parts that name
	// their own component (the JWKS caches), so a line has one.
	root    *slog.Logger
	access  *slog.Logger
	now     func() time.Time
	metrics *metrics
	// tracer is Options.Tracer; nil when tracing is off.
	tracer trace.Tracer

	f       factory
	baseDir string
	getenv  func(string) string
	split   phantom.SplitSource
	// clientKeys is Options.ClientKeys; nil when none.
	clientKeys ClientKeys
	// dpopReplay is Options.DPoPReplay, kept across reloads.
	dpopReplay verify.ReplayCache
	// clientCerts is Options.ClientCerts.
	clientCerts clientcert.Source
	// backendShared is Options.BackendTokenShared; backend are the
	// current table's upstream token sources (under mu).
	backendShared backendtoken.Shared
	backend       map[string]*backendtoken.Source
	// limiter, blocks and limitRT serve the rate-limit step of every
	// table.
	limiter ratelimit.Backend
	blocks  ratelimit.Blocks
	limitRT *limitRuntime
	// preAuthMem counts the pre-authentication limit of every table.
	preAuthMem *ratelimit.Memory
	// runKeys starts a key cache for the gateway's lifetime (the context
	// New was given, captured here rather than stored) and returns what
	// stops it early.
	runKeys func(keySource) (context.CancelFunc, error)

	// mu serializes reloads; issuers and transports are what the current
	// table uses.
	mu         sync.Mutex
	issuers    map[string]*issuer
	transports map[transportKey]*http.Transport
	// spas are the single-page apps' agents (SetTokenHandlers); nil
	// when none.
	spas atomic.Pointer[spaSet]
	// sources is what Ready and the metrics read, swapped with the table.
	sources atomic.Pointer[sources]
	retired retiredCounts
}

// New builds the gateway from o.Catalog: issuers (JWKS caches started
// with ctx, which stops their refresh), resolvers and the route table. A
// snapshot the catalog's validation refuses is a *ConfigError holding
// its *catalog.FieldError problems; one that fails to build is a
// *ConfigError naming the API and operation.
func New(ctx context.Context, o Options) (*Gateway, error) {
	return newGateway(ctx, o, productionFactory())
}

func newGateway(ctx context.Context, o Options, f factory) (*Gateway, error) {
	ids, err := newRequestIDs()
	if err != nil {
		return nil, fmt.Errorf("request ids: %w", err)
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	access := o.AccessLog
	if access == nil {
		access = logger
	}
	g := &Gateway{
		ids:     ids,
		logger:  logger.With("component", "gateway"),
		root:    logger,
		access:  access.With("component", "gateway.access"),
		now:     o.Now,
		tracer:  o.Tracer,
		f:       f,
		baseDir: o.BaseDir,
		getenv:  o.Getenv,
		split:   o.SplitSource,
		// A nil interface stays nil: steps test it to refuse.
		clientKeys:  o.ClientKeys,
		dpopReplay:  o.DPoPReplay,
		clientCerts: o.ClientCerts,
		// Nil when not set, so sources stay per node.
		backendShared: o.BackendTokenShared,
		limiter:       o.RateLimiter,
		blocks:        o.Blocks,
		// Empty until a snapshot sets the limit; kept across reloads so
		// a reload does not hand every address a fresh burst.
		preAuthMem: ratelimit.NewMemory(ratelimit.MemoryConfig{MaxKeys: preAuthKeys}),
	}
	if g.now == nil {
		g.now = time.Now
	}
	if g.getenv == nil {
		g.getenv = os.Getenv
	}
	if g.dpopReplay == nil {
		g.dpopReplay = verify.NewMemoryReplayCache(0)
	}
	g.runKeys = func(ks keySource) (context.CancelFunc, error) {
		c, cancel := context.WithCancel(ctx)
		return cancel, ks.Start(c)
	}
	g.sources.Store(&sources{})
	if g.metrics, err = newMetrics(o.Metrics, g); err != nil {
		return nil, err
	}
	lm, err := newLimitMetrics(g.metrics)
	if err != nil {
		g.metrics.unregister()
		return nil, err
	}
	g.limitRT = newLimitRuntime(g.logger, lm, o.Revoker)
	if err := g.Reload(ctx, o.Catalog); err != nil {
		g.metrics.unregister()
		return nil, err
	}
	if err := g.SetTokenHandlers(o.TokenHandlers); err != nil {
		g.metrics.unregister()
		return nil, err
	}
	return g, nil
}

// ServeHTTP routes a request through its operation's middleware chain.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := g.table.Load()
	ex := getExchange(w, g.now())
	if g.tracer != nil {
		r = g.startTrace(ex, r)
	}
	defer g.finish(t, ex, r)
	// Before anything reads it: a client cannot name a certificate it
	// holds no key of in the header only a proxy may send.
	g.clientCerts.Strip(r)

	ex.peer, ex.peerText = peerAddr(r.RemoteAddr)
	ex.client = ex.peer
	ex.trusted = ex.peer.IsValid() && t.trusted.contains(ex.peer)
	if ex.trusted {
		ex.client = t.trusted.clientAddr(ex.peer, r.Header["X-Forwarded-For"])
		// A trusted proxy's request id ties its logs to ours.
		if ids := r.Header["X-Request-Id"]; len(ids) == 1 && validRequestID(ids[0]) {
			ex.id = ids[0]
		}
	}
	if ex.id == "" {
		ex.id = g.ids.next()
	}
	ex.idHeader = []string{ex.id}

	path := r.URL.Path
	if !cleanPath(path, r.URL.RawPath) {
		ex.setDeadlines(unmatchedTimeout, unmatchedTimeout)
		ex.reason = "unclean path"
		ex.problem(problemBadRequest, decisionBadRequest)
		return
	}
	if path == catalog.ResponseKeysPath && t.responseKeys != nil {
		t.serveResponseKeys(ex, r)
		return
	}
	if spas := g.spas.Load(); spas != nil {
		if a := spas.agentFor(path); a != nil {
			g.serveAgent(ex, a, r)
			return
		}
		ex.spas = spas
	}
	api := t.matchAPI(path)
	if api == nil {
		ex.setDeadlines(unmatchedTimeout, unmatchedTimeout)
		ex.problem(problemNotFound, decisionNotFound)
		return
	}
	ex.api = api
	// From here the API's timeouts bound the call, not the listener's.
	ex.setDeadlines(api.requestTimeout, api.responseTimeout)
	if !api.pathParams && hasPathParameters(path) {
		ex.reason = "path parameters"
		ex.problem(problemBadRequest, decisionBadRequest)
		return
	}
	rest := path[len(api.strip):]
	method := r.Method
	if api.cors != nil {
		w.Header()["Vary"] = headerVaryOrigin
		if isPreflight(r) {
			// Route the preflight by the method it asks about; the
			// operation's CORS step answers it.
			ex.preflight = true
			method = r.Header.Get("Access-Control-Request-Method")
		}
	}
	op, pathOnly := api.router.match(method, rest, &ex.params)
	if op == nil {
		if pathOnly {
			w.Header()["Allow"] = []string{api.router.allowed(rest)}
			ex.problem(problemMethod, decisionMethodNotAllowed)
			return
		}
		ex.problem(problemNotFound, decisionNotFound)
		return
	}
	ex.op = op
	op.handler.ServeHTTP(ex, r)
}

// Ready reports whether every issuer's keys are loaded (for /readyz).
func (g *Gateway) Ready() bool {
	if g.table.Load() == nil {
		return false
	}
	for _, k := range g.sources.Load().keys {
		if !k.Ready() {
			return false
		}
	}
	return true
}
