package tracing

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestHandlerAndTransport: a client span's traceparent reaches the
// server, whose span continues the trace under it; no header value is
// recorded.
func TestHandlerAndTransport(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tracer := tp.Tracer("test")

	var got string
	srv := httptest.NewServer(Handler(tracer, "server", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("Traceparent")
		w.WriteHeader(http.StatusTeapot)
	})))
	defer srv.Close()
	client := &http.Client{Transport: Transport(tracer, "client", http.DefaultTransport)}
	req, _ := http.NewRequest("GET", srv.URL+"/p?code=secret-code", nil)
	req.Header.Set("Authorization", "Bearer secret-token")
	req.Header.Set("Traceparent", "00-11111111111111111111111111111111-2222222222222222-01")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if req.Header.Get("Traceparent") != "00-11111111111111111111111111111111-2222222222222222-01" {
		t.Error("the transport changed the caller's request")
	}

	spans := rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want 2", len(spans))
	}
	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byName[s.Name()] = s
		for _, a := range s.Attributes() {
			if v := a.Value.String(); v == "secret-token" || v == "Bearer secret-token" || v == "/p?code=secret-code" {
				t.Errorf("%s records %s = %s", s.Name(), a.Key, v)
			}
		}
	}
	c, s := byName["client"], byName["server"]
	if s.Parent().SpanID() != c.SpanContext().SpanID() || s.SpanContext().TraceID() != c.SpanContext().TraceID() {
		t.Error("the server span is not the child of the client span")
	}
	if want := "00-" + c.SpanContext().TraceID().String() + "-" + c.SpanContext().SpanID().String() + "-01"; got != want {
		t.Errorf("server got traceparent %q, want %q", got, want)
	}
	if s.SpanKind() != trace.SpanKindServer || c.SpanKind() != trace.SpanKindClient {
		t.Error("span kinds")
	}
}

// TestOffIsIdentity: without a tracer nothing is wrapped.
func TestOffIsIdentity(t *testing.T) {
	h := http.NewServeMux()
	if Handler(nil, "x", h) != http.Handler(h) || Transport(nil, "x", http.DefaultTransport) != http.DefaultTransport {
		t.Error("a nil tracer wraps")
	}
}
