package server

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestTracingOnStampsLogsAndFlushes: with an OTLP endpoint set, the
// gateway's access log lines carry the request's trace id, and the spans
// still queued are exported when the node stops.
func TestTracingOnStampsLogsAndFlushes(t *testing.T) {
	var exports atomic.Int32
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		exports.Add(1)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	t.Cleanup(collector.Close)
	getenv := func(k string) string {
		if k == "OTEL_EXPORTER_OTLP_ENDPOINT" {
			return collector.URL
		}
		return ""
	}
	var logs syncBuffer
	r, err := Start(t.Context(), testConfig(t), slog.New(slog.NewJSONHandler(&logs, nil)), WithGetenv(getenv))
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, _ := http.NewRequest("GET", r.GatewayURL+"/nowhere", nil)
	req.Header.Set("Traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	closeRunning(t, r) // writes the access log and exports the spans

	found := false
	for l := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["component"] == "gateway.access" {
			found = true
			if m["trace_id"] != traceID || m["span_id"] == nil {
				t.Errorf("access log line %v: want trace_id %s and a span_id", m, traceID)
			}
		}
	}
	if !found {
		t.Errorf("no access log line in:\n%s", logs.String())
	}
	if exports.Load() == 0 {
		t.Error("no spans exported by the time the node stopped")
	}
}

// TestTracingBadSettingFailsStart: an OTEL_* value tracing cannot honour
// stops the node at start rather than leaving it silently untraced.
func TestTracingBadSettingFailsStart(t *testing.T) {
	getenv := func(k string) string {
		if k == "OTEL_TRACES_EXPORTER" {
			return "zipkin"
		}
		return ""
	}
	r, err := Start(t.Context(), testConfig(t), slog.New(slog.DiscardHandler), WithGetenv(getenv))
	if err == nil {
		closeRunning(t, r)
		t.Fatal("Start accepted OTEL_TRACES_EXPORTER=zipkin")
	}
	if !strings.Contains(err.Error(), "OTEL_TRACES_EXPORTER") {
		t.Errorf("error %q does not name the variable", err)
	}
}
