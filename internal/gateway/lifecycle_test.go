package gateway

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/catalog"
)

// Every response for a deprecated API version carries its Deprecation
// (RFC 9745 §2) and Sunset (RFC 8594 §3), whoever made it: the upstream
// or the gateway refusing, answering a preflight or failing to reach
// the upstream. Another API's responses carry neither.
func TestLifecycleOnEveryResponse(t *testing.T) {
	deprecated := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	sunset := time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC)
	const (
		wantDeprecation = "@1767323045"
		wantSunset      = "Wed, 30 Jun 2027 00:00:00 GMT"
	)
	le := newLimitEnv(t, func(cfg *catalog.Snapshot) {
		a := &cfg.APIs[0]
		a.Version = "v1"
		a.Deprecation, a.Sunset = deprecated, sunset
		a.MaxBodyBytes = 16
		a.CORS = &catalog.CORS{AllowedOrigins: []string{"https://app.example"}}
		a.Operations[1].Limits = []catalog.Limit{{Name: "one-a-minute", Rate: "1/m", Key: []string{"sub"}}}
		// A second deprecated API whose upstream is gone (502), and a
		// current one.
		gone := catalog.API{Name: "gone", BasePath: "/gone", Upstream: "http://127.0.0.1:1", Public: true,
			Operations: []catalog.Operation{{Method: "GET", Path: "/x"}}, Deprecation: deprecated}
		current := catalog.API{Name: "current", BasePath: "/current", Upstream: cfg.APIs[0].Upstream, Public: true,
			Operations: []catalog.Operation{{Method: "GET", Path: "/x"}}}
		cfg.APIs = append(cfg.APIs, gone, current)
	}, nil)
	// The upstream announces a lifecycle of its own: the catalog's wins.
	le.up.SetHandler(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Deprecation", "@1")
		w.Header().Set("Sunset", "Thu, 01 Jan 1970 00:00:00 GMT")
		_, _ = io.WriteString(w, "{}")
	})
	tok := le.tokenFor(t, caller{sub: "alice", scope: "list_items order_item"})
	noScope := le.tokenFor(t, caller{sub: "bob", scope: "other"})
	tooLarge := func() *http.Request {
		r := request("POST", "/warehouse/orders", tok)
		r.Body = io.NopCloser(strings.NewReader(strings.Repeat("x", 17)))
		r.ContentLength = 17
		return r
	}
	pre := request("OPTIONS", "/warehouse/items", "")
	pre.Header.Set("Origin", "https://app.example")
	pre.Header.Set("Access-Control-Request-Method", "GET")

	tests := []struct {
		name       string
		r          *http.Request
		code       int
		dep, sunst string
	}{
		{"proxied", request("GET", "/warehouse/items", tok), 200, wantDeprecation, wantSunset},
		{"no token", request("GET", "/warehouse/items", ""), 401, wantDeprecation, wantSunset},
		{"insufficient scope", request("GET", "/warehouse/items", noScope), 403, wantDeprecation, wantSunset},
		{"no such operation", request("GET", "/warehouse/nothing", tok), 404, wantDeprecation, wantSunset},
		{"method not allowed", request("DELETE", "/warehouse/items", tok), 405, wantDeprecation, wantSunset},
		{"path parameters", request("GET", "/warehouse/items;x=1", tok), 400, wantDeprecation, wantSunset},
		{"payload too large", tooLarge(), 413, wantDeprecation, wantSunset},
		{"within the rate", request("GET", "/warehouse/items/1", tok), 200, wantDeprecation, wantSunset},
		{"over the rate", request("GET", "/warehouse/items/2", tok), 429, wantDeprecation, wantSunset},
		{"CORS preflight", pre, 204, wantDeprecation, wantSunset},
		{"upstream gone", request("GET", "/gone/x", ""), 502, wantDeprecation, ""},
		{"current API", request("GET", "/current/x", ""), 200, "@1", "Thu, 01 Jan 1970 00:00:00 GMT"},
		{"current API, no operation", request("GET", "/current/y", ""), 404, "", ""},
		{"no API", request("GET", "/elsewhere", ""), 404, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := le.serve(tc.r)
			if w.Code != tc.code {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tc.code, w.Body)
			}
			h := w.Result().Header
			if got := h.Values("Deprecation"); strings.Join(got, ",") != tc.dep {
				t.Errorf("Deprecation = %q, want %q", got, tc.dep)
			}
			if got := h.Values("Sunset"); strings.Join(got, ",") != tc.sunst {
				t.Errorf("Sunset = %q, want %q", got, tc.sunst)
			}
		})
	}
}

// Stamping the lifecycle costs no allocation, for an API that announces
// one and for one that does not: the values are rendered per table.
func TestLifecycleAllocs(t *testing.T) {
	h := http.Header{}
	rw := &headerOnlyWriter{h: h}
	for name, api := range map[string]*apiRoute{
		"deprecated": {lifecycle: newLifecycle(time.Unix(1, 0), time.Unix(2, 0))},
		"current":    {},
	} {
		ex := &exchange{api: api}
		allocs := testing.AllocsPerRun(100, func() {
			ex.rw, ex.status = rw, 0
			ex.WriteHeader(http.StatusUnauthorized)
		})
		if allocs != 0 {
			t.Errorf("%s: WriteHeader allocates %v times, want 0", name, allocs)
		}
	}
	if got := h.Get("Deprecation"); got != "@1" {
		t.Errorf("Deprecation = %q, want @1", got)
	}
}

// headerOnlyWriter is a ResponseWriter that keeps only its header map.
type headerOnlyWriter struct{ h http.Header }

func (w *headerOnlyWriter) Header() http.Header         { return w.h }
func (w *headerOnlyWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *headerOnlyWriter) WriteHeader(int)             {}
