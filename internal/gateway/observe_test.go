package gateway

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/catalog"
)

func TestAccessLog(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token(t, "opaque", "list_items")
	w := e.serve(request("GET", "/warehouse/items/7", tok))
	if w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	e.serve(request("POST", "/warehouse/orders", tok))
	lines := e.logLines(t, "request")
	if len(lines) != 2 {
		t.Fatalf("%d access log lines, want 2:\n%s", len(lines), e.logs)
	}
	ignore := cmpopts.IgnoreMapEntries(func(k string, _ any) bool {
		return k == "time" || k == "latency_ms" || k == "request_id"
	})
	want := map[string]any{
		"level": "INFO", "msg": "request", "component": "gateway.access",
		"api": "warehouse", "version": "v1", "operation": "GET /items/{id}", "method": "GET",
		"client_id": "spa", "sub": "alice", "decision": "allow", "reason": "",
		"status": float64(200), "bytes": float64(len(`{"ok":true}` + "\n")),
	}
	if diff := cmp.Diff(want, lines[0], ignore); diff != "" {
		t.Errorf("access log line (-want +got):\n%s", diff)
	}
	if lines[0]["request_id"] != w.Header().Get("X-Request-Id") {
		t.Errorf("request_id = %v, want %s", lines[0]["request_id"], w.Header().Get("X-Request-Id"))
	}
	if got := lines[1]["decision"]; got != "deny_scope" {
		t.Errorf("second line decision = %v, want deny_scope", got)
	}
	logs := e.logs.String()
	if strings.Contains(logs, tok) || strings.Contains(logs, "Bearer") {
		t.Error("the log holds a token or an Authorization header")
	}
	if strings.Contains(logs, "eyJ") {
		t.Error("the log holds a JWT")
	}
}

func TestMetrics(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token(t, "opaque", "list_items")
	for range 3 {
		e.serve(request("GET", "/warehouse/items", tok))
	}
	e.serve(request("GET", "/warehouse/items", ""))
	e.serve(request("GET", "/elsewhere", ""))
	e.serve(request("DELETE", "/warehouse/items", tok))

	tests := []struct {
		labels string
		want   float64
	}{
		{`api="",code="404",decision="not_found",operation="",version=""`, 1},
		{`api="warehouse",code="200",decision="allow",operation="GET /items",version="v1"`, 3},
		{`api="warehouse",code="401",decision="deny_token",operation="GET /items",version="v1"`, 1},
		{`api="warehouse",code="405",decision="method_not_allowed",operation="",version="v1"`, 1},
	}
	for _, tc := range tests {
		if got := gathered(t, e, "portcullis_gateway_requests_total", tc.labels); got != tc.want {
			t.Errorf("requests_total{%s} = %v, want %v", tc.labels, got, tc.want)
		}
	}
	if got := gathered(t, e, "portcullis_gateway_request_duration_seconds", `api="warehouse",operation="GET /items",version="v1"`); got != 4 {
		t.Errorf("duration samples for GET /items = %v, want 4", got)
	}
	hits := gathered(t, e, "portcullis_gateway_token_cache_hits_total", `kind="opaque"`)
	misses := gathered(t, e, "portcullis_gateway_token_cache_misses_total", `kind="opaque"`)
	if hits != 2 || misses != 1 {
		t.Errorf("opaque cache hits %v misses %v, want 2 and 1", hits, misses)
	}
	if got := gathered(t, e, "portcullis_gateway_jwks_refreshes_total", ``); got < 1 {
		t.Errorf("jwks refreshes = %v, want ≥1", got)
	}
	if e.gw.keyRefreshes() < 1 {
		t.Errorf("key refreshes = %d, want ≥1", e.gw.keyRefreshes())
	}
}

// Two served versions of one API count in series of their own.
func TestMetricsPerVersion(t *testing.T) {
	e := newEnv(t, func(cfg *catalog.Snapshot) {
		cfg.APIs[0].Version = "v1"
		v2 := cfg.APIs[0]
		v2.Version, v2.BasePath, v2.CORS = "v2", "/warehouse/v2", nil
		v2.Operations = []catalog.Operation{{Method: "GET", Path: "/items", Public: true}}
		cfg.APIs = append(cfg.APIs, v2)
	})
	e.serve(request("GET", "/warehouse/items", ""))
	e.serve(request("GET", "/warehouse/v2/items", ""))
	e.serve(request("GET", "/warehouse/v2/items", ""))
	for labels, want := range map[string]float64{
		`api="warehouse",code="401",decision="deny_token",operation="GET /items",version="v1"`: 1,
		`api="warehouse",code="200",decision="allow",operation="GET /items",version="v2"`:      2,
	} {
		if got := gathered(t, e, "portcullis_gateway_requests_total", labels); got != want {
			t.Errorf("requests_total{%s} = %v, want %v", labels, got, want)
		}
	}
	if got := gathered(t, e, "portcullis_gateway_request_duration_seconds", `api="warehouse",operation="GET /items",version="v2"`); got != 2 {
		t.Errorf("duration samples of v2 = %v, want 2", got)
	}
}

// gathered reads one series from the registry: a counter's value or a
// histogram's sample count. labels is the series' label set rendered as
// name="value" pairs in name order.
func gathered(t testing.TB, e *env, name, labels string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var parts []string
			for _, l := range m.GetLabel() {
				parts = append(parts, l.GetName()+"="+strconv.Quote(l.GetValue()))
			}
			if strings.Join(parts, ",") != labels {
				continue
			}
			if h := m.GetHistogram(); h != nil {
				return float64(h.GetSampleCount())
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no series %s{%s}", name, labels)
	return 0
}

func TestMetricsOffWithoutRegistry(t *testing.T) {
	e := newEnv(t, nil)
	gw, err := New(t.Context(), Options{Catalog: e.cfg, Getenv: e.getenv})
	if err != nil {
		t.Fatal(err)
	}
	if gw.metrics != nil {
		t.Error("metrics registered without a registry")
	}
	if w := httptestServe(gw, request("GET", "/warehouse/items", e.token(t, "jwt", "list_items"))); w.Code != 200 {
		t.Errorf("status %d", w.Code)
	}
	// A second gateway on the same registry is refused, not mixed in.
	if _, err := New(t.Context(), Options{Catalog: e.cfg, Getenv: e.getenv, Metrics: e.reg}); err == nil {
		t.Error("a second gateway registered on the same registry")
	}
}

// TestImports keeps DESIGN's trust model: the gateway never imports the
// authorization server's packages, so it can never issue a token.
func TestImports(t *testing.T) {
	forbidden := []string{
		"github.com/portcullis/portcullis/internal/oauth",
		"github.com/portcullis/portcullis/internal/keys",
		"github.com/portcullis/portcullis/internal/app",
	}
	for _, dir := range []string{".", "gatewaytest"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, file := range files {
			f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				for _, bad := range forbidden {
					if path == bad || strings.HasPrefix(path, bad+"/") {
						t.Errorf("%s imports %s", file, path)
					}
				}
			}
		}
	}
}

func TestFailedNewReleasesMetrics(t *testing.T) {
	e := newEnv(t, nil)
	bad := cloneConfig(e.cfg)
	bad.APIs[0].BasePath = "nope"
	reg := prometheus.NewRegistry()
	if _, err := New(t.Context(), Options{Catalog: bad, Getenv: e.getenv, Metrics: reg}); err == nil {
		t.Fatal("New accepted a bad config")
	}
	if _, err := New(t.Context(), Options{Catalog: e.cfg, Getenv: e.getenv, Metrics: reg}); err != nil {
		t.Errorf("New after a failed New on the same registry: %v", err)
	}
}
