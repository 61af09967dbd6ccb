package openapi

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// extensionsDoc has extensions on operations and on a path item, one
// overridden, and others the package ignores. Line numbers matter.
const extensionsDoc = `openapi: 3.1.0
info: {title: T, version: v}
x-other: kept out
paths:
  /items:
    x-portcullis-policy: request.ip != "10.0.0.1"
    x-portcullis-waf: {off: true}
    get:
      x-portcullis-response:
        fields:
          - select: $.items[*].cost
            action: remove
            when: '!("buyer" in claims.roles)'
      x-portcullis-limits: &lim [{name: reads, rate: 5/s, key: [client_id]}]
      x-portcullis-policy: "true"
      x-internal: ignored
    post:
      x-portcullis-limits: *lim
  /health:
    get: {security: []}
`

// ext is what the tests compare of an Extension: its place and value.
type ext struct {
	Name     string
	Path     string
	Line     int
	PathItem bool
	Value    any
}

func extsOf(t *testing.T, es []Extension) []ext {
	t.Helper()
	var out []ext
	for _, e := range es {
		var v any
		if err := e.Value.Decode(&v); err != nil {
			t.Fatalf("%s: Decode: %v", e.Path, err)
		}
		out = append(out, ext{e.Name, e.Path, e.Line, e.PathItem, v})
	}
	return out
}

func TestParseExtensions(t *testing.T) {
	api, err := Parse([]byte(extensionsDoc))
	if err != nil {
		t.Fatalf("Parse() error = %v", err)
	}
	limits := []any{map[string]any{"name": "reads", "rate": "5/s", "key": []any{"client_id"}}}
	want := [][]ext{
		{
			{"x-portcullis-response", "paths./items.get.x-portcullis-response", 9, false, map[string]any{"fields": []any{
				map[string]any{"select": "$.items[*].cost", "action": "remove", "when": `!("buyer" in claims.roles)`}}}},
			{"x-portcullis-limits", "paths./items.get.x-portcullis-limits", 14, false, limits},
			{"x-portcullis-policy", "paths./items.get.x-portcullis-policy", 15, false, "true"},
			{"x-portcullis-waf", "paths./items.x-portcullis-waf", 7, true, map[string]any{"off": true}},
		},
		{
			{"x-portcullis-limits", "paths./items.post.x-portcullis-limits", 18, false, limits},
			{"x-portcullis-policy", "paths./items.x-portcullis-policy", 6, true, `request.ip != "10.0.0.1"`},
			{"x-portcullis-waf", "paths./items.x-portcullis-waf", 7, true, map[string]any{"off": true}},
		},
		nil,
	}
	wantLoc := []string{"paths./items.get", "paths./items.post", "paths./health.get"}
	wantLine := []int{8, 17, 20}
	if len(api.Operations) != len(want) {
		t.Fatalf("got %d operations, want %d", len(api.Operations), len(want))
	}
	for i, op := range api.Operations {
		if op.Location != wantLoc[i] || op.Line != wantLine[i] {
			t.Errorf("operations[%d] at %q line %d, want %q line %d", i, op.Location, op.Line, wantLoc[i], wantLine[i])
		}
		if diff := cmp.Diff(want[i], extsOf(t, op.Extensions)); diff != "" {
			t.Errorf("%s extensions mismatch (-want +got):\n%s", op.Location, diff)
		}
	}

	resp := &api.Operations[0].Extensions[0]
	for _, tc := range []struct {
		rest string
		want int
	}{
		{"", 9},
		{".fields", 10},
		{".fields[0]", 11},
		{".fields[0].when", 13},
		{".fields[0].nope", 11},
		{".fields[7].when", 10},
		{".nope.deeper", 9},
	} {
		if got := resp.LineAt(tc.rest); got != tc.want {
			t.Errorf("LineAt(%q) = %d, want %d", tc.rest, got, tc.want)
		}
	}
	// An alias is followed to its anchor's lines.
	post := &api.Operations[1].Extensions[0]
	if got := post.LineAt("[0].rate"); got != 14 {
		t.Errorf("aliased LineAt([0].rate) = %d, want 14", got)
	}
}

func TestParseExtensionsJSON(t *testing.T) {
	in := "{\n\"openapi\": \"3.0.3\",\n\"paths\": {\"/a\": {\n  \"get\": {\n    \"x-portcullis-limits\": [\n      {\"name\": \"n\", \"burst\": 3}\n    ]\n  }\n}}}\n"
	api, err := Parse([]byte(in))
	if err != nil {
		t.Fatalf("Parse() error = %v", err)
	}
	e := &api.Operations[0].Extensions[0]
	if e.Line != 5 || e.LineAt("[0].burst") != 6 {
		t.Errorf("line %d, [0].burst at %d; want 5 and 6", e.Line, e.LineAt("[0].burst"))
	}
	var v []struct {
		Name  string `yaml:"name"`
		Burst int    `yaml:"burst"`
	}
	if err := e.Value.Decode(&v); err != nil || len(v) != 1 || v[0].Burst != 3 {
		t.Errorf("Decode = %+v, %v; want burst 3", v, err)
	}
}

func TestParseExtensionErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		path string
		line int
		err  error
		msg  string
	}{
		{"internal ref", doc("  /a:\n    get:\n      x-portcullis-limits: [{$ref: '#/components/x'}]\n", ""),
			"paths./a.get.x-portcullis-limits[0].$ref", 11, ErrInvalid, "$ref is not followed inside x-portcullis extensions"},
		{"external ref", doc("  /a:\n    x-portcullis-response: {$ref: 'rules.yaml'}\n    get: {}\n", ""),
			"paths./a.x-portcullis-response.$ref", 10, ErrExternalRef, `external reference "rules.yaml"`},
		{"ref through an alias", doc("  /a:\n    get:\n      x-portcullis-waf: *w\n", "x-defs: {w: &w {$ref: '#/x'}}\n"),
			"paths./a.get.x-portcullis-waf.$ref", 3, ErrInvalid, "$ref is not followed"},
		{"merge key", doc("  /a:\n    get:\n      x-portcullis-waf: {<<: {off: true}}\n", ""),
			"paths./a.get.x-portcullis-waf", 11, ErrInvalid, "merge keys"},
		{"document level", doc("  /a:\n    get: {}\n", "x-portcullis-limits: []\n"),
			"x-portcullis-limits", 3, ErrInvalid, "path items and operations only"},
		{"paths level", doc("  x-portcullis-waf: {off: true}\n  /a:\n    get: {}\n", ""),
			"paths.x-portcullis-waf", 9, ErrInvalid, "path items and operations only"},
		{"beside a path item ref", doc("  /a:\n    get: {}\n  /b:\n    $ref: '#/paths/~1a'\n    x-portcullis-policy: 'true'\n", ""),
			"paths./b.x-portcullis-policy", 13, ErrInvalid, "cannot be combined with $ref"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse() error = %v, want an *Error", err)
			}
			if e.Path != tc.path || e.Line != tc.line || !errors.Is(err, tc.err) || !strings.Contains(e.Msg, tc.msg) {
				t.Errorf("Parse() error = %v at %q line %d, want %q line %d class %v saying %q", err, e.Path, e.Line, tc.path, tc.line, tc.err, tc.msg)
			}
		})
	}
}

// TestParseExtensionAliasBomb: aliases inside extensions count against
// the same budget as the rest of the document.
func TestParseExtensionAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("openapi: 3.1.0\nx-a: &a [" + strings.Repeat("x, ", 1000) + "x]\n")
	b.WriteString("x-b: &b [" + strings.Repeat("*a, ", 1000) + "*a]\n")
	b.WriteString("x-c: &c [" + strings.Repeat("*b, ", 10) + "*b]\npaths:\n  /a:\n    get:\n      x-portcullis-waf: *c\n")
	_, err := Parse([]byte(b.String()))
	var e *Error
	if !errors.As(err, &e) || !strings.Contains(e.Msg, "too complex") {
		t.Fatalf("Parse() error = %v, want a document too complex", err)
	}
}
