package gateway

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/portcullis/portcullis/internal/tracing"
)

// Span names: the request is a server span continuing the caller's
// trace; the steps that wait on something (the issuer, the limit
// backend, the upstream) or decide (policy) are its children.
const (
	spanRequest   = "gateway.request"
	spanResolve   = "gateway.resolve"
	spanPolicy    = "gateway.policy"
	spanRateLimit = "gateway.ratelimit"
	// spanIntrospect is the phantom resolver's call to the issuer, a
	// client span of spanResolve.
	spanIntrospect = "gateway.introspect"
	spanUpstream   = "gateway.upstream"
)

// startTrace opens the request's server span, the child of the
// traceparent the client sent (it is not identity: the gateway only
// continues a trace, never trusts one), and returns r carrying it.
// Called only when the gateway has a tracer.
func (g *Gateway) startTrace(ex *exchange, r *http.Request) *http.Request {
	ctx, span := g.tracer.Start(tracing.Extract(r.Context(), r.Header), spanRequest,
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", r.Method)))
	ex.span = span
	// A request the sampler left out still sends its (unsampled) trace
	// context on, but makes no child spans: they would record nothing.
	if span.IsRecording() {
		ex.tracer = g.tracer
	}
	return r.WithContext(ctx)
}

// endTrace records what the gateway decided on the request's span and
// ends it. Only the route's names, the request id and the decision are
// recorded: the path may carry identifiers, the query and the headers
// credentials.
func endTrace(ex *exchange, status int) {
	if ex.tracer == nil {
		ex.span.End() // not sampled: nothing to record
		return
	}
	var api, version, op string
	if ex.api != nil {
		api, version = ex.api.name, ex.api.version
	}
	if ex.op != nil {
		op = ex.op.label
	} else if ex.agent != nil {
		op = ex.agent.label
	}
	ex.span.SetAttributes(
		attribute.String("portcullis.request_id", ex.id),
		attribute.String("portcullis.api", api),
		attribute.String("portcullis.api_version", version),
		attribute.String("portcullis.operation", op),
		attribute.String("portcullis.decision", ex.decision.String()),
	)
	if ex.reason != "" {
		ex.span.SetAttributes(attribute.String("portcullis.reason", ex.reason))
	}
	tracing.RecordStatus(ex.span, status, true)
	ex.span.End()
}

// child starts a span named name under the request's span, in ctx; a
// nil span and ctx unchanged when the request is not traced, so a step
// pays one comparison.
func (ex *exchange) child(ctx context.Context, name string) (context.Context, trace.Span) {
	if ex.tracer == nil {
		return ctx, nil
	}
	return ex.tracer.Start(ctx, name)
}

// endChild ends a span child started, marking it failed when err is not
// nil; the error's text is not recorded (a resolver's may quote input).
func endChild(span trace.Span, err error) {
	if span == nil {
		return
	}
	if err != nil {
		span.SetStatus(codes.Error, "")
	}
	span.End()
}

// traceKind records which kind of token the resolve step took the
// presented one for: the kind, never the token.
func traceKind(span trace.Span, kind string) {
	if span != nil {
		span.SetAttributes(attribute.String("portcullis.token.kind", kind))
	}
}

// tracePolicy records the policy step's verdict and ends its span.
func tracePolicy(span trace.Span, allowed bool) {
	if span != nil {
		span.SetAttributes(attribute.Bool("portcullis.policy.allowed", allowed))
		span.End()
	}
}

// traceLimits records the rate-limit step's count and verdict and ends
// its span; a backend error marks it failed.
func traceLimits(span trace.Span, checks int, allowed bool, err error) {
	if span == nil {
		return
	}
	span.SetAttributes(
		attribute.Int("portcullis.ratelimit.checks", checks),
		attribute.Bool("portcullis.ratelimit.allowed", allowed),
	)
	endChild(span, err)
}

// endUpstream records the answer the client got from the upstream step
// (the upstream's status, or the gateway's 502 or 504 when the exchange
// failed) and ends the upstream span.
func endUpstream(span trace.Span, ex *exchange) {
	status := ex.status
	if status == 0 {
		status = http.StatusOK
	}
	switch ex.decision {
	case decisionBadGateway, decisionTimeout:
		span.SetStatus(codes.Error, ex.decision.String())
	}
	tracing.RecordStatus(span, status, true)
	span.End()
}
