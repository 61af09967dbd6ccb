package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/portcullis/portcullis/internal/tracing"
)

const clientTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// TestTracingOff: without a tracer the gateway passes the client's
// traceparent through untouched and its log lines carry no trace id.
func TestTracingOff(t *testing.T) {
	e := newEnv(t, nil)
	r := request("GET", "/warehouse/items", e.token(t, "jwt", "list_items"))
	r.Header.Set("Traceparent", clientTraceparent)
	if rec := e.serve(r); rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	last, _ := e.up.Last()
	if got := last.Header.Get("Traceparent"); got != clientTraceparent {
		t.Errorf("upstream traceparent %q, want the client's %q", got, clientTraceparent)
	}
	for _, l := range e.logLines(t, "request") {
		if _, ok := l["trace_id"]; ok {
			t.Errorf("access log line with tracing off has a trace_id: %v", l)
		}
	}
}

// TestTracingSpans: with a tracer, a request is a server span continuing
// the client's trace, with resolution (and its introspection call, then
// a cache hit), policy and upstream spans under it; the upstream gets
// the trace under the upstream span; the access log line carries the
// trace id; no span attribute holds the token.
func TestTracingSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	e := newEnvWith(t, nil, func(o *Options) {
		o.Tracer = tp.Tracer("gateway")
		o.Logger = slog.New(tracing.LogHandler(o.Logger.Handler()))
	})
	tok := e.token(t, "opaque", "list_items")
	for i := range 2 {
		r := request("GET", "/warehouse/orgs/acme/items", tok)
		r.Header.Set("Traceparent", clientTraceparent)
		if rr := e.serve(r); rr.Code != http.StatusOK {
			t.Fatalf("call %d: status %d", i, rr.Code)
		}
	}

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	var requests, resolves, upstreams []sdktrace.ReadOnlySpan
	names := map[string]int{}
	for _, s := range rec.Ended() {
		names[s.Name()]++
		if s.SpanContext().TraceID().String() != traceID {
			t.Errorf("span %s in trace %s, want the client's", s.Name(), s.SpanContext().TraceID())
		}
		for _, a := range s.Attributes() {
			if strings.Contains(a.Value.String(), tok) {
				t.Errorf("span %s attribute %s holds the token", s.Name(), a.Key)
			}
		}
		switch s.Name() {
		case spanRequest:
			requests = append(requests, s)
		case spanResolve:
			resolves = append(resolves, s)
		case spanUpstream:
			upstreams = append(upstreams, s)
		}
	}
	want := map[string]int{spanRequest: 2, spanResolve: 2, spanIntrospect: 1, spanPolicy: 2, spanUpstream: 2}
	for name, n := range want {
		if names[name] != n {
			t.Errorf("%d %s spans, want %d (all: %v)", names[name], name, n, names)
		}
	}
	if len(requests) != 2 || len(resolves) != 2 || len(upstreams) != 2 {
		t.FailNow()
	}
	for i, hit := range []string{"false", "true"} {
		if got := spanAttr(resolves[i], "portcullis.token.cache_hit"); got != hit {
			t.Errorf("call %d: cache_hit %q, want %s", i, got, hit)
		}
		if resolves[i].Parent().SpanID() != requests[i].SpanContext().SpanID() {
			t.Errorf("call %d: resolve is not the request's child", i)
		}
	}
	if got := requests[0].Parent().SpanID().String(); got != "00f067aa0ba902b7" {
		t.Errorf("request span parent %s, want the client's span", got)
	}

	last, _ := e.up.Last()
	wantTP := "00-" + traceID + "-" + upstreams[1].SpanContext().SpanID().String() + "-01"
	if got := last.Header.Get("Traceparent"); got != wantTP {
		t.Errorf("upstream traceparent %q, want %q", got, wantTP)
	}
	lines := e.logLines(t, "request")
	if len(lines) != 2 {
		t.Fatalf("%d access log lines, want 2", len(lines))
	}
	if lines[1]["trace_id"] != traceID || lines[1]["span_id"] != requests[1].SpanContext().SpanID().String() {
		t.Errorf("access log line %v: want trace %s and the request's span", lines[1], traceID)
	}
}

func spanAttr(s sdktrace.ReadOnlySpan, key string) string {
	for _, a := range s.Attributes() {
		if string(a.Key) == key {
			return a.Value.String()
		}
	}
	return ""
}
