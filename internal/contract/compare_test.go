package contract

// This file measures github.com/pb33f/libopenapi-validator against this
// package (santhosh-tekuri/jsonschema/v6 behind the gateway's own
// parameter, content-type and guard checks) on the same requests: which
// each accepts, what each costs per request and to compile. It is a
// test-only dependency; docs/validation.md ("Why not
// libopenapi-validator") records the figures and the decision.
//
//	go test ./internal/contract -run Compare -v
//	go test ./internal/contract -run '^$' -bench Compare -benchmem

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
)

// warehouseDoc is the demo's document (internal/demo serves
// examples/warehouse); paramsDoc is this package's 3.0 warehouse, which
// has path, query and header parameters.
const (
	warehouseDoc = "../../examples/warehouse/openapi.yaml"
	paramsDoc    = "testdata/openapi30.yaml"
)

// compareCase is one request, or one answer to it when status is set.
type compareCase struct {
	name     string
	doc      string
	method   string
	target   string
	template string
	// path holds the values of template's wildcards.
	path   map[string]string
	header map[string]string
	ctype  string
	body   string
	// status, rtype and rbody are an answer to check instead.
	status       int
	rtype, rbody string
	// accept is what the contract means, and what this package must
	// say.
	accept bool
}

var tenant = map[string]string{"X-Tenant": "acme"}

func compareCorpus() []compareCase {
	const orders, items = "/orders", "/items"
	order := func(name, ctype, body string, accept bool) compareCase {
		return compareCase{name: name, doc: warehouseDoc, method: "POST", target: "/warehouse/orders", template: orders,
			ctype: ctype, body: body, accept: accept}
	}
	item := func(name, query string, header map[string]string, body string, accept bool) compareCase {
		return compareCase{name: name, doc: paramsDoc, method: "POST", target: "/items" + query, template: items,
			header: header, ctype: "application/json", body: body, accept: accept}
	}
	get := func(name, id, query string, accept bool) compareCase {
		return compareCase{name: name, doc: paramsDoc, method: "GET", target: "/items/" + id + query, template: "/items/{id}",
			path: map[string]string{"id": id}, accept: accept}
	}
	answer := func(name, method, target, template string, status int, rtype, rbody string, accept bool) compareCase {
		return compareCase{name: name, doc: warehouseDoc, method: method, target: target, template: template,
			status: status, rtype: rtype, rbody: rbody, accept: accept}
	}
	return []compareCase{
		order("order", "application/json", `{"item":"crate-01"}`, true),
		order("order, type case", "Application/JSON", `{"item":"crate-01"}`, true),
		order("order, missing member", "application/json", `{}`, false),
		order("order, wrong type", "application/json", `{"item":5}`, false),
		order("order, extra member", "application/json", `{"item":"crate-01","qty":1}`, false),
		order("order, not JSON", "application/json", `{"item":`, false),
		order("order, trailing data", "application/json", `{"item":"crate-01"} {}`, false),
		order("order, empty body", "application/json", ``, false),
		order("order, no content type", "", `{"item":"crate-01"}`, false),
		order("order, text/plain", "text/plain", `{"item":"crate-01"}`, false),
		order("order, duplicate member", "application/json", `{"item":5,"item":"crate-01"}`, false),
		order("order, invalid UTF-8", "application/json", "{\"item\":\"crate-\xff\"}", false),
		order("order, lone surrogate", "application/json", `{"item":"\ud800"}`, false),
		order("order, charset latin-1", "application/json; charset=iso-8859-1", `{"item":"crate-01"}`, false),
		order("order, 10000 levels deep", "application/json", strings.Repeat("[", 10000)+strings.Repeat("]", 10000), false),
		{name: "list items", doc: warehouseDoc, method: "GET", target: "/warehouse/items", template: items, accept: true},
		{name: "health", doc: warehouseDoc, method: "GET", target: "/warehouse/health", template: "/health", accept: true},

		item("item", "", tenant, `{"sku":"ABC-1234","qty":5,"note":null}`, true),
		item("item, dry run", "?dry_run=true", tenant, `{"sku":"ABC-1234","qty":5}`, true),
		item("item, dry run not boolean", "?dry_run=maybe", tenant, `{"sku":"ABC-1234","qty":5}`, false),
		item("item, dry run twice", "?dry_run=true&dry_run=false", tenant, `{"sku":"ABC-1234","qty":5}`, false),
		item("item, no tenant", "", nil, `{"sku":"ABC-1234","qty":5}`, false),
		item("item, tenant pattern", "", map[string]string{"X-Tenant": "ACME"}, `{"sku":"ABC-1234","qty":5}`, false),
		item("item, exclusive maximum of 3.0", "", tenant, `{"sku":"ABC-1234","qty":1000}`, false),
		item("item, nullable of 3.0", "", tenant, `{"sku":"ABC-1234","qty":5,"note":1}`, false),
		item("item, email format", "", tenant, `{"sku":"ABC-1234","qty":5,"contact":"not an email"}`, false),
		item("item, too many tags", "", tenant, `{"sku":"ABC-1234","qty":5,"tags":["a","b","c","d","e","f"]}`, false),
		get("get item", "7", "", true),
		get("get item, id 0", "0", "", false),
		get("get item, id not a number", "seven", "", false),
		get("get item, fields", "7", "?fields=name&fields=qty", true),
		get("get item, fields not in the enum", "7", "?fields=price", false),
		get("get item, fields comma-separated (explode)", "7", "?fields=name,qty", false),

		answer("answer items", "GET", "/warehouse/items", items, 200, "application/json", `{"items":[{"sku":"crate-01","name":"Crate","stock":3}]}`, true),
		answer("answer items, negative stock", "GET", "/warehouse/items", items, 200, "application/json", `{"items":[{"sku":"crate-01","name":"Crate","stock":-3}]}`, false),
		answer("answer items, missing name", "GET", "/warehouse/items", items, 200, "application/json", `{"items":[{"sku":"crate-01","stock":3}]}`, false),
		answer("answer items, HTML", "GET", "/warehouse/items", items, 200, "text/html", `<p>items</p>`, false),
		answer("answer items, not JSON", "GET", "/warehouse/items", items, 200, "application/json", `{"items":[`, false),
		answer("answer items, duplicate member", "GET", "/warehouse/items", items, 200, "application/json", `{"items":{},"items":[]}`, false),
		answer("answer 401 problem", "GET", "/warehouse/items", items, 401, "application/problem+json", `{"type":"x","status":401}`, true),
		answer("answer 401 problem, status a string", "GET", "/warehouse/items", items, 401, "application/problem+json", `{"status":"401"}`, false),
		answer("answer order, created not a date-time", "POST", "/warehouse/orders", orders, 201, "application/json", `{"id":1,"created":"yesterday"}`, false),
		answer("answer order", "POST", "/warehouse/orders", orders, 201, "application/json", `{"id":1,"item":"crate-01","created":"2026-12-05T08:00:00Z"}`, true),
		answer("answer 400 without content", "POST", "/warehouse/orders", orders, 400, "text/plain", `bad order`, true),
		answer("answer 418, a status not described", "GET", "/warehouse/items", items, 418, "text/plain", `teapot`, true),
	}
}

// ourCheck runs a request through what the gateway's validate step
// does with a document's contract (validate.go), or an answer through
// what its validate_response step does, and says whether it passes.
func ourCheck(d *Document, c *compareCase, r *http.Request) bool {
	op := d.Operation(c.method, c.template)
	if op == nil {
		return false
	}
	if c.status != 0 {
		m := op.Responses.For(c.status).Media(c.rtype)
		return m.Declared && (!m.JSON || m.Check([]byte(c.rbody)) == nil)
	}
	var query url.Values
	for _, p := range op.Parameters {
		if p.In == "query" && query == nil {
			var err error
			if query, err = url.ParseQuery(r.URL.RawQuery); err != nil {
				return false
			}
		}
	}
	for i := range op.Parameters {
		p := &op.Parameters[i]
		var values []string
		switch p.In {
		case "path":
			values = []string{c.path[p.Name]}
		case "header":
			values = r.Header.Values(p.Name)
		case "query":
			values = query[p.Name]
		}
		if p.Check(values) != nil {
			return false
		}
	}
	if r.ContentLength == 0 {
		return !op.BodyRequired
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return false
	}
	entry, isJSON, ok := op.Match(r.Header.Get("Content-Type"))
	if len(op.Content) > 0 && !ok {
		return false
	}
	if !isJSON {
		return true
	}
	if (Guards{}).WithDefaults().Scan(body) != nil {
		return false
	}
	if entry == nil || entry.Schema == nil {
		return true
	}
	v, err := Decode(body)
	return err == nil && entry.Schema.Validate("body", "", v) == nil
}

// newLibopenapi builds libopenapi-validator the way a gateway would use
// it: security is the gateway's own business, formats are asserted as
// this package asserts them.
func newLibopenapi(tb testing.TB, data []byte) validator.Validator {
	tb.Helper()
	doc, err := libopenapi.NewDocument(data)
	if err != nil {
		tb.Fatal(err)
	}
	v, errs := validator.NewValidator(doc, config.WithoutSecurityValidation(), config.WithFormatAssertions())
	if errs != nil {
		tb.Fatal(errs)
	}
	return v
}

func libopenapiCheck(v validator.Validator, c *compareCase, r *http.Request) bool {
	if c.status == 0 {
		ok, _ := v.ValidateHttpRequestSync(r)
		return ok
	}
	res := &http.Response{StatusCode: c.status, Header: http.Header{}, Request: r,
		Body: io.NopCloser(strings.NewReader(c.rbody)), ContentLength: int64(len(c.rbody))}
	if c.rtype != "" {
		res.Header.Set("Content-Type", c.rtype)
	}
	ok, _ := v.ValidateHttpResponse(r, res)
	return ok
}

func (c *compareCase) request() *http.Request {
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	r := httptest.NewRequest(c.method, "http://gw.example"+c.target, body)
	if c.ctype != "" {
		r.Header.Set("Content-Type", c.ctype)
	}
	for k, v := range c.header {
		r.Header.Set(k, v)
	}
	return r
}

type compared struct {
	ours map[string]*Document
	lib  map[string]validator.Validator
}

func loadCompared(tb testing.TB) *compared {
	tb.Helper()
	c := &compared{ours: map[string]*Document{}, lib: map[string]validator.Validator{}}
	for _, name := range []string{warehouseDoc, paramsDoc} {
		data, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		if c.ours[name], err = CompileDocument(data); err != nil {
			tb.Fatal(err)
		}
		c.lib[name] = newLibopenapi(tb, data)
	}
	return c
}

// knownDisagreements are the cases where libopenapi-validator v0.16.3
// says otherwise than this package: its verdict, and why. A change here
// (a new version of it, a change of ours) is worth a look, and a line in
// docs/validation.md.
var knownDisagreements = map[string]struct{ theirs, why string }{
	"order, duplicate member":                    {"accept", "decodes with encoding/json: the last member wins, an upstream may read the first"},
	"answer items, duplicate member":             {"accept", "the same, on an answer"},
	"order, invalid UTF-8":                       {"accept", "encoding/json replaces invalid bytes with U+FFFD"},
	"order, lone surrogate":                      {"accept", "encoding/json replaces a lone surrogate with U+FFFD"},
	"order, charset latin-1":                     {"accept", "ignores the charset (RFC 8259 §8.1: JSON between systems is UTF-8)"},
	"item, dry run twice":                        {"accept", "reads one of a repeated scalar query parameter; the upstream may read the other"},
	"get item, fields comma-separated (explode)": {"accept", "splits a form-exploded (explode: true) array on commas too"},
	"answer 418, a status not described":         {"refuse", "refuses a status the document does not describe; the gateway leaves it unchecked (a default response checks every status)"},
}

func TestCompareLibopenapiValidator(t *testing.T) {
	c := loadCompared(t)
	disagree := map[string]string{}
	var table strings.Builder
	fmt.Fprintf(&table, "\n%-48s %-8s %-8s %s\n", "case", "ours", "libopenapi", "")
	verdict := map[bool]string{true: "accept", false: "refuse"}
	for _, tc := range compareCorpus() {
		ours := ourCheck(c.ours[tc.doc], &tc, tc.request())
		theirs := libopenapiCheck(c.lib[tc.doc], &tc, tc.request())
		if ours != tc.accept {
			t.Errorf("%s: ours %s, want %s", tc.name, verdict[ours], verdict[tc.accept])
		}
		mark := ""
		if ours != theirs {
			mark = "<- differs"
			disagree[tc.name] = verdict[theirs]
		}
		fmt.Fprintf(&table, "%-48s %-8s %-10s %s\n", tc.name, verdict[ours], verdict[theirs], mark)
	}
	t.Log(table.String())
	want := map[string]string{}
	for name, k := range knownDisagreements {
		want[name] = k.theirs
	}
	if d := cmp.Diff(want, disagree); d != "" {
		t.Errorf("disagreements with libopenapi-validator (-known +now):\n%s", d)
	}
}

// benchOrderDoc is an OpenAPI 3.1 document whose POST /orders takes the
// 2 KB body of the other benchmarks of this package.
func benchOrderDoc(tb testing.TB) []byte {
	tb.Helper()
	doc := map[string]any{
		"openapi": "3.1.0",
		"info":    map[string]any{"title": "bench", "version": "1"},
		"paths": map[string]any{"/orders": map[string]any{"post": map[string]any{
			"requestBody": map[string]any{"required": true, "content": map[string]any{
				"application/json": map[string]any{"schema": benchSchemaValue()}}},
			"responses": map[string]any{"201": map[string]any{"description": "placed"}},
		}}},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// BenchmarkCompareRequest checks one request per op with each: a 2 KB
// order, the demo's order and item list, and a hostile 20 KB body. Ours is the gateway's
// check after its router has matched the operation; libopenapi's
// includes its own routing (a radix tree, well under a microsecond).
func BenchmarkCompareRequest(b *testing.B) {
	c := loadCompared(b)
	big := benchOrderDoc(b)
	bigDoc, err := CompileDocument(big)
	if err != nil {
		b.Fatal(err)
	}
	body := string(benchBody(b))
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	cases := []struct {
		name string
		tc   compareCase
		ours *Document
		lib  validator.Validator
	}{
		{"2KB order", compareCase{method: "POST", target: "/orders", template: "/orders", ctype: "application/json", body: body, accept: true},
			bigDoc, newLibopenapi(b, big)},
		{"demo order", compareCase{method: "POST", target: "/warehouse/orders", template: "/orders", ctype: "application/json", body: `{"item":"crate-01"}`, accept: true},
			c.ours[warehouseDoc], c.lib[warehouseDoc]},
		{"demo list", compareCase{method: "GET", target: "/warehouse/items", template: "/items", accept: true},
			c.ours[warehouseDoc], c.lib[warehouseDoc]},
		{"demo order 10000 deep", compareCase{method: "POST", target: "/warehouse/orders", template: "/orders", ctype: "application/json", body: deep},
			c.ours[warehouseDoc], c.lib[warehouseDoc]},
	}
	for _, bc := range cases {
		run := func(b *testing.B, check func(r *http.Request) bool) {
			r := bc.tc.request()
			b.ReportAllocs()
			for b.Loop() {
				if bc.tc.body != "" {
					r.Body = io.NopCloser(strings.NewReader(bc.tc.body))
				}
				if check(r) != bc.tc.accept {
					b.Fatal("wrong verdict")
				}
			}
		}
		b.Run(bc.name+"/ours", func(b *testing.B) {
			run(b, func(r *http.Request) bool { return ourCheck(bc.ours, &bc.tc, r) })
		})
		b.Run(bc.name+"/libopenapi", func(b *testing.B) {
			run(b, func(r *http.Request) bool { return libopenapiCheck(bc.lib, &bc.tc, r) })
		})
	}
}

// BenchmarkCompareCompile is the cost of reading and compiling the
// demo's document: what a route table build pays per API.
func BenchmarkCompareCompile(b *testing.B) {
	data, err := os.ReadFile(warehouseDoc)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("ours", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := CompileDocument(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("libopenapi", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v := newLibopenapi(b, data)
			v.Release()
		}
	})
}
