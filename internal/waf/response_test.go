package waf

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// Answers a backend should never send: what the CRS response rules are
// for.
var leaks = []struct {
	name, contentType, body string
	rule                    int
}{
	{"mysql syntax error", "application/json",
		`{"error":"You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version for the right syntax to use near ''' at line 1"}`, 951230},
	{"postgres error", "text/plain",
		`Warning: pg_query() [function.pg-query]: Query failed: ERROR:  unterminated quoted string at or near "'" LINE 1`, 951240},
	{"java stack trace", "text/plain",
		"java.lang.NullPointerException: null\n\tat com.example.orders.OrderService.place(OrderService.java:42)\n\tat com.example.Main.main(Main.java:10)", 952110},
	{"php fatal error", "text/html",
		"<br />\n<b>Fatal error</b>:  Uncaught Error: Call to undefined function orders() in /var/www/html/index.php:3\nStack trace:\n#0 {main}", 953100},
}

func TestInspectResponseCatchesLeaks(t *testing.T) {
	w, err := New(Config{InspectResponse: true})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/warehouse/items/42", nil)
	for _, c := range leaks {
		t.Run(c.name, func(t *testing.T) {
			v := w.InspectResponse(Response{ID: "t", Request: req, Status: 500,
				Header: http.Header{"Content-Type": {c.contentType}}, Body: []byte(c.body)})
			if !v.Interrupted || !slices.Contains(v.Rules, c.rule) || v.Score < 4 {
				t.Errorf("verdict %+v, want interrupted by %d with a score of at least 4", v, c.rule)
			}
		})
	}
}

func TestInspectResponsePassesBenignAnswers(t *testing.T) {
	w, err := New(Config{InspectResponse: true})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/warehouse/items", nil)
	for _, body := range []string{
		`{"items":[{"id":"SKU-10042","name":"Box, large","notes":"Select the best option; drop by tomorrow. O'Brien's order"}]}`,
		`{"type":"urn:example:problem:out-of-stock","title":"Out of stock","status":409}`,
		"<html><body><h1>Orders</h1><p>Nothing yet. SELECT a product to start.</p></body></html>",
	} {
		v := w.InspectResponse(Response{ID: "t", Request: req, Status: 200,
			Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(body)})
		if v.Interrupted || len(v.Rules) > 0 {
			t.Errorf("%.40q: verdict %+v, want nothing", body, v)
		}
	}
}

// TestInspectResponseReadsTheFirstBytes: past the limit nothing is
// read, whatever it holds.
func TestInspectResponseReadsTheFirstBytes(t *testing.T) {
	w, err := New(Config{InspectResponse: true, ResponseBodyLimit: 1024})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/warehouse/items", nil)
	leak := []byte(leaks[0].body)
	padding := []byte(`{"items":"` + strings.Repeat("x", 1100) + `"}`)
	h := http.Header{"Content-Type": {"application/json"}}
	if v := w.InspectResponse(Response{Request: req, Status: 200, Header: h, Body: append(leak, padding...)}); !v.Interrupted {
		t.Errorf("leak in the first bytes: verdict %+v, want interrupted", v)
	}
	if v := w.InspectResponse(Response{Request: req, Status: 200, Header: h, Body: append(padding, leak...)}); v.Interrupted {
		t.Errorf("leak past the limit: verdict %+v, want nothing (not read)", v)
	}
}

func TestInspectResponseNeedsTheResponseRules(t *testing.T) {
	w, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if w.InspectsResponses() {
		t.Error("InspectsResponses without InspectResponse")
	}
	v := w.InspectResponse(Response{Request: httptest.NewRequest("GET", "/", nil), Status: 200, Body: []byte(leaks[0].body)})
	if v.Interrupted || v.Rules != nil {
		t.Errorf("verdict %+v without response rules", v)
	}
	// The response rule ids are not loaded, so excluding one is an
	// error; with the rules it is not.
	if _, err := New(Config{ExcludeRules: []int{951230}}); err == nil {
		t.Error("excluding a response rule without the response rules: no error")
	}
	r, err := New(Config{InspectResponse: true, ExcludeRules: []int{951230}})
	if err != nil {
		t.Fatal(err)
	}
	v = r.InspectResponse(Response{Request: httptest.NewRequest("GET", "/", nil), Status: 200, Body: []byte(leaks[0].body)})
	if slices.Contains(v.Rules, 951230) {
		t.Errorf("excluded rule matched: %+v", v)
	}
}

// TestResponseRulesLeaveRequestsAlone: compiling the response rules
// changes no request verdict.
func TestResponseRulesLeaveRequestsAlone(t *testing.T) {
	plain, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	both, err := New(Config{InspectResponse: true})
	if err != nil {
		t.Fatal(err)
	}
	corpus := loadCorpus(t)
	for i := 0; i < len(corpus); i += 5 {
		a, b := plain.Inspect(corpus[i].request()), both.Inspect(corpus[i].request())
		if a.Interrupted != b.Interrupted || a.Score != b.Score || !slices.Equal(a.Rules, b.Rules) {
			t.Errorf("%s %s: %+v without response rules, %+v with", corpus[i].Method, corpus[i].Target, a, b)
		}
	}
}

func TestInspectsBody(t *testing.T) {
	for ct, want := range map[string]bool{
		"":                                true,
		"application/json":                true,
		"application/json; charset=utf-8": true,
		"Application/Problem+JSON":        true,
		"application/vnd.api+json":        true,
		"text/html; charset=utf-8":        true,
		"text/plain":                      true,
		"application/xml":                 true,
		"application/atom+xml":            true,
		"application/javascript":          true,
		"text/event-stream":               false,
		"image/png":                       false,
		"application/octet-stream":        false,
		"application/pdf":                 false,
		"application/zip":                 false,
		"multipart/form-data; boundary=x": false,
		"not a media type;;":              true,
	} {
		if got := InspectsBody(ct); got != want {
			t.Errorf("InspectsBody(%q) = %v, want %v", ct, got, want)
		}
	}
}

// BenchmarkWAFResponse inspects a 2 KB JSON answer at paranoia 1.
func BenchmarkWAFResponse(b *testing.B) {
	w, err := New(Config{InspectResponse: true})
	if err != nil {
		b.Fatal(err)
	}
	r := Response{ID: "bench", Request: httptest.NewRequest("GET", "/warehouse/orders/42", nil), Status: 200,
		Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(benchBody)}
	b.ReportAllocs()
	b.SetBytes(int64(len(r.Body)))
	for b.Loop() {
		if v := w.InspectResponse(r); v.Interrupted {
			b.Fatalf("benign answer refused: %v", v.Rules)
		}
	}
}
