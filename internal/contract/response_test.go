package contract

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// answersDoc describes the answers of one operation in every way the
// matching distinguishes: exact codes, a class, default, a +json type, a
// range, a $ref to a shared response, a non-JSON type.
const answersDoc = `openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /items/{id}:
    get:
      responses:
        200:
          description: the item
          content:
            application/json; charset=utf-8:
              schema: {$ref: '#/components/schemas/Item'}
            text/csv: {}
        204: {description: nothing}
        2XX:
          description: other successes
          content:
            application/json:
              schema: {type: object, required: [accepted]}
        404: {$ref: '#/components/responses/Problem'}
        default:
          description: anything else
          content:
            application/*: {}
        x-note: not a status
  /raw:
    get:
      responses:
        200:
          description: any type
          content:
            '*/*': {}
components:
  responses:
    Problem:
      description: a problem
      content:
        application/problem+json:
          schema:
            type: object
            required: [status]
            properties: {status: {type: integer}}
  schemas:
    Item:
      type: object
      required: [sku]
      properties:
        sku: {type: string}
        qty: {type: integer, minimum: 0}
        note: {type: string, nullable: true}
`

func answers(t testing.TB) (*Responses, *Responses) {
	t.Helper()
	d, err := CompileDocument([]byte(answersDoc))
	if err != nil {
		t.Fatal(err)
	}
	op, raw := d.Operation("GET", "/items/{id}"), d.Operation("GET", "/raw")
	if op == nil || raw == nil {
		t.Fatal("operations missing")
	}
	if op.ResponsesErr != nil || raw.ResponsesErr != nil {
		t.Fatal(op.ResponsesErr, raw.ResponsesErr)
	}
	return op.Responses, raw.Responses
}

func TestResponsesMatch(t *testing.T) {
	rs, raw := answers(t)
	if !rs.HasSchema() || raw.HasSchema() {
		t.Errorf("HasSchema = %v, %v; want true, false", rs.HasSchema(), raw.HasSchema())
	}
	for _, tc := range []struct {
		name        string
		rs          *Responses
		status      int
		ctype, body string
		// declared, json: what Media says; loc: the first violation
		// ("-" for none).
		declared, json bool
		loc            string
	}{
		{name: "exact", status: 200, ctype: "application/json", body: `{"sku":"a","note":null}`, declared: true, json: true, loc: "-"},
		{name: "exact, parameters and case ignored", status: 200, ctype: "Application/JSON; charset=UTF-8", body: `{"sku":"a"}`, declared: true, json: true, loc: "-"},
		{name: "exact, schema broken", status: 200, ctype: "application/json", body: `{"qty":-1}`, declared: true, json: true, loc: ""},
		{name: "exact, nullable of 3.0", status: 200, ctype: "application/json", body: `{"sku":"a","note":1}`, declared: true, json: true, loc: "/note"},
		{name: "exact, invalid JSON", status: 200, ctype: "application/json", body: `{"sku":`, declared: true, json: true, loc: "/sku"},
		{name: "exact, duplicate member", status: 200, ctype: "application/json", body: `{"sku":"a","sku":"b"}`, declared: true, json: true, loc: "/sku"},
		{name: "exact, trailing data", status: 200, ctype: "application/json", body: `{"sku":"a"} {}`, declared: true, json: true, loc: ""},
		{name: "exact, non-JSON type", status: 200, ctype: "text/csv", body: "a,b", declared: true},
		{name: "exact, undeclared type", status: 200, ctype: "text/html", declared: false},
		{name: "exact, +json not declared", status: 200, ctype: "application/problem+json", declared: false},
		{name: "exact, no content type", status: 200, ctype: "", declared: false},
		{name: "exact without content", status: 204, ctype: "text/html", declared: true},
		{name: "class", status: 202, ctype: "application/json", body: `{}`, declared: true, json: true, loc: ""},
		{name: "class, conforming", status: 201, ctype: "application/json", body: `{"accepted":true}`, declared: true, json: true, loc: "-"},
		{name: "ref to a +json answer", status: 404, ctype: "application/problem+json", body: `{"status":"404"}`, declared: true, json: true, loc: "/status"},
		{name: "ref, conforming", status: 404, ctype: "application/problem+json", body: `{"status":404}`, declared: true, json: true, loc: "-"},
		{name: "default, range: a JSON type must be JSON", status: 409, ctype: "application/json", body: `nope`, declared: true, json: true, loc: ""},
		{name: "default, range, other type", status: 409, ctype: "application/xml", body: `<a/>`, declared: true},
		{name: "default, outside the range", status: 500, ctype: "text/plain", declared: false},
		{name: "any type", rs: raw, status: 200, ctype: "", declared: true},
		{name: "any type, JSON", rs: raw, status: 200, ctype: "application/json", body: `{`, declared: true, json: true, loc: ""},
		{name: "status not described", rs: raw, status: 404, ctype: "text/html", declared: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := tc.rs
			if set == nil {
				set = rs
			}
			m := set.For(tc.status).Media(tc.ctype)
			if m.Declared != tc.declared || m.JSON != tc.json {
				t.Fatalf("Media = declared %v, JSON %v; want %v, %v", m.Declared, m.JSON, tc.declared, tc.json)
			}
			if !m.JSON {
				return
			}
			vs := m.Check([]byte(tc.body))
			switch {
			case tc.loc == "-" && vs != nil:
				t.Errorf("Check = %+v, want none", vs)
			case tc.loc != "-" && vs == nil:
				t.Errorf("Check = none, want a violation at %q", tc.loc)
			case tc.loc != "-" && vs[0].InstanceLocation != tc.loc:
				t.Errorf("first violation at %q (%s), want %q", vs[0].InstanceLocation, vs[0].Message, tc.loc)
			}
		})
	}
}

func TestResponsesFor(t *testing.T) {
	var none *Responses
	if none.For(200) != nil || none.HasSchema() {
		t.Error("a nil Responses describes something")
	}
	if m := (*Response)(nil).Media("text/html"); !m.Declared || m.JSON {
		t.Errorf("nil Response: Media = %+v, want declared, unchecked", m)
	}
	rs, _ := answers(t)
	for status, want := range map[int]*Response{
		200: rs.codes[200], 204: rs.codes[204], 201: rs.classes[2], 299: rs.classes[2],
		404: rs.codes[404], 400: rs.other, 503: rs.other, 600: rs.other, 99: rs.other,
	} {
		if got := rs.For(status); got != want {
			t.Errorf("For(%d) is not the right answer", status)
		}
	}
}

func TestStatusKey(t *testing.T) {
	for _, tc := range []struct {
		key         string
		code, class int
		ok          bool
	}{
		{"200", 200, 0, true}, {"599", 599, 0, true}, {"101", 101, 0, true},
		{"2XX", 0, 2, true}, {"4xx", 0, 4, true}, {"default", 0, 0, true},
		{"600", 0, 0, false}, {"099", 0, 0, false}, {"20X", 0, 0, false}, {"2X0", 0, 0, false},
		{"1e2", 0, 0, false}, {"+20", 0, 0, false}, {"20", 0, 0, false}, {"Default", 0, 0, false}, {"", 0, 0, false},
	} {
		code, class, ok := statusKey(tc.key)
		if code != tc.code || class != tc.class || ok != tc.ok {
			t.Errorf("statusKey(%q) = %d, %d, %v; want %d, %d, %v", tc.key, code, class, ok, tc.code, tc.class, tc.ok)
		}
	}
}

// TestResponsesErrorKeepsTheDocument: an answer whose schema does not
// compile is the operation's ResponsesErr; the document and the other
// operations' contracts still load.
func TestResponsesErrorKeepsTheDocument(t *testing.T) {
	doc := `openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /a:
    get:
      responses:
        "200":
          description: x
          content:
            application/json:
              schema: {type: string, pattern: "("}
  /b:
    post:
      requestBody:
        content:
          application/json:
            schema: {type: object, required: [x]}
      responses:
        "20X": {description: x}
`
	d, err := CompileDocument([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Operation("GET", "/a").ResponsesErr; err == nil || !strings.Contains(err.Error(), "responses.200 application/json") {
		t.Errorf("GET /a: ResponsesErr = %v, want the schema's compile error", err)
	}
	b := d.Operation("POST", "/b")
	if err := b.ResponsesErr; err == nil || !strings.Contains(err.Error(), `"20X" is not a status code`) {
		t.Errorf("POST /b: ResponsesErr = %v, want the bad key", err)
	}
	if vs := b.Content[0].Schema.Validate("body", "", map[string]any{}); len(vs) != 1 {
		t.Errorf("POST /b request schema: %+v, want one violation", vs)
	}
}

// TestResponsesOfTheTestdata: the documents of testdata describe their
// answers without schemas (description only), which check nothing.
func TestResponsesOfTheTestdata(t *testing.T) {
	for _, name := range []string{"testdata/openapi30.yaml", "testdata/openapi31.json"} {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		d, err := CompileDocument(data)
		if err != nil {
			t.Fatal(err)
		}
		for key, op := range d.ops {
			if op.ResponsesErr != nil || op.Responses.HasSchema() {
				t.Errorf("%s %s: ResponsesErr %v, HasSchema %v", name, key, op.ResponsesErr, op.Responses.HasSchema())
			}
		}
	}
}

func TestCompileResponseSchemas(t *testing.T) {
	rs, err := CompileResponseSchemas(map[string]map[string]any{
		"200":     {"type": "object", "required": []any{"id"}},
		"4XX":     {"type": "object", "required": []any{"type"}},
		"default": {"type": "object"},
	})
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		Declared, JSON bool
		Violations     int
	}
	check := func(status int, ctype, body string) got {
		m := rs.For(status).Media(ctype)
		g := got{Declared: m.Declared, JSON: m.JSON}
		if m.JSON {
			g.Violations = len(m.Check([]byte(body)))
		}
		return g
	}
	for _, tc := range []struct {
		status      int
		ctype, body string
		want        got
	}{
		{200, "application/json", `{"id":1}`, got{true, true, 0}},
		{200, "application/vnd.item+json", `{}`, got{true, true, 1}},
		{404, "application/problem+json", `{"type":"x"}`, got{true, true, 0}},
		{404, "application/problem+json", `[]`, got{true, true, 1}},
		{500, "application/json", `{}`, got{true, true, 0}},
		{200, "text/plain", `{"id":1}`, got{false, false, 0}},
		{200, "", `{"id":1}`, got{false, false, 0}},
	} {
		if g := check(tc.status, tc.ctype, tc.body); g != tc.want {
			t.Errorf("%d %q %s: %+v, want %+v", tc.status, tc.ctype, tc.body, g, tc.want)
		}
	}
	if rs, err := CompileResponseSchemas(nil); rs != nil || err != nil {
		t.Errorf("no schemas = %v, %v; want nil, nil", rs, err)
	}
	for key, s := range map[string]map[string]any{
		"2xx0": {"type": "object"},
		"200":  {"type": "object", "pattern": 5},
	} {
		if _, err := CompileResponseSchemas(map[string]map[string]any{key: s}); err == nil {
			t.Errorf("%s: compiled, want an error", key)
		}
	}
}

func TestResponseCheckQuotesOnlyExcerpts(t *testing.T) {
	rs, err := CompileResponseSchemas(map[string]map[string]any{"200": {
		"type": "object", "additionalProperties": false,
		"properties": map[string]any{"a": map[string]any{"type": "string", "maxLength": 1}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	secret := strings.Repeat("s", 100)
	vs := rs.For(200).Media("application/json").Check([]byte(`{"a":"` + secret + `","` + secret + `":1}`))
	want := []Violation{
		{In: "body", InstanceLocation: "/a", Message: "must be at most 1 characters long"},
		{In: "body", InstanceLocation: "/" + strings.Repeat("s", 40) + "...", Message: "property not allowed"},
	}
	if d := cmp.Diff(want, vs); d != "" {
		t.Errorf("violations (-want +got):\n%s", d)
	}
}

// FuzzResponseCheck: whatever status, content type and body an upstream
// sends, matching and checking never panic, and what they say stays
// short.
func FuzzResponseCheck(f *testing.F) {
	rs, _ := answers(f)
	f.Add(200, "application/json; charset=utf-8", []byte(`{"sku":"a","qty":1}`))
	f.Add(404, "application/problem+json", []byte(`{"status":"x"}`))
	f.Add(299, "Application/JSON", []byte(`[[[[`))
	f.Add(418, "application/*", []byte("\xff"))
	f.Add(0, "", []byte(nil))
	f.Add(200, "*/*;;", []byte(`{"a":1,"a":2}`))
	f.Add(299, "application/json", []byte(strings.Repeat("[", 1001)+strings.Repeat("]", 1001)))
	f.Fuzz(func(t *testing.T, status int, ctype string, body []byte) {
		m := rs.For(status).Media(ctype)
		var vs []Violation
		switch {
		case !m.Declared:
			vs = []Violation{Undeclared(ctype)}
		case m.JSON:
			vs = m.Check(body)
		}
		if len(vs) > MaxViolations {
			t.Errorf("%d violations", len(vs))
		}
		for _, v := range vs {
			// An excerpt is at most 40 bytes of input, each escaped in
			// at most 6.
			if len(v.Message) > 6*maxExcerpt+100 || len(v.InstanceLocation) > maxLocation+3 {
				t.Errorf("violation of %d+%d bytes", len(v.Message), len(v.InstanceLocation))
			}
		}
	})
}
