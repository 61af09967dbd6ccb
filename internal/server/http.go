package server

import (
	"cmp"
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/portcullis/portcullis/internal/admin"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/gateway"
	"github.com/portcullis/portcullis/internal/tracing"
)

// Server timeouts. Every one is explicit: the zero values of http.Server
// mean "no limit", which lets a slow client hold a connection forever.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
	// readyzPingTimeout bounds the store check of /readyz, so a hung
	// database makes the probe fail rather than hang.
	readyzPingTimeout = 2 * time.Second
)

// healthzWriteTimeout bounds writing /healthz on the gateway listener,
// which has no listener-wide write timeout by default.
const healthzWriteTimeout = 5 * time.Second

// listenerTimeouts is implemented by a handler that brings its
// listener's timeouts (the gateway's); others get the defaults above.
type listenerTimeouts interface {
	timeouts() config.ListenTimeouts
}

func newHTTPServer(h http.Handler, logger *slog.Logger) *http.Server {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	if lt, ok := h.(listenerTimeouts); ok {
		// The gateway's own: a write timeout of zero is none, as each
		// API's timeouts bound its calls (the gateway sets the
		// per-request deadlines).
		// Zero values left by a config built without ApplyDefaults
		// keep the defaults rather than mean no limit.
		t := lt.timeouts()
		srv.ReadHeaderTimeout = cmp.Or(t.ReadHeader.Duration(), readHeaderTimeout)
		srv.ReadTimeout = cmp.Or(t.Read.Duration(), readTimeout)
		srv.WriteTimeout = t.Write.Duration()
		srv.IdleTimeout = cmp.Or(t.Idle.Duration(), idleTimeout)
	}
	return srv
}

// authzHandler serves the authorization server and a liveness probe.
func (w *wiring) authzHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", healthz)
	mux.Handle("/", w.oauth.Handler())
	// Outermost, so the span covers the whole request; the endpoints'
	// own spans (oauth.token, oauth.introspect) are its children.
	return tracing.Handler(w.tracing.Tracer(tracerAuthz), spanAuthz, stripClientCert(clientCertSource(w.cfg), mux))
}

// gatewayHandler serves the gateway's APIs and a liveness probe, with
// the gateway listener's own timeouts (listen.gateway_timeouts).
// No ServeMux here: it would clean or redirect paths before the gateway
// sees them, and the gateway must judge every path itself.
func (w *wiring) gatewayHandler() http.Handler {
	return &gatewayHTTP{g: w.gateway, t: w.cfg.Listen.GatewayTimeouts}
}

type gatewayHTTP struct {
	g *gateway.Gateway
	t config.ListenTimeouts
}

func (h *gatewayHTTP) timeouts() config.ListenTimeouts { return h.t }

func (h *gatewayHTTP) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" && r.Method == http.MethodGet {
		// A deadline of its own: a connection's earlier call may have
		// left a longer (or a past) one.
		_ = http.NewResponseController(rw).SetWriteDeadline(time.Now().Add(healthzWriteTimeout))
		healthz(rw, r)
		return
	}
	h.g.ServeHTTP(rw, r)
}

// adminHandler serves the operational endpoints. It belongs on an internal
// address: /metrics tells an attacker a lot about the process.
// ctx bounds the admin API's background work (the issuer's keys).
func (w *wiring) adminHandler(ctx context.Context) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz", w.readyz)
	// Built after the gateway (Start's serve phase), from finished parts.
	opts := admin.Options{Token: w.getenv(admin.TokenEnv), Now: w.now, Logger: w.logger.With("component", "admin")}
	w.adminParts(ctx, &opts)
	if opts.Token != "" {
		if err := admin.CheckToken(opts.Token); err != nil {
			w.logger.Warn("break-glass admin access is off", "component", "admin", "err", err)
		}
	}
	if w.gateway != nil {
		opts.Blocks = w.limiter.blocks
		opts.Quotas = quotaReader{w.gateway}
	}
	admin.New(opts).Register(mux)
	w.registerConsole(ctx, mux, opts)
	mux.Handle("GET /metrics", promhttp.InstrumentMetricHandler(w.registry,
		promhttp.HandlerFor(w.registry, promhttp.HandlerOpts{
			ErrorLog: slog.NewLogLogger(w.logger.With("component", "metrics").Handler(), slog.LevelWarn),
		})))
	return mux
}

// healthz answers 200 whenever the process serves HTTP at all; it is a
// liveness probe and deliberately checks nothing else, so a database
// outage does not get healthy processes restarted.
func healthz(rw http.ResponseWriter, _ *http.Request) {
	plain(rw, http.StatusOK, "ok")
}

func plain(rw http.ResponseWriter, status int, msg string) {
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	rw.Header().Set("Cache-Control", "no-store")
	rw.Header().Set("X-Content-Type-Options", "nosniff")
	rw.WriteHeader(status)
	_, _ = rw.Write([]byte(msg + "\n")) // the client went away; nothing to do
}

// quotaReader shows a client's quota state for the admin API.
type quotaReader struct{ g *gateway.Gateway }

// ClientQuotas returns the quota state of clientID's limits.
func (q quotaReader) ClientQuotas(ctx context.Context, clientID string) (any, error) {
	st, err := q.g.Quotas(ctx, clientID)
	if err != nil {
		return nil, err
	}
	return map[string]any{"client_id": clientID, "limits": st}, nil
}
