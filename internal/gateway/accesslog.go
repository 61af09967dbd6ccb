package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// finish records a request once it is answered: metrics, then one access
// log line. Then the exchange goes back to the pool.
func (g *Gateway) finish(t *table, ex *exchange, r *http.Request) {
	status := ex.status
	if status == 0 {
		status = http.StatusOK // what the server sends for an empty answer
	}
	elapsed := g.now().Sub(ex.start)
	m := t.unmatched
	switch {
	case ex.op != nil:
		m = ex.op.metrics
	case ex.api != nil:
		m = ex.api.unmatched
	case ex.agent != nil:
		m = ex.agent.metrics
	}
	m.observe(status, ex.decision, elapsed.Seconds())
	g.logAccess(r.Context(), ex, r.Method, status, elapsed)
	if ex.span != nil {
		endTrace(ex, status)
	}
	putExchange(ex)
}

// logAccess writes the access log line: what was asked, who asked (from
// verified claims only), what the gateway decided. Never a token, an
// Authorization header or a query string.
func (g *Gateway) logAccess(ctx context.Context, ex *exchange, method string, status int, elapsed time.Duration) {
	if !g.access.Enabled(ctx, slog.LevelInfo) {
		return
	}
	var api, version, op, clientID, sub string
	if ex.api != nil {
		api, version = ex.api.name, ex.api.version
	}
	if ex.op != nil {
		op = ex.op.label
	} else if ex.agent != nil {
		op = ex.agent.label
	}
	if v := ex.verified; v != nil && v.Claims != nil {
		clientID, sub = v.Claims.ClientID, v.Claims.Subject
	}
	g.access.LogAttrs(ctx, slog.LevelInfo, "request",
		slog.String("request_id", ex.id),
		slog.String("api", api),
		slog.String("version", version),
		slog.String("operation", op),
		slog.String("method", method),
		slog.String("client_id", clientID),
		slog.String("sub", sub),
		slog.String("decision", ex.decision.String()),
		slog.String("reason", ex.reason),
		slog.Int("status", status),
		slog.Float64("latency_ms", float64(elapsed.Microseconds())/1000),
		slog.Int64("bytes", ex.bytes),
		ex.waf.attr(),
		ex.validation.attr(),
		ex.response.attr(),
		ex.dpop.attr(),
		ex.mtls.attr(),
	)
}
