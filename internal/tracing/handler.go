package tracing

import (
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// handler makes a server span of each request, continuing the caller's
// trace.
type handler struct {
	tracer trace.Tracer
	name   string
	next   http.Handler
}

// Handler returns next wrapped so each request is a server span named
// name, the child of the caller's traceparent when it sends one; next
// itself when tracer is nil (tracing off).
func Handler(tracer trace.Tracer, name string, next http.Handler) http.Handler {
	if tracer == nil {
		return next
	}
	return &handler{tracer: tracer, name: name, next: next}
}

// ServeHTTP records method, path and status: never the query string,
// which may carry an authorization code or a state.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, span := h.tracer.Start(Extract(r.Context(), r.Header), h.name,
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.String("http.request.method", r.Method),
			attribute.String("url.path", r.URL.Path),
		))
	defer span.End()
	sw := &statusWriter{ResponseWriter: w}
	h.next.ServeHTTP(sw, r.WithContext(ctx))
	status := sw.status
	if status == 0 {
		status = http.StatusOK
	}
	RecordStatus(span, status, true)
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the server's writer (flush,
// deadlines, hijack).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
