package gateway

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/portcullis/portcullis/internal/catalog"
)

// update rewrites the golden files of testdata instead of comparing.
var update = flag.Bool("update", false, "rewrite golden files")

// itemSchema is the inline schema of POST /orders in these tests.
var itemSchema = map[string]any{
	"type":                 "object",
	"required":             []any{"sku", "qty"},
	"additionalProperties": false,
	"properties": map[string]any{
		"sku":     map[string]any{"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"},
		"qty":     map[string]any{"type": "integer", "minimum": 1, "maximum": 100},
		"note":    map[string]any{"type": "string", "maxLength": 20},
		"contact": map[string]any{"type": "string", "format": "email"},
		"tags":    map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
	},
}

// validationEnv is the warehouse with a schema on POST /orders, in mode
// (empty: the default).
func validationEnv(t testing.TB, mode string, edit func(*catalog.API)) *env {
	return newEnv(t, func(s *catalog.Snapshot) {
		a := &s.APIs[0]
		for j := range a.Operations {
			if a.Operations[j].Path == "/orders" {
				a.Operations[j].Validation = &catalog.OperationValidation{
					Mode:          mode,
					RequestSchema: itemSchema,
					Parameters: []catalog.ValidationParameter{
						{Name: "dry_run", In: "query", Schema: map[string]any{"type": "boolean"}},
					},
				}
			}
		}
		if edit != nil {
			edit(a)
		}
	})
}

func (e *env) post(t testing.TB, target, contentType, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := request("POST", target, e.token(t, "jwt", "order_item"))
	r.Body = io.NopCloser(strings.NewReader(body))
	r.ContentLength = int64(len(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return e.serve(r)
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, d)
	}
}

// problemGolden renders a problem response without its request id.
func problemGolden(t *testing.T, w *httptest.ResponseRecorder) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("problem %q: %v", w.Body.String(), err)
	}
	if m["request_id"] != w.Header().Get("X-Request-Id") {
		t.Errorf("request_id = %v, want the X-Request-Id", m["request_id"])
	}
	m["request_id"] = "ID"
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func TestValidateEnforce(t *testing.T) {
	e := validationEnv(t, "", nil)
	for _, tc := range []struct {
		name, target, ctype, body string
		status                    int
		golden                    string
	}{
		{name: "valid", target: "/warehouse/orders", ctype: "application/json", body: `{"sku":"ABC-1234","qty":2}`, status: 200},
		{name: "valid charset", target: "/warehouse/orders?dry_run=true", ctype: "application/json; charset=UTF-8", body: `{"sku":"ABC-1234","qty":2}`, status: 200},
		{name: "schema violations", target: "/warehouse/orders", ctype: "application/json",
			body:   `{"sku":"abc","qty":0,"note":"` + strings.Repeat("x", 200) + `","contact":"not an email","extra":true}`,
			status: 400, golden: "validate_schema.golden"},
		{name: "missing required", target: "/warehouse/orders", ctype: "application/json", body: `{}`, status: 400, golden: "validate_required.golden"},
		{name: "bad query parameter", target: "/warehouse/orders?dry_run=maybe", ctype: "application/json", body: `{"sku":"ABC-1234","qty":2}`,
			status: 400, golden: "validate_query.golden"},
		{name: "duplicate key", target: "/warehouse/orders", ctype: "application/json", body: `{"sku":"ABC-1234","qty":2,"qty":3}`,
			status: 400, golden: "validate_duplicate.golden"},
		{name: "invalid utf-8", target: "/warehouse/orders", ctype: "application/json", body: "{\"sku\":\"ABC-1234\",\"qty\":2,\"note\":\"\xff\"}",
			status: 400, golden: "validate_utf8.golden"},
		{name: "deep", target: "/warehouse/orders", ctype: "application/json", body: strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
			status: 400, golden: "validate_depth.golden"},
		{name: "not json", target: "/warehouse/orders", ctype: "application/json", body: `{"sku":`, status: 400},
		{name: "wrong content type", target: "/warehouse/orders", ctype: "text/plain", body: `{"sku":"ABC-1234","qty":2}`,
			status: 415, golden: "validate_media.golden"},
		{name: "no content type", target: "/warehouse/orders", body: `{"sku":"ABC-1234","qty":2}`, status: 415},
		{name: "latin-1 json", target: "/warehouse/orders", ctype: "application/json; charset=iso-8859-1", body: `{"sku":"ABC-1234","qty":2}`, status: 415},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.up.Requests())
			w := e.post(t, tc.target, tc.ctype, tc.body)
			if w.Code != tc.status {
				t.Fatalf("status = %d, want %d (body %s)", w.Code, tc.status, w.Body.String())
			}
			if tc.status != 200 {
				if len(e.up.Requests()) != before {
					t.Error("a refused request reached the upstream")
				}
				if len(w.Body.Bytes()) > 4096 {
					t.Errorf("problem of %d bytes", len(w.Body.Bytes()))
				}
				if bytes.Contains(w.Body.Bytes(), []byte(strings.Repeat("x", 41))) {
					t.Error("the problem echoes more than 40 bytes of the input")
				}
			}
			if tc.golden != "" {
				golden(t, tc.golden, problemGolden(t, w))
			}
		})
	}
	if got := counterValue(t, e.gw.metrics.validation.WithLabelValues("warehouse", "v1", "POST /orders", "enforce")); got != 10 {
		t.Errorf("validation failures = %v, want 10", got)
	}
}

func TestValidateReportLetsThrough(t *testing.T) {
	e := validationEnv(t, catalog.ValidationReport, nil)
	w := e.post(t, "/warehouse/orders", "application/json", `{"sku":"abc"}`)
	if w.Code != 200 {
		t.Fatalf("status = %d, want 200 (%s)", w.Code, w.Body.String())
	}
	if last, _ := e.up.Last(); string(last.Body) != `{"sku":"abc"}` {
		t.Errorf("upstream body = %q, want the request's", last.Body)
	}
	w = e.post(t, "/warehouse/orders", "text/plain", `x`)
	if w.Code != 200 {
		t.Fatalf("unsupported type in report mode: status = %d, want 200", w.Code)
	}
	if got := counterValue(t, e.gw.metrics.validation.WithLabelValues("warehouse", "v1", "POST /orders", "report")); got != 2 {
		t.Errorf("validation failures = %v, want 2", got)
	}
	lines := e.logLines(t, "request")
	var found []any
	for _, l := range lines {
		if v, ok := l["validation"]; ok {
			found = append(found, v)
		}
	}
	want := []any{
		map[string]any{"mode": "report", "violations": 2.0, "unsupported_media_type": false, "first": ""},
		map[string]any{"mode": "report", "violations": 0.0, "unsupported_media_type": true, "first": ""},
	}
	if d := cmp.Diff(want, found); d != "" {
		t.Errorf("access log validation (-want +got):\n%s", d)
	}
}

func TestValidateOff(t *testing.T) {
	e := validationEnv(t, catalog.ValidationOff, func(a *catalog.API) {
		a.Validation = &catalog.Validation{Mode: catalog.ValidationEnforce}
	})
	if w := e.post(t, "/warehouse/orders", "text/plain", `{"sku":"abc","sku":1}`); w.Code != 200 {
		t.Errorf("status = %d, want 200: the operation turned validation off", w.Code)
	}
}

// TestValidateGuardsOnly: an API in enforce mode guards the JSON bodies
// of operations without a schema, and leaves other types alone.
func TestValidateGuardsOnly(t *testing.T) {
	e := newEnv(t, func(s *catalog.Snapshot) {
		s.APIs[0].Validation = &catalog.Validation{Mode: catalog.ValidationEnforce, MaxKeys: 2, MaxItems: 3, MaxStringLength: 8}
	})
	for _, tc := range []struct {
		name, ctype, body string
		status            int
	}{
		{"fine", "application/json", `{"a":[1,2,3],"b":"12345678"}`, 200},
		{"too many keys", "application/json", `{"a":1,"b":2,"c":3}`, 400},
		{"too many items", "application/json", `[1,2,3,4]`, 400},
		{"long string", "application/json", `"123456789"`, 400},
		{"long key", "application/json", `{"123456789":1}`, 400},
		{"escaped duplicate", "application/vnd.api+json", `{"a":1,"\u0061":2}`, 400},
		{"not json", "text/plain", `{{{`, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if w := e.post(t, "/warehouse/orders", tc.ctype, tc.body); w.Code != tc.status {
				t.Errorf("status = %d, want %d (%s)", w.Code, tc.status, w.Body.String())
			}
		})
	}
}

// TestValidateNothingPaysNothing: an operation without a contract gets
// no step at all.
func TestValidateNothingPaysNothing(t *testing.T) {
	api := &apiRoute{validation: &apiValidation{}}
	next := http.NotFoundHandler()
	h, err := newValidate(&stepConfig{api: api, op: &operation{pattern: &pattern{raw: "/x"}}}, next)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := h.(*validateStep); ok {
		t.Error("an operation without a contract got a validation step")
	}
}

func TestValidateOpenAPI(t *testing.T) {
	for _, doc := range []string{"validate_openapi30.yaml", "validate_openapi31.json"} {
		t.Run(doc, func(t *testing.T) {
			abs, err := filepath.Abs(filepath.Join("testdata", doc))
			if err != nil {
				t.Fatal(err)
			}
			e := newEnv(t, func(s *catalog.Snapshot) {
				a := &s.APIs[0]
				a.OpenAPI = abs
				a.Operations = nil
				a.CORS = nil
			})
			tok := e.token(t, "jwt", "")
			call := func(target, body string, hdr map[string]string) *httptest.ResponseRecorder {
				r := request("POST", target, tok)
				r.Body = io.NopCloser(strings.NewReader(body))
				r.ContentLength = int64(len(body))
				r.Header.Set("Content-Type", "application/json")
				for k, v := range hdr {
					r.Header.Set(k, v)
				}
				return e.serve(r)
			}
			tenant := map[string]string{"X-Tenant": "acme"}
			if w := call("/warehouse/items", `{"sku":"ABC-1234","qty":5,"note":null}`, tenant); w.Code != 200 {
				t.Errorf("valid: status = %d (%s)", w.Code, w.Body.String())
			}
			w := call("/warehouse/items", `{"sku":"ABC-1234","qty":1000,"note":null,"contact":"x"}`, tenant)
			if w.Code != 400 {
				t.Fatalf("invalid: status = %d (%s)", w.Code, w.Body.String())
			}
			golden(t, strings.TrimSuffix(doc, filepath.Ext(doc))+".golden", problemGolden(t, w))
			if strings.Contains(doc, "30") {
				if w := call("/warehouse/items", `{"sku":"ABC-1234","qty":5}`, nil); w.Code != 400 {
					t.Errorf("missing header: status = %d, want 400", w.Code)
				}
			}
		})
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
