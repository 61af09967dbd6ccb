package e2e

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/store"
)

// otlpReceiver is an OTLP/HTTP trace receiver in the test process: it
// keeps every span it is sent.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want protobuf on /v1/traces", http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			o.spans = append(o.spans, ss.Spans...)
		}
	}
	o.mu.Unlock()
	resp, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(resp)
}

// wait returns the spans received once one for which found is true has
// arrived.
func (o *otlpReceiver) wait(t *testing.T, what string, found func(*tracepb.Span) bool) []*tracepb.Span {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		o.mu.Lock()
		spans := slices.Clone(o.spans)
		o.mu.Unlock()
		if slices.ContainsFunc(spans, found) {
			return spans
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no span %s reached the receiver", what)
	return nil
}

// TestTracingAcrossServices sends one request client → gateway →
// authorization server (introspection) → backend with tracing on, and
// checks the trace the receiver gets: one trace id, continuing the
// client's, each span under the right parent, the backend handed that
// trace, and no credential in any attribute.
func TestTracingAcrossServices(t *testing.T) {
	// The batch processor reads its delay from the process environment.
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
	recv := &otlpReceiver{}
	collector := httptest.NewServer(recv)
	t.Cleanup(collector.Close)
	g := startGateway(t, func(cfg *config.Config, environ map[string]string) {
		environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.URL
		environ["OTEL_SERVICE_NAME"] = "portcullis-test"
		api := &cfg.Gateway.APIs[0]
		api.Policy = `request.method == "GET" || request.method == "POST"`
		api.Limits = []config.Limit{{Name: "traced", Rate: "100/s", Key: []string{"client_id"}}}
	})

	tok := g.serviceToken(t, store.FormatOpaque, "list_items")
	const clientTrace, clientSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	resp := g.call(t, "GET", "/warehouse/items", tok, map[string]string{
		"Traceparent": "00-" + clientTrace + "-" + clientSpan + "-01",
	})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	if resp.Header.Get("Traceparent") != "" {
		t.Error("the gateway answered with a traceparent")
	}
	// The gateway's span ends last, after its access log line.
	inClientTrace := func(s *tracepb.Span) bool {
		return s.Name == "gateway.request" && hex.EncodeToString(s.TraceId) == clientTrace
	}
	spans := recv.wait(t, "gateway.request of the client's trace", inClientTrace)

	byName := map[string]*tracepb.Span{}
	for _, s := range spans {
		if hex.EncodeToString(s.TraceId) == clientTrace {
			byName[s.Name] = s
			t.Logf("span %s %x parent %x", s.Name, s.SpanId, s.ParentSpanId)
		}
	}
	for child, parent := range map[string]string{
		"gateway.resolve":    "gateway.request",
		"gateway.introspect": "gateway.resolve",
		"authz.request":      "gateway.introspect",
		"oauth.introspect":   "authz.request",
		"gateway.policy":     "gateway.request",
		"gateway.ratelimit":  "gateway.request",
		"gateway.upstream":   "gateway.request",
	} {
		c, p := byName[child], byName[parent]
		switch {
		case c == nil:
			t.Errorf("no span %q in the client's trace", child)
		case p == nil:
			t.Errorf("no span %q in the client's trace", parent)
		case !bytes.Equal(c.ParentSpanId, p.SpanId):
			t.Errorf("%s: parent %x, want %s (%x)", child, c.ParentSpanId, parent, p.SpanId)
		}
	}
	root := byName["gateway.request"]
	if root == nil {
		t.Fatal("no gateway.request span in the client's trace")
	}
	if got := hex.EncodeToString(root.ParentSpanId); got != clientSpan {
		t.Errorf("gateway.request parent %s, want the client's span %s", got, clientSpan)
	}
	if root.Kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("gateway.request kind %v, want server", root.Kind)
	}
	if v := attr(byName["gateway.resolve"], "portcullis.token.cache_hit"); v != "false" {
		t.Errorf("gateway.resolve cache_hit %q, want false on the first call", v)
	}
	if v := attr(byName["gateway.resolve"], "portcullis.token.kind"); v != "opaque" {
		t.Errorf("gateway.resolve token kind %q, want opaque", v)
	}
	if v := attr(root, "portcullis.operation"); v != "GET /items" {
		t.Errorf("gateway.request operation %q", v)
	}

	// The backend continues the same trace, under the upstream call.
	last, _ := g.up.lastRequest()
	tp := last.Header.Get("Traceparent")
	if up := byName["gateway.upstream"]; up == nil ||
		tp != "00-"+clientTrace+"-"+hex.EncodeToString(up.SpanId)+"-01" {
		t.Errorf("backend traceparent %q: want the client's trace under gateway.upstream", tp)
	}

	// The token request was a trace of its own, with its grant type.
	tokenSpans := recv.wait(t, "oauth.token", func(s *tracepb.Span) bool { return s.Name == "oauth.token" })
	i := slices.IndexFunc(tokenSpans, func(s *tracepb.Span) bool { return s.Name == "oauth.token" })
	if v := attr(tokenSpans[i], "oauth.grant_type"); v != "client_credentials" {
		t.Errorf("oauth.token grant_type %q", v)
	}
	if !slices.ContainsFunc(tokenSpans, func(s *tracepb.Span) bool {
		return s.Name == "store.CreateToken" && bytes.Equal(s.TraceId, tokenSpans[i].TraceId)
	}) {
		t.Error("no store.CreateToken span in the token request's trace")
	}

	// Nothing secret in any attribute of any span.
	secrets := []string{tok, "Bearer", "Basic ", "eyJ"}
	for _, s := range g.secrets {
		secrets = append(secrets, s)
	}
	for _, s := range recv.wait(t, "gateway.request of the client's trace", inClientTrace) {
		for _, kv := range s.Attributes {
			v := valueText(kv.Value)
			for _, secret := range secrets {
				if strings.Contains(v, secret) {
					t.Errorf("span %s attribute %s holds a credential", s.Name, kv.Key)
				}
			}
		}
	}
}

// attr returns the value of span's attribute key as text, "" when absent.
func attr(span *tracepb.Span, key string) string {
	if span == nil {
		return ""
	}
	for _, kv := range span.Attributes {
		if kv.Key == key {
			return valueText(kv.Value)
		}
	}
	return ""
}

// valueText is an attribute value as text.
func valueText(v *commonpb.AnyValue) string {
	switch v := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return v.StringValue
	case *commonpb.AnyValue_BoolValue:
		return strconv.FormatBool(v.BoolValue)
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(v.IntValue, 10)
	default:
		return fmt.Sprint(v)
	}
}
