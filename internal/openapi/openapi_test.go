package openapi

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// ignoreLocation leaves Operation.Location and Line out of comparisons
// of tests about other fields (TestParseExtensions checks them).
var ignoreLocation = cmpopts.IgnoreFields(Operation{}, "Location", "Line")

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// warehouseAPI is what examples/warehouse/openapi.yaml declares
// (DESIGN.md, "The warehouse example").
var warehouseAPI = &API{
	Title:    "Warehouse",
	Version:  "1.0.0",
	BasePath: "/warehouse",
	Operations: []Operation{
		{Method: "GET", Path: "/items", OperationID: "listItems", Scopes: []string{"list_items"}},
		{Method: "POST", Path: "/orders", OperationID: "placeOrder", Scopes: []string{"order_item"}},
		{Method: "GET", Path: "/health", OperationID: "health", Public: true},
	},
}

func TestParseDocuments(t *testing.T) {
	tests := []struct {
		file string
		want *API
	}{
		{"testdata/warehouse.yaml", warehouseAPI},
		{"../../examples/warehouse/openapi.yaml", warehouseAPI},
		{"testdata/petstore-3.0.json", &API{
			Title:     "Pet Store",
			Version:   "2.1",
			BasePath:  "/api/v2",
			ServerURL: "https://eu.pets.example/api/v2",
			Operations: []Operation{
				// The document's requirement.
				{Method: "GET", Path: "/pets", OperationID: "listPets", Scopes: []string{"pets:read"}},
				// The first requirement naming an oauth2 or openIdConnect
				// scheme, its schemes' scopes united.
				{Method: "POST", Path: "/pets", OperationID: "createPet", Scopes: []string{"pets:write", "pets:read", "audit"}},
				// An empty requirement among the alternatives.
				{Method: "GET", Path: "/pets/{petId}", OperationID: "showPet", Public: true},
				// Own requirement with no scoped scheme: a token, no scope.
				{Method: "DELETE", Path: "/pets/{petId}"},
				// A path item $ref'd from another path.
				{Method: "GET", Path: "/animals", OperationID: "listPets", Scopes: []string{"pets:read"}},
				{Method: "POST", Path: "/animals", OperationID: "createPet", Scopes: []string{"pets:write", "pets:read", "audit"}},
			},
		}},
		{"testdata/path-items-3.1.yaml", &API{
			Title:     "Shared path items",
			Version:   "1.0",
			ServerURL: "https://api.example.com",
			Operations: []Operation{
				{Method: "GET", Path: "/v1/items", OperationID: "listItems", Scopes: []string{"read"}},
				{Method: "HEAD", Path: "/v1/items", Public: true},
				{Method: "GET", Path: "/v2/items", OperationID: "listItems", Scopes: []string{"read"}},
				{Method: "HEAD", Path: "/v2/items", Public: true},
				{Method: "PATCH", Path: "/items/{id}/tags/{tag}", OperationID: "tagItem", Scopes: []string{"write", "read"}},
			},
		}},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			got, err := Parse(readFile(t, tc.file))
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			if diff := cmp.Diff(tc.want, got, ignoreLocation); diff != "" {
				t.Errorf("Parse() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// doc builds a small 3.1 document around a paths section and components.
func doc(paths, extra string) string {
	return "openapi: 3.1.0\ninfo: {title: T, version: v}\n" + extra +
		"components:\n  securitySchemes:\n" +
		"    oauth: {type: oauth2, flows: {}}\n" +
		"    oidc: {type: openIdConnect, openIdConnectUrl: https://id.example/.well-known/openid-configuration}\n" +
		"    key: {type: apiKey, name: k, in: header}\n" +
		"paths:\n" + paths
}

func TestParseSecurity(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Operation
	}{
		{
			name: "no security anywhere still needs a token",
			in:   doc("  /a:\n    get: {}\n", ""),
			want: []Operation{{Method: "GET", Path: "/a"}},
		},
		{
			name: "document requirement applies",
			in:   doc("  /a:\n    get: {}\n", "security: [{oauth: [read]}]\n"),
			want: []Operation{{Method: "GET", Path: "/a", Scopes: []string{"read"}}},
		},
		{
			name: "operation requirement overrides the document's",
			in:   doc("  /a:\n    get: {security: [{oidc: [write]}]}\n", "security: [{oauth: [read]}]\n"),
			want: []Operation{{Method: "GET", Path: "/a", Scopes: []string{"write"}}},
		},
		{
			name: "empty operation security is public",
			in:   doc("  /a:\n    get: {security: []}\n", "security: [{oauth: [read]}]\n"),
			want: []Operation{{Method: "GET", Path: "/a", Public: true}},
		},
		{
			name: "empty document security is public",
			in:   doc("  /a:\n    get: {}\n", "security: []\n"),
			want: []Operation{{Method: "GET", Path: "/a", Public: true}},
		},
		{
			name: "empty requirement among others is public",
			in:   doc("  /a:\n    get: {security: [{oauth: [read]}, {}]}\n", ""),
			want: []Operation{{Method: "GET", Path: "/a", Public: true}},
		},
		{
			name: "first scoped requirement wins",
			in:   doc("  /a:\n    get: {security: [{key: []}, {oauth: [a, b]}, {oauth: [c]}]}\n", ""),
			want: []Operation{{Method: "GET", Path: "/a", Scopes: []string{"a", "b"}}},
		},
		{
			name: "schemes of one requirement united without repeats",
			in:   doc("  /a:\n    get: {security: [{oauth: [a, b], oidc: [b, c], key: [role]}]}\n", ""),
			want: []Operation{{Method: "GET", Path: "/a", Scopes: []string{"a", "b", "c"}}},
		},
		{
			name: "scoped scheme without scopes",
			in:   doc("  /a:\n    get: {security: [{oauth: []}, {oidc: [x]}]}\n", ""),
			want: []Operation{{Method: "GET", Path: "/a", Scopes: nil}},
		},
		{
			name: "anchors and aliases",
			in:   doc("  /a:\n    get: {security: &s [{oauth: [read]}]}\n    put: {security: *s}\n", ""),
			want: []Operation{
				{Method: "GET", Path: "/a", Scopes: []string{"read"}},
				{Method: "PUT", Path: "/a", Scopes: []string{"read"}},
			},
		},
		{
			name: "every method in document order",
			in: doc("  /a:\n    trace: {}\n    patch: {}\n    head: {}\n    options: {}\n    delete: {}\n    post: {}\n    put: {}\n    get: {}\n"+
				"    parameters: []\n    summary: s\n    description: d\n    servers: []\n    x-ext: 1\n", ""),
			want: []Operation{
				{Method: "TRACE", Path: "/a"}, {Method: "PATCH", Path: "/a"}, {Method: "HEAD", Path: "/a"},
				{Method: "OPTIONS", Path: "/a"}, {Method: "DELETE", Path: "/a"}, {Method: "POST", Path: "/a"},
				{Method: "PUT", Path: "/a"}, {Method: "GET", Path: "/a"},
			},
		},
		{
			name: "templates kept as written",
			in:   doc("  /files/{name}.{ext}:\n    get: {}\n  /orgs/{org}/items/{id}:\n    get: {}\n", ""),
			want: []Operation{{Method: "GET", Path: "/files/{name}.{ext}"}, {Method: "GET", Path: "/orgs/{org}/items/{id}"}},
		},
		{
			name: "security scheme by reference",
			in: "openapi: 3.0.0\ncomponents:\n  securitySchemes:\n    a: {$ref: '#/components/securitySchemes/b'}\n    b: {type: oauth2}\n" +
				"paths:\n  /a:\n    get: {security: [{a: [x]}]}\n",
			want: []Operation{{Method: "GET", Path: "/a", Scopes: []string{"x"}}},
		},
		{
			name: "percent-encoded pointer",
			in:   doc("  /a b:\n    get: {operationId: x}\n  /c:\n    $ref: '#/paths/~1a%20b'\n", ""),
			want: []Operation{{Method: "GET", Path: "/a b", OperationID: "x"}, {Method: "GET", Path: "/c", OperationID: "x"}},
		},
		{
			name: "no paths",
			in:   "openapi: 3.1.0\nwebhooks: {}\n",
			want: nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse([]byte(tc.in))
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			if diff := cmp.Diff(tc.want, got.Operations, ignoreLocation); diff != "" {
				t.Errorf("Parse() operations mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseBasePath(t *testing.T) {
	tests := []struct {
		name    string
		servers string
		want    string
		// wantURL is ServerURL: the absolute http(s) server URL or "".
		wantURL string
	}{
		{"none", "", "", ""},
		{"empty list", "servers: []\n", "", ""},
		{"absolute", "servers: [{url: 'https://api.example.com/warehouse'}]\n", "/warehouse", "https://api.example.com/warehouse"},
		{"absolute trailing slash", "servers: [{url: 'https://api.example.com/warehouse/v1/'}]\n", "/warehouse/v1", "https://api.example.com/warehouse/v1"},
		{"absolute root", "servers: [{url: 'https://api.example.com/'}]\n", "", "https://api.example.com"},
		{"absolute no path", "servers: [{url: 'http://10.0.0.7:9000'}]\n", "", "http://10.0.0.7:9000"},
		{"absolute not http", "servers: [{url: 'ftp://h.example/a'}]\n", "/a", ""},
		{"relative", "servers: [{url: /warehouse}]\n", "/warehouse", ""},
		{"relative without slash", "servers: [{url: warehouse/}]\n", "/warehouse", ""},
		{"relative dot", "servers: [{url: ./v1}]\n", "/v1", ""},
		{"relative root", "servers: [{url: /}]\n", "", ""},
		{"network-path reference", "servers: [{url: '//api.example.com/w'}]\n", "/w", ""},
		{"first server only", "servers: [{url: 'https://a.example/a'}, {url: 'https://b.example/b'}]\n", "/a", "https://a.example/a"},
		{"query left out", "servers: [{url: 'https://h/a?x=1#f'}]\n", "/a", "https://h/a"},
		{"user information", "servers: [{url: 'https://u:p@h/a'}]\n", "/a", ""},
		{"variables", "servers:\n  - url: 'https://{host}/{base}'\n    variables:\n      host: {default: h.example}\n      base: {default: w, enum: [w, x]}\n", "/w", "https://h.example/w"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse([]byte("openapi: 3.0.1\n" + tc.servers))
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			if got.BasePath != tc.want {
				t.Errorf("BasePath = %q, want %q", got.BasePath, tc.want)
			}
			if got.ServerURL != tc.wantURL {
				t.Errorf("ServerURL = %q, want %q", got.ServerURL, tc.wantURL)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	file := func(name string) string { return string(readFile(t, filepath.Join("testdata", name))) }
	tests := []struct {
		name string
		in   string
		// path, line and class of the *Error; msg a part of its message.
		path string
		line int
		err  error
		msg  string
	}{
		{"swagger 2.0", file("swagger-2.0.yaml"), "", 0, ErrVersion, "swagger 2.0 documents are not supported"},
		{"external path item", file("external-ref.yaml"), "paths./items.$ref", 5, ErrExternalRef, `external reference "./paths/items.yaml"`},
		{"unknown scheme", file("unknown-scheme.yaml"), "paths./items.get.security[1]", 9, ErrInvalid, `unknown security scheme "x"`},
		{"bad template", file("bad-template.yaml"), "paths./items/{id", 6, ErrInvalid, `invalid path template: "{" without "}"`},
		{"openapi 3.2", "openapi: 3.2.0\n", "openapi", 1, ErrVersion, `version "3.2.0" is not supported, want 3.0.x or 3.1.x`},
		{"openapi 2", "openapi: 2.0.0\n", "openapi", 1, ErrVersion, "is not supported"},
		{"openapi as a number", "openapi: 3.1\n", "openapi", 1, ErrVersion, `version "3.1" is not supported`},
		{"no openapi field", "info: {title: x}\n", "", 0, ErrVersion, "no openapi field"},
		{"openapi not a string", "openapi: [3.1.0]\n", "openapi", 1, ErrInvalid, "must be a string, not a list"},
		{"empty", "", "", 0, ErrInvalid, "empty document"},
		{"comments only", "# nothing\n", "", 0, ErrInvalid, "empty document"},
		{"not an object", "- openapi\n", "", 1, ErrInvalid, "must be an object, not a list"},
		{"yaml syntax", "openapi: 3.1.0\npaths: {\n", "", 2, ErrInvalid, "yaml: did not find expected"},
		{"yaml syntax on a line", "openapi: 3.1.0\ninfo:\n  title: a\n  b: c: d\n", "", 4, ErrInvalid, "yaml: mapping values are not allowed in this context"},
		{"json syntax", "{\"openapi\": \"3.0.0\",\n\"paths\": {\"/a\" {}}}", "", 2, ErrInvalid, "json: invalid character '{' after object key"},
		{"two documents", "openapi: 3.1.0\n---\nopenapi: 3.1.0\n", "", 2, ErrInvalid, "more than one yaml document"},
		{"duplicate key", doc("  /a:\n    get: {}\n    get: {security: []}\n", ""), "paths./a.get", 11, ErrInvalid, "duplicate key"},
		{"duplicate json key", `{"openapi": "3.0.0", "paths": {"/a": {"get": {"security": []}, "get": {}}}}`, "paths./a.get", 1, ErrInvalid, "duplicate key"},
		{"merge key", doc("  /a:\n    get:\n      <<: {security: []}\n", ""), "paths./a.get", 11, ErrInvalid, "merge keys"},
		{"upper-case method", doc("  /a:\n    GET: {}\n", ""), "paths./a.GET", 10, ErrInvalid, "unknown path item field (operation names are lower case)"},
		{"unknown path item field", doc("  /a:\n    fetch: {}\n", ""), "paths./a.fetch", 10, ErrInvalid, "unknown path item field"},
		{"path without slash", doc("  items:\n    get: {}\n", ""), "paths.items", 9, ErrInvalid, `must start with "/"`},
		{"closing brace first", doc("  /a}/{b:\n    get: {}\n", ""), "paths./a}/{b", 9, ErrInvalid, `"}" without "{"`},
		{"nested braces", doc("  /a/{{b}}:\n    get: {}\n", ""), "paths./a/{{b}}", 9, ErrInvalid, `"{" without "}"`},
		{"empty name", doc("  /a/{}:\n    get: {}\n", ""), "paths./a/{}", 9, ErrInvalid, "empty parameter name"},
		{"rest wildcard", doc("  /files/{path...}:\n    get: {}\n", ""), "paths./files/{path...}", 9, ErrInvalid, "would match the rest of the path"},
		{"name twice", doc("  /a/{id}/b/{id}:\n    get: {}\n", ""), "paths./a/{id}/b/{id}", 9, ErrInvalid, "{id} appears twice"},
		{"same template renamed", doc("  /a/{id}:\n    get: {}\n  /a/{key}:\n    put: {}\n", ""), "paths./a/{key}", 11, ErrInvalid, `same template as "/a/{id}"`},
		{"ref to nothing", doc("  /a:\n    $ref: '#/components/pathItems/nope'\n", ""), "paths./a.$ref", 10, ErrInvalid, "names nothing in the document"},
		{"ref not a pointer", doc("  /a:\n    $ref: '#items'\n", ""), "paths./a.$ref", 10, ErrInvalid, "is not a JSON pointer"},
		{"ref cycle", doc("  /a:\n    $ref: '#/paths/~1b'\n  /b:\n    $ref: '#/paths/~1a'\n", ""), "paths./a", 10, ErrInvalid, "$ref chain too long or circular"},
		{"ref with operations beside it", doc("  /a:\n    get: {}\n  /b:\n    $ref: '#/paths/~1a'\n    post: {}\n", ""), "paths./b.post", 13, ErrInvalid, "cannot be combined with $ref"},
		{"ref to a scalar", doc("  /a:\n    $ref: '#/openapi'\n", ""), "openapi", 1, ErrInvalid, "must be an object, not a scalar"},
		{"external schema ref", doc("", "x: {schema: {$ref: 'https://example.com/s.json'}}\n"), "x.schema.$ref", 3, ErrExternalRef, "the importer never fetches"},
		{"empty ref is not internal", doc("  /a:\n    $ref: ''\n", ""), "paths./a.$ref", 10, ErrExternalRef, `external reference ""`},
		{"security not a list", doc("  /a:\n    get: {security: {oauth: []}}\n", ""), "paths./a.get.security", 10, ErrInvalid, "must be a list, not an object"},
		{"requirement not an object", doc("  /a:\n    get: {security: [oauth]}\n", ""), "paths./a.get.security[0]", 10, ErrInvalid, "must be an object, not a scalar"},
		{"scopes not a list", doc("  /a:\n    get: {security: [{oauth: read}]}\n", ""), "paths./a.get.security[0].oauth", 10, ErrInvalid, "must be a list"},
		{"scope with a space", doc("  /a:\n    get: {security: [{oauth: ['read write']}]}\n", ""), "paths./a.get.security[0].oauth[0]", 10, ErrInvalid, `"read write" is not an oauth scope`},
		{"empty scope", doc("  /a:\n    get: {security: [{oauth: ['']}]}\n", ""), "paths./a.get.security[0].oauth[0]", 10, ErrInvalid, "is not an oauth scope"},
		{"null scope", doc("  /a:\n    get: {security: [{oauth: [~]}]}\n", ""), "paths./a.get.security[0].oauth[0]", 10, ErrInvalid, "must be a string, not null"},
		{"unknown scheme in document security", doc("", "security: [{nope: []}]\n"), "security[0]", 3, ErrInvalid, `unknown security scheme "nope"`},
		{"scheme without type", "openapi: 3.0.0\ncomponents: {securitySchemes: {a: {flows: {}}}}\n", "components.securitySchemes.a", 2, ErrInvalid, "no type"},
		{"scheme of unknown type", "openapi: 3.0.0\ncomponents: {securitySchemes: {a: {type: saml}}}\n", "components.securitySchemes.a.type", 2, ErrInvalid, `unknown security scheme type "saml"`},
		{"server variable undefined", "openapi: 3.0.0\nservers: [{url: '/{base}'}]\n", "servers[0].url", 2, ErrInvalid, `variable "base" is not defined`},
		{"server variable without default", "openapi: 3.0.0\nservers: [{url: '/{base}', variables: {base: {enum: [a]}}}]\n", "servers[0].variables.base", 2, ErrInvalid, "no default"},
		{"server url braces", "openapi: 3.0.0\nservers: [{url: '/a}'}]\n", "servers[0].url", 2, ErrInvalid, "unbalanced"},
		{"server without url", "openapi: 3.0.0\nservers: [{description: x}]\n", "servers[0]", 2, ErrInvalid, "no url"},
		{"server url not a url", "openapi: 3.0.0\nservers: [{url: 'http://[::1'}]\n", "servers[0].url", 2, ErrInvalid, "is not a url"},
		{"long key cut short", doc("  /"+strings.Repeat("a", 200)+"{:\n    get: {}\n", ""), `paths."/` + strings.Repeat("a", 63) + `"...`, 9, ErrInvalid, "invalid path template"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api, err := Parse([]byte(tc.in))
			if api != nil {
				t.Errorf("Parse() = %+v, want nil on error", api)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse() error = %v, want an *Error", err)
			}
			if e.Path != tc.path || e.Line != tc.line || !errors.Is(err, tc.err) {
				t.Errorf("Parse() error at %q line %d class %v, want %q line %d class %v (%v)", e.Path, e.Line, e.Err, tc.path, tc.line, tc.err, err)
			}
			if !strings.Contains(e.Msg, tc.msg) {
				t.Errorf("Parse() error message %q, want it to contain %q", e.Msg, tc.msg)
			}
			if msg := err.Error(); strings.ContainsAny(msg, "\r\n") || !strings.HasPrefix(msg, "openapi: ") || len(msg) > 400 {
				t.Errorf("Error() = %q, want one short line starting with openapi:", msg)
			}
		})
	}
}

func TestParseTooLarge(t *testing.T) {
	data := []byte("openapi: 3.1.0\n# " + strings.Repeat("x", MaxDocumentSize) + "\n")
	_, err := Parse(data)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Parse() error = %v, want ErrTooLarge", err)
	}
	if got, want := err.Error(), fmt.Sprintf("openapi: %d bytes is over the limit of 10485760", len(data)); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestParseAliasBomb checks that a small document whose aliases name the
// same subtree over and over is refused, not expanded.
func TestParseAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("openapi: 3.1.0\ncomponents: {securitySchemes: {o: {type: oauth2}}}\n")
	b.WriteString("x-scopes: &s0 [")
	for i := range 2000 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("s")
	}
	b.WriteString("]\nx-ops: &op {get: {security: [{o: *s0}]}, put: {security: [{o: *s0}]}, post: {security: [{o: *s0}]}, patch: {security: [{o: *s0}]}}\npaths:\n")
	for i := range 4000 {
		b.WriteString("  /p")
		b.WriteString(strings.Repeat("a", i%50))
		b.WriteString("/")
		b.WriteString(string(rune('a' + i%26)))
		b.WriteString(strings.Repeat("b", i/26))
		b.WriteString(": *op\n")
	}
	if b.Len() > 2<<20 {
		t.Fatalf("bomb is %d bytes, meant to be small", b.Len())
	}
	_, err := Parse([]byte(b.String()))
	var e *Error
	if !errors.As(err, &e) || !strings.Contains(e.Msg, "too complex") {
		t.Fatalf("Parse() error = %v, want a document too complex", err)
	}
}

func TestParseJSONWithBOM(t *testing.T) {
	api, err := Parse([]byte("\xef\xbb\xbf{\"openapi\": \"3.0.0\", \"info\": {\"title\": \"\\ud83d\\udce6 crates\"}}"))
	if err != nil {
		t.Fatalf("Parse() error = %v", err)
	}
	if got, want := api.Title, "\U0001F4E6 crates"; got != want {
		t.Errorf("Title = %q, want %q", got, want)
	}
}

func TestParseJSONLinesAndOrder(t *testing.T) {
	in := "{\n\t\"openapi\": \"3.0.0\",\n\t\"paths\": {\n\t\t\"/b\": {\"get\": {}},\n\t\t\"/a\": {\n\t\t\t\"get\": {\"security\": [{\"nope\": []}]}\n\t\t}\n\t}\n}\n"
	_, err := Parse([]byte(in))
	var e *Error
	if !errors.As(err, &e) || e.Path != "paths./a.get.security[0]" || e.Line != 6 {
		t.Fatalf("Parse() error = %v, want one at paths./a.get.security[0] line 6", err)
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{Msg: "empty document"}, "openapi: empty document"},
		{&Error{Path: "paths./a", Msg: "m"}, "openapi: paths./a: m"},
		{&Error{Path: "paths./a.get.security[0]", Line: 12, Msg: `unknown security scheme "x"`}, `openapi: paths./a.get.security[0]: unknown security scheme "x" (line 12)`},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("Error() = %q, want %q", got, tc.want)
			}
		})
	}
}
