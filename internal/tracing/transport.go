package tracing

import (
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// transport makes a client span of each round trip and sends its
// context on in traceparent.
type transport struct {
	tracer trace.Tracer
	name   string
	next   http.RoundTripper
}

// Transport returns next wrapped so each request is a client span named
// name, its context injected into the request's headers; next itself
// when tracer is nil (tracing off). The span ends when the response
// headers arrive: the body is the caller's to time.
func Transport(tracer trace.Tracer, name string, next http.RoundTripper) http.RoundTripper {
	if tracer == nil {
		return next
	}
	if next == nil {
		next = http.DefaultTransport
	}
	return &transport{tracer: tracer, name: name, next: next}
}

// RoundTrip records method, host and status only: the URL's path and
// query, and every header, may carry credentials.
func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, span := t.tracer.Start(req.Context(), t.name,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("http.request.method", req.Method),
			attribute.String("server.address", req.URL.Hostname()),
		))
	defer span.End()
	// RoundTrip must not change the caller's request: inject into a copy.
	out := req.Clone(ctx)
	Inject(ctx, out.Header)
	resp, err := t.next.RoundTrip(out)
	if err != nil {
		// The error of a failed exchange names the URL, not the body.
		span.SetStatus(codes.Error, "round trip failed")
		return resp, err
	}
	RecordStatus(span, resp.StatusCode, false)
	return resp, nil
}

// RecordStatus sets http.response.status_code on span, and an error
// status for a 5xx, and for a 4xx too on a client span (server false), as
// the HTTP semantic conventions say: a server answering 4xx did its job.
func RecordStatus(span trace.Span, status int, server bool) {
	span.SetAttributes(attribute.Int("http.response.status_code", status))
	if status >= 500 || (!server && status >= 400) {
		span.SetStatus(codes.Error, strconv.Itoa(status))
	}
}
