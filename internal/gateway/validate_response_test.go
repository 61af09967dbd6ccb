package gateway

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/catalog"
)

// upstreamMarker is in every answer the tests' upstream sends: a refused
// answer must not carry it to the client, in its body or its head.
const upstreamMarker = "UPSTREAM-ONLY-7f3a"

// answer is what the tests' upstream sends.
type answer struct {
	status int
	ctype  string
	body   string
	// coding is the Content-Encoding; gzip compresses the body, any
	// other is only named.
	coding string
	// hint sends a 103 Early Hints first.
	hint bool
}

// answersEnv is the warehouse API imported from
// testdata/validate_response.yaml, its validation set by v, its
// upstream answering whatever *a says at the time of the call.
func answersEnv(t *testing.T, v *catalog.Validation, a *answer) *env {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join("testdata", "validate_response.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(s *catalog.Snapshot) {
		api := &s.APIs[0]
		api.OpenAPI = abs
		api.Operations = nil
		api.CORS = nil
		api.Validation = v
	})
	e.up.SetHandler(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if a.hint {
			h.Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			h.Del("Link")
		}
		h.Set("X-Upstream", upstreamMarker)
		h.Set("Etag", `"`+upstreamMarker+`"`)
		if a.ctype != "" {
			h.Set("Content-Type", a.ctype)
		}
		if a.coding != "" && a.coding != "gzip" {
			h.Set("Content-Encoding", a.coding)
		}
		if a.coding == "gzip" {
			h.Set("Content-Encoding", "gzip")
			w.WriteHeader(a.status)
			zw := gzip.NewWriter(w)
			_, _ = zw.Write([]byte(a.body))
			_ = zw.Close()
			return
		}
		h.Set("Content-Length", strconv.Itoa(len(a.body)))
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	})
	return e
}

const (
	goodItems = `{"items":[{"sku":"ABC-1234","qty":3,"note":"` + upstreamMarker + `"}]}`
	badItems  = `{"items":[{"sku":"abc","qty":-1,"note":"` + upstreamMarker + `"},{"qty":"2"}],"extra":"` + upstreamMarker + `"}`
)

func (e *env) getItems(t testing.TB, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := request("GET", "/warehouse/items", e.token(t, "jwt", ""))
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	return e.serve(r)
}

func TestValidateResponseEnforce(t *testing.T) {
	a := &answer{}
	e := answersEnv(t, &catalog.Validation{Response: catalog.ValidationEnforce, ResponseMaxBodyBytes: 4096}, a)
	for _, tc := range []struct {
		name   string
		answer answer
		// status is what the client gets; passed says it gets the
		// upstream's answer byte for byte.
		status int
		passed bool
	}{
		{"conforming", answer{200, "application/json", goodItems, "", false}, 200, true},
		{"conforming, charset", answer{200, "application/json; charset=utf-8", goodItems, "", false}, 200, true},
		{"schema", answer{200, "application/json", badItems, "", false}, 502, false},
		{"not JSON", answer{200, "application/json", `{"items":[` + upstreamMarker, "", false}, 502, false},
		{"duplicate member", answer{200, "application/json", `{"items":[],"items":[]}`, "", false}, 502, false},
		{"undeclared type", answer{200, "text/html", "<p>" + upstreamMarker + "</p>", "", false}, 502, false},
		{"no type", answer{200, "", goodItems, "", false}, 502, false},
		{"undeclared type without a body", answer{200, "text/html", "", "", false}, 200, true},
		{"class, conforming", answer{404, "application/problem+json", `{"status":404,"detail":"` + upstreamMarker + `"}`, "", false}, 404, true},
		{"class, schema", answer{409, "application/problem+json", `{"status":"409","detail":"` + upstreamMarker + `"}`, "", false}, 502, false},
		{"class, application/json is not declared", answer{404, "application/json", `{"status":404}`, "", false}, 502, false},
		{"status not described", answer{302, "text/html", upstreamMarker, "", false}, 302, true},
		{"no content", answer{204, "application/json", "", "", false}, 204, true},
		{"too large", answer{200, "application/json", `{"items":[],"pad":"` + strings.Repeat("x", 5000) + `"}`, "", false}, 502, false},
		{"gzip, decoded by the transport", answer{200, "application/json", goodItems, "gzip", false}, 200, true},
		{"a coding the gateway did not ask for", answer{200, "application/json", goodItems, "br", false}, 502, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			*a = tc.answer
			w := e.getItems(t)
			if w.Code != tc.status {
				t.Fatalf("status = %d, want %d (body %q)", w.Code, tc.status, w.Body.String())
			}
			if tc.passed {
				if got := w.Body.String(); got != tc.answer.body {
					t.Errorf("body = %q, want the upstream's %q", got, tc.answer.body)
				}
				if w.Header().Get("X-Upstream") != upstreamMarker {
					t.Error("the upstream's header did not pass")
				}
				return
			}
			p := readProblem(t, w)
			if p.Type != "urn:portcullis:problem:bad-gateway" {
				t.Errorf("problem type = %q", p.Type)
			}
			var head bytes.Buffer
			_ = w.Header().Write(&head)
			if strings.Contains(w.Body.String(), upstreamMarker) || strings.Contains(head.String(), upstreamMarker) {
				t.Errorf("the refusal carries upstream bytes:\n%s\n%s", head.String(), w.Body.String())
			}
		})
	}
	failures := func(reason string) float64 {
		return counterValue(t, e.gw.metrics.responseValidation.WithLabelValues("warehouse", "v1", "GET /items", "enforce", reason))
	}
	if c, l, g := failures("contract"), failures("too_large"), failures("encoded"); c != 7 || l != 1 || g != 1 {
		t.Errorf("failures: contract %v, too_large %v, encoded %v; want 7, 1, 1", c, l, g)
	}
}

// TestValidateResponseGzip: the client's Accept-Encoding is not passed
// on, so the transport asks for gzip itself, decodes, and the check reads
// the JSON.
func TestValidateResponseGzip(t *testing.T) {
	a := &answer{200, "application/json", goodItems, "", false}
	e := answersEnv(t, &catalog.Validation{Response: catalog.ValidationEnforce}, a)
	e.up.SetHandler(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			_, _ = io.WriteString(w, goodItems)
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		_, _ = zw.Write([]byte(badItems))
		_ = zw.Close()
	})
	w := e.getItems(t, "Accept-Encoding", "gzip, br")
	if w.Code != 502 {
		t.Fatalf("status = %d, want 502: the gzipped answer breaks the schema (body %q)", w.Code, w.Body.String())
	}
}

func TestValidateResponseReport(t *testing.T) {
	a := &answer{200, "application/json", badItems, "", false}
	// The default: report, since the document has response schemas.
	e := answersEnv(t, nil, a)
	w := e.getItems(t)
	if w.Code != 200 || w.Body.String() != badItems {
		t.Fatalf("status = %d, body %q; want 200 and the upstream's body", w.Code, w.Body.String())
	}
	if w.Header().Get("Etag") != `"`+upstreamMarker+`"` {
		t.Error("the upstream's head did not pass")
	}
	*a = answer{200, "application/json", `{"items":[],"pad":"` + strings.Repeat("x", 2<<20) + `"}`, "", false}
	if w := e.getItems(t); w.Code != 200 || w.Body.Len() != len(a.body) {
		t.Fatalf("too large: status %d, %d bytes; want 200 and the %d bytes passed unchecked", w.Code, w.Body.Len(), len(a.body))
	}
	*a = answer{200, "application/json", goodItems, "", false}
	if w := e.getItems(t); w.Code != 200 || w.Body.String() != goodItems {
		t.Fatalf("conforming: status %d, body %q", w.Code, w.Body.String())
	}
	failures := func(reason string) float64 {
		return counterValue(t, e.gw.metrics.responseValidation.WithLabelValues("warehouse", "v1", "GET /items", "report", reason))
	}
	if c, l := failures("contract"), failures("too_large"); c != 1 || l != 1 {
		t.Errorf("failures: contract %v, too_large %v; want 1, 1", c, l)
	}
	var found []any
	for _, l := range e.logLines(t, "request") {
		if v, ok := l["response_validation"]; ok {
			found = append(found, v)
			if l["decision"] != "allow" || l["reason"] != "" {
				t.Errorf("report mode: decision %v, reason %v; want allow and none", l["decision"], l["reason"])
			}
		}
	}
	if len(found) != 2 {
		t.Fatalf("access log lines with response_validation: %d, want 2", len(found))
	}
	b, err := json.MarshalIndent(found, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "validate_response_log.golden", append(b, '\n'))
	if bytes.Contains(b, []byte(upstreamMarker)) {
		t.Error("the access log quotes the answer's values")
	}
}

// TestValidateResponseEnforceLogs: the refusal's access log line says
// why, with the violations; the client's problem has none of them.
func TestValidateResponseEnforceLogs(t *testing.T) {
	a := &answer{200, "application/json", badItems, "", false}
	e := answersEnv(t, &catalog.Validation{Response: catalog.ValidationEnforce}, a)
	w := e.getItems(t)
	if w.Code != 502 || strings.Contains(w.Body.String(), "/items") {
		t.Fatalf("status = %d, body %q; want 502 without the violations", w.Code, w.Body.String())
	}
	lines := e.logLines(t, "request")
	l := lines[len(lines)-1]
	if l["decision"] != "bad_gateway" || l["reason"] != "response breaks the contract" || l["status"] != 502.0 {
		t.Errorf("access log: decision %v, reason %v, status %v", l["decision"], l["reason"], l["status"])
	}
	rv, _ := l["response_validation"].(map[string]any)
	if vs, _ := rv["violations"].([]any); rv["mode"] != "enforce" || rv["status"] != 200.0 || len(vs) != 5 {
		t.Errorf("response_validation = %v", rv)
	}
}

// TestValidateResponseBehindAServer: under a real server, refusing an
// answer aborts the proxy's copy; the client still gets the 502, and a
// conforming answer streams whole.
func TestValidateResponseBehindAServer(t *testing.T) {
	a := &answer{200, "application/json", goodItems, "", false}
	e := answersEnv(t, &catalog.Validation{Response: catalog.ValidationEnforce, ResponseMaxBodyBytes: 1024}, a)
	srv := httptest.NewServer(e.gw)
	t.Cleanup(srv.Close)
	var hints []string
	get := func() (*http.Response, string) {
		t.Helper()
		hints = nil
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			hints = append(hints, strconv.Itoa(code)+" "+h.Get("Link"))
			return nil
		}}
		r, err := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), "GET", srv.URL+"/warehouse/items", nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Authorization", "Bearer "+e.token(t, "jwt", ""))
		res, err := srv.Client().Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatalf("reading the answer: %v", err)
		}
		return res, string(b)
	}
	for _, tc := range []struct {
		name   string
		answer answer
		status int
	}{
		{"conforming", answer{200, "application/json", goodItems, "", false}, 200},
		{"conforming after early hints", answer{200, "application/json", goodItems, "", true}, 200},
		{"schema", answer{200, "application/json", badItems, "", false}, 502},
		{"undeclared type, body streamed", answer{200, "text/html", strings.Repeat("<p>"+upstreamMarker+"</p>", 5000), "", false}, 502},
		{"too large, body streamed", answer{200, "application/json", `{"items":[],"pad":"` + strings.Repeat("x", 100000) + `"}`, "", false}, 502},
	} {
		t.Run(tc.name, func(t *testing.T) {
			*a = tc.answer
			res, body := get()
			if res.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d", res.StatusCode, tc.status)
			}
			if tc.status == 200 && body != tc.answer.body {
				t.Errorf("body = %q, want the upstream's", body)
			}
			if tc.answer.hint && (len(hints) != 1 || hints[0] != "103 </style.css>; rel=preload" || res.Header.Get("Link") != "") {
				t.Errorf("early hints %q, final Link %q; want the 103 forwarded with its own head only", hints, res.Header.Get("Link"))
			}
			if tc.status == 502 && (strings.Contains(body, upstreamMarker) || res.Header.Get("Content-Type") != "application/problem+json") {
				t.Errorf("refusal: %s %q", res.Header.Get("Content-Type"), body)
			}
		})
	}
}

// TestValidateResponseNothingPaysNothing: an operation whose answers
// have no schema, or whose response validation is off, gets no step.
func TestValidateResponseNothingPaysNothing(t *testing.T) {
	withSchema := &catalog.Operation{Method: "GET", Path: "/x", Validation: &catalog.OperationValidation{
		ResponseSchemas: map[string]map[string]any{"200": {"type": "object"}}}}
	for _, tc := range []struct {
		name string
		api  *catalog.Validation
		op   *catalog.Operation
		want bool
	}{
		{"no schemas", nil, &catalog.Operation{Method: "GET", Path: "/x"}, false},
		{"no schemas, enforce", &catalog.Validation{Response: catalog.ValidationEnforce}, &catalog.Operation{Method: "GET", Path: "/x"}, false},
		{"schemas", nil, withSchema, true},
		{"schemas, API response off", &catalog.Validation{Response: catalog.ValidationOff}, withSchema, false},
		{"schemas, API validation off", &catalog.Validation{Mode: catalog.ValidationOff}, withSchema, false},
		{"imported, no document", nil, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := &apiRoute{validation: &apiValidation{cfg: tc.api}}
			next := http.NotFoundHandler()
			h, err := newValidateResponse(&stepConfig{api: api, op: &operation{method: "GET", pattern: &pattern{raw: "/x"}}, opCfg: tc.op}, next)
			if err != nil {
				t.Fatal(err)
			}
			if _, got := h.(*responseStep); got != tc.want {
				t.Errorf("step built: %v, want %v", got, tc.want)
			}
		})
	}
}

// TestValidateResponseOperationSchemas: a declared operation's own
// response_schemas, and its mode over the API's.
func TestValidateResponseOperationSchemas(t *testing.T) {
	e := newEnv(t, func(s *catalog.Snapshot) {
		a := &s.APIs[0]
		a.Validation = &catalog.Validation{Response: catalog.ValidationReport}
		for j := range a.Operations {
			if a.Operations[j].Path == "/items/{id}" {
				a.Operations[j].Validation = &catalog.OperationValidation{
					Response: catalog.ValidationEnforce,
					ResponseSchemas: map[string]map[string]any{
						"2XX": {"type": "object", "required": []any{"id"}},
					},
				}
			}
		}
	})
	tok := e.token(t, "jwt", "list_items")
	// The recording upstream answers {"ok":true}: no id.
	if w := e.serve(request("GET", "/warehouse/items/7", tok)); w.Code != 502 {
		t.Errorf("status = %d, want 502", w.Code)
	}
	e.up.SetHandler(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.item+json")
		_, _ = io.WriteString(w, `{"id":7}`)
	})
	if w := e.serve(request("GET", "/warehouse/items/7", tok)); w.Code != 200 || w.Body.String() != `{"id":7}` {
		t.Errorf("status = %d, body %q; want 200 and the answer", w.Code, w.Body.String())
	}
	// GET /items has no schema: never held.
	if w := e.serve(request("GET", "/warehouse/items", tok)); w.Code != 200 {
		t.Errorf("GET /items: status = %d", w.Code)
	}
}

// TestValidateResponseHead: a HEAD answer has no body to check.
func TestValidateResponseHead(t *testing.T) {
	a := &answer{200, "text/html", "", "", false}
	e := answersEnv(t, &catalog.Validation{Response: catalog.ValidationEnforce}, a)
	r := request("HEAD", "/warehouse/items", e.token(t, "jwt", ""))
	if w := e.serve(r); w.Code != 200 && w.Code != 405 {
		t.Errorf("HEAD: status = %d", w.Code)
	}
}

func TestResponseOutcomeAttr(t *testing.T) {
	var o responseOutcome
	if a := o.attr(); !a.Equal(a) || a.Key != "" {
		t.Errorf("nothing broke: attr %v, want empty", a)
	}
	if d := cmp.Diff([3]string{"contract", "too_large", "encoded"}, answerReasonNames); d != "" {
		t.Error(d)
	}
}

// benchAnswer is a 2 KB order of the warehouse, as the request
// benchmark of internal/contract has it, and its schema.
func benchAnswer(tb testing.TB) ([]byte, map[string]any) {
	tb.Helper()
	var b strings.Builder
	b.WriteString(`{"sku":"ABC-1234","qty":5,"note":"leave at the back door, ring twice","contact":"ops@example.com","tags":[`)
	for i := range 60 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"tag-` + strconv.Itoa(i) + `-warehouse"`)
	}
	b.WriteString(`],"lines":[`)
	for i := range 18 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"sku":"LIN-` + strconv.Itoa(1000+i) + `","qty":` + strconv.Itoa(i+1) + `,"price":12.5}`)
	}
	b.WriteString(`]}`)
	if b.Len() < 1800 || b.Len() > 2300 {
		tb.Fatalf("answer of %d bytes, want about 2 KB", b.Len())
	}
	schema := map[string]any{
		"type": "object", "required": []any{"sku", "qty"}, "additionalProperties": false,
		"properties": map[string]any{
			"sku":     map[string]any{"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"},
			"qty":     map[string]any{"type": "integer", "minimum": 1},
			"note":    map[string]any{"type": "string", "maxLength": 200},
			"contact": map[string]any{"type": "string", "format": "email"},
			"tags":    map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
			"lines": map[string]any{"type": "array", "items": map[string]any{
				"type": "object", "required": []any{"sku", "qty"},
				"properties": map[string]any{
					"sku": map[string]any{"type": "string"}, "qty": map[string]any{"type": "integer"},
					"price": map[string]any{"type": "number", "minimum": 0},
				}}},
		},
	}
	return []byte(b.String()), schema
}

// BenchmarkValidateResponse is the step's cost on a 2 KB JSON answer:
// "proxy" writes the answer as the reverse proxy does, with no step;
// "enforce" holds it, checks it and lets it out.
func BenchmarkValidateResponse(b *testing.B) {
	body, schema := benchAnswer(b)
	answers, err := (&catalog.OperationValidation{ResponseSchemas: map[string]map[string]any{"200": schema}}).ResponseContract()
	if err != nil {
		b.Fatal(err)
	}
	head := http.Header{"Content-Type": {"application/json"}, "Content-Length": {strconv.Itoa(len(body))}}
	proxy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for k, v := range head {
			h[k] = append(h[k], v...)
		}
		w.WriteHeader(200)
		_, _ = w.Write(body)
		_ = http.NewResponseController(w).Flush()
	})
	step := &responseStep{answers: answers, mode: catalog.ValidationEnforce, limit: catalog.DefaultResponseMaxBodyBytes, next: proxy}
	r := httptest.NewRequest("GET", "/warehouse/orders/1", nil)
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"proxy", proxy}, {"enforce", step}} {
		b.Run(bc.name, func(b *testing.B) {
			dw := &discardWriter{h: http.Header{}}
			ex := &exchange{rw: dw, id: "req-1", idHeader: []string{"req-1"}}
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				clear(dw.h)
				ex.status = 0
				bc.h.ServeHTTP(ex, r)
				if dw.code != 200 || ex.response.mode != "" {
					b.Fatalf("status %d, %+v", dw.code, ex.response)
				}
			}
		})
	}
}

// TestValidateResponseStepAllocs: what the step itself costs an answer
// it lets through unread (a status its contract does not describe) is
// no allocation: the held writer and its head are pooled.
func TestValidateResponseStepAllocs(t *testing.T) {
	answers, err := (&catalog.OperationValidation{ResponseSchemas: map[string]map[string]any{"200": {"type": "object"}}}).ResponseContract()
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("moved")
	proxy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Location"] = []string{"/elsewhere"}
		w.WriteHeader(http.StatusFound)
		_, _ = w.Write(body)
	})
	step := &responseStep{answers: answers, mode: catalog.ValidationEnforce, limit: catalog.DefaultResponseMaxBodyBytes, next: proxy}
	r := httptest.NewRequest("GET", "/x", nil)
	dw := &discardWriter{h: http.Header{}}
	ex := &exchange{rw: dw}
	serve := func(h http.Handler) func() {
		return func() {
			clear(dw.h)
			ex.status = 0
			h.ServeHTTP(ex, r)
		}
	}
	serve(step)()
	if dw.code != http.StatusFound {
		t.Fatalf("status %d", dw.code)
	}
	base := testing.AllocsPerRun(100, serve(proxy))
	if n := testing.AllocsPerRun(100, serve(step)); n > base {
		t.Errorf("the step allocates %v times per answer (the proxy alone %v), want no more", n, base)
	}
}
