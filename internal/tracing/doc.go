// Package tracing is the program's OpenTelemetry tracing: a tracer
// provider set up from the standard OTEL_* environment variables (off
// unless they ask for an OTLP exporter), W3C Trace Context propagation
// over HTTP headers, a client transport and a server middleware that
// make spans, and a slog handler that stamps log lines with the trace
// and span ids of their context.
//
// Tracing is optional and must cost nothing when it is off: every
// constructor here returns a nil tracer, or its input unchanged, so
// callers guard their span work with one nil check and the request path
// allocates nothing more.
//
// It must never record a credential: no span attribute made here holds a
// header value, a query string or a body, only methods, status codes,
// host names and the span names callers choose.
package tracing
