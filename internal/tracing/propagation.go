package tracing

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/propagation"
)

// traceContext is W3C Trace Context (traceparent, tracestate): the one
// format Portcullis reads and writes. Baggage is not propagated: it is
// free-form data a client could use to smuggle values to backends.
var traceContext = propagation.TraceContext{}

// Extract returns ctx carrying the remote span context of h's
// traceparent and tracestate, or ctx unchanged when they are absent or
// malformed.
func Extract(ctx context.Context, h http.Header) context.Context {
	return traceContext.Extract(ctx, propagation.HeaderCarrier(h))
}

// Inject writes the span context of ctx into h as traceparent and
// tracestate, replacing what h had, so a backend sees this hop's span as
// its parent rather than whatever the caller sent.
func Inject(ctx context.Context, h http.Header) {
	h.Del("Traceparent")
	h.Del("Tracestate")
	traceContext.Inject(ctx, propagation.HeaderCarrier(h))
}
