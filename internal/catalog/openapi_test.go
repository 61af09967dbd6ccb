package catalog

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/openapi"
)

func TestImportOpenAPI(t *testing.T) {
	doc := []byte(`openapi: 3.1.0
info: {title: Shop, version: "1"}
security: [{auth: []}]
paths:
  /items:
    get:
      operationId: listItems
      security: [{auth: [read]}]
      responses: {"200": {description: ok}}
  /health:
    get:
      security: []
      responses: {"200": {description: ok}}
components:
  securitySchemes:
    auth: {type: oauth2, flows: {clientCredentials: {tokenUrl: https://as.example/token, scopes: {read: read}}}}
`)
	im, err := ImportOpenAPI(doc)
	if err != nil {
		t.Fatal(err)
	}
	got := im.Operations
	want := []Operation{
		{Method: "GET", Path: "/items", Scopes: []string{"read"}},
		{Method: "GET", Path: "/health", Public: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ImportOpenAPI() mismatch (-want +got):\n%s", diff)
	}
	if im.Doc.Title != "Shop" || len(im.Doc.Operations) != len(got) {
		t.Errorf("Doc = %+v, want the document as read", im.Doc)
	}
	var oe *openapi.Error
	if _, err := ImportOpenAPI([]byte("swagger: '2.0'")); !errors.As(err, &oe) {
		t.Errorf("ImportOpenAPI(swagger) = %v, want an *openapi.Error", err)
	}
}

// extDoc is a document whose operations carry x-portcullis extensions
// at the paths given (YAML under "paths:"). Lines: paths start on 4.
func extDoc(paths string) []byte {
	return []byte("openapi: 3.1.0\ninfo: {title: Shop, version: '1'}\npaths:\n" + paths +
		"components:\n  securitySchemes:\n    auth: {type: oauth2, flows: {}}\n")
}

// TestOperationExtensionsFromTags: every field of Operation with a YAML
// name has its extension, derived from the tag, so a field added later
// is importable without a list to update; what OpenAPI says itself is
// not an extension.
func TestOperationExtensionsFromTags(t *testing.T) {
	typ := reflect.TypeFor[Operation]()
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		ext := "x-portcullis-" + strings.ReplaceAll(name, "_", "-")
		got, ok := OpenAPIExtensionField(ext)
		said := saidByOpenAPI[name] != ""
		if ok == said || ok && got != name {
			t.Errorf("OpenAPIExtensionField(%q) = %q, %v; want %q, %v", ext, got, ok, name, !said)
		}
	}
	for _, name := range []string{"method", "path", "scopes", "public"} {
		if saidByOpenAPI[name] == "" {
			t.Errorf("%s is said by the document, yet not refused as an extension", name)
		}
	}
	if _, ok := OpenAPIExtensionField("x-portcullis-foo"); ok {
		t.Error("OpenAPIExtensionField(x-portcullis-foo) is known")
	}
}

func TestImportOpenAPIExtensions(t *testing.T) {
	im, err := ImportOpenAPI(extDoc(`  /items:
    x-portcullis-policy: 'request.method == "GET"'
    x-portcullis-waf: {exclude_rules: [942100]}
    get:
      security: [{auth: [read]}]
      x-portcullis-response:
        fields: [{select: '$.items[*].cost', action: remove, unless: '"buyer" in claims.roles'}]
      x-portcullis-limits: [{name: item-reads, rate: 5/s, burst: 10, key: [client_id]}]
      x-portcullis-validation: {mode: report, response: enforce}
      x-portcullis-rewrite: {path: /v2/items, request_headers: {set: {X-Api: shop}}}
    post:
      x-portcullis-policy: 'true'
  /socket:
    get: {x-portcullis-upgrade: websocket}
`))
	if err != nil {
		t.Fatalf("ImportOpenAPI() error = %v", err)
	}
	want := []Operation{
		{
			Method: "GET", Path: "/items", Scopes: []string{"read"},
			Policy:     `request.method == "GET"`,
			Limits:     []Limit{{Name: "item-reads", Rate: "5/s", Burst: 10, Key: []string{"client_id"}}},
			Validation: &OperationValidation{Mode: ValidationReport, Response: ValidationEnforce},
			WAF:        &OperationWAF{ExcludeRules: []int{942100}},
			Rewrite:    &Rewrite{Path: "/v2/items", RequestHeaders: HeaderEdits{Set: map[string]string{"X-Api": "shop"}}},
			Response:   &ResponseRules{Fields: []FieldRule{{Select: "$.items[*].cost", Action: "remove", Unless: `"buyer" in claims.roles`}}},
		},
		{Method: "POST", Path: "/items", Policy: "true", WAF: &OperationWAF{ExcludeRules: []int{942100}}},
		{Method: "GET", Path: "/socket", Upgrade: UpgradeWebSocket},
	}
	if diff := cmp.Diff(want, im.Operations); diff != "" {
		t.Errorf("operations mismatch (-want +got):\n%s", diff)
	}
	im.ApplyDefaults()
	if got := im.Operations[0].Limits[0].OnBackendError; got != OnErrorLocal {
		t.Errorf("after ApplyDefaults on_backend_error = %q, want %q", got, OnErrorLocal)
	}
}

func TestImportOpenAPIExtensionErrors(t *testing.T) {
	tests := []struct {
		name  string
		paths string
		path  string
		line  int
		msg   string
	}{
		{"scopes", "  /a:\n    get: {x-portcullis-scopes: [read]}\n",
			"paths./a.get.x-portcullis-scopes", 5, "scopes come from the operation's security requirement"},
		{"public", "  /a:\n    get:\n      x-portcullis-public: true\n",
			"paths./a.get.x-portcullis-public", 6, "security requirement is empty"},
		{"method on the path item", "  /a:\n    x-portcullis-method: GET\n    get: {}\n",
			"paths./a.x-portcullis-method", 5, "the method is the operation's key"},
		{"path", "  /a:\n    get: {x-portcullis-path: /b}\n",
			"paths./a.get.x-portcullis-path", 5, "not an extension"},
		{"request schema", "  /a:\n    post:\n      x-portcullis-validation:\n        mode: enforce\n        request_schema: {type: object}\n",
			"paths./a.post.x-portcullis-validation.request_schema", 8, "comes from the operation's requestBody"},
		{"unknown extension", "  /a:\n    get:\n      x-portcullis-foo: 1\n",
			"paths./a.get.x-portcullis-foo", 6, "unknown extension: the x-portcullis extensions of an operation are"},
		{"unknown field", "  /a:\n    get:\n      x-portcullis-response:\n        fields:\n          - select: $.a\n            actoin: remove\n",
			"paths./a.get.x-portcullis-response.fields[0].actoin", 9, "unknown field"},
		{"wrong type", "  /a:\n    get:\n      x-portcullis-limits:\n        - name: a\n          burst: lots\n",
			"paths./a.get.x-portcullis-limits", 8, "cannot unmarshal"},
		{"limits on a path item", "  /a:\n    x-portcullis-limits: [{name: a, rate: 1/s, key: [api]}]\n    get: {}\n",
			"paths./a.x-portcullis-limits", 5, "set them on each operation"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ImportOpenAPI(extDoc(tc.paths))
			var e *openapi.Error
			if !errors.As(err, &e) {
				t.Fatalf("ImportOpenAPI() error = %v, want an *openapi.Error", err)
			}
			if e.Path != tc.path || e.Line != tc.line || !strings.Contains(e.Msg, tc.msg) || !errors.Is(err, openapi.ErrInvalid) {
				t.Errorf("error = %v (at %q line %d), want %q line %d saying %q", err, e.Path, e.Line, tc.path, tc.line, tc.msg)
			}
		})
	}
}

// TestOpenAPIImportCheck: imported operations go through the catalog's
// checks of operations, named by where the document says them.
func TestOpenAPIImportCheck(t *testing.T) {
	tests := []struct {
		name  string
		paths string
		// want are the errors' strings, in order.
		want []string
	}{
		{"valid", "  /items:\n    get: {x-portcullis-limits: [{name: reads, rate: 5/s, key: [client_id]}]}\n", nil},
		{"cel error in a field rule", "  /items:\n    get:\n      x-portcullis-response:\n        fields:\n          - select: $.a\n            action: remove\n            when: 'claims.roles ==='\n",
			[]string{`openapi: paths./items.get.x-portcullis-response.fields[0].when: expression line 1, column `}},
		{"bad policy", "  /items:\n    get:\n      x-portcullis-policy: 'request.nope'\n",
			[]string{`openapi: paths./items.get.x-portcullis-policy: expression line 1, column `}},
		{"waf the api has not", "  /items:\n    get:\n      x-portcullis-waf: {off: true}\n",
			[]string{`openapi: paths./items.get.x-portcullis-waf: tunes a WAF the API does not have: add waf to the API, or remove this (line 6)`}},
		{"bad limit", "  /items:\n    get:\n      x-portcullis-limits:\n        - name: reads\n          rate: fast\n          key: [client_id]\n",
			[]string{`openapi: paths./items.get.x-portcullis-limits[0].rate: `}},
		{"limit clashes with a declared one", "  /items:\n    get: {x-portcullis-limits: [{name: per-user, rate: 5/s, key: [sub]}]}\n",
			[]string{`openapi: paths./items.get.x-portcullis-limits[0].name: "per-user" is also the name of apis[0].limits[0]: limit names are unique across the catalog (line 5)`}},
		{"limit clashes with an imported one", "  /a:\n    get: {x-portcullis-limits: [{name: x, rate: 5/s, key: [sub]}]}\n  /b:\n    get:\n      x-portcullis-limits:\n        - {name: x, rate: 5/s, key: [sub]}\n",
			[]string{`openapi: paths./b.get.x-portcullis-limits[0].name: "x" is also the name of openapi shop.yaml paths./a.get.x-portcullis-limits[0]: limit names are unique across the catalog (line 9)`}},
		{"path the gateway cannot route", "  /files/{name}.{ext}:\n    get: {}\n",
			[]string{`openapi: paths./files/{name}.{ext}.get: path: "/files/{name}.{ext}": a wildcard is a whole segment, {name} or {name...} (line 5)`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := validSnapshot()
			a := &s.APIs[0]
			a.OpenAPI = "shop.yaml"
			im, err := ImportOpenAPI(extDoc(tc.paths))
			if err != nil {
				t.Fatalf("ImportOpenAPI() error = %v", err)
			}
			im.ApplyDefaults()
			names := s.LimitNames()
			err = im.Check(&s, a, "shop.yaml", names)
			var got []string
			if err != nil {
				for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
					if !errors.As(e, new(*openapi.Error)) {
						t.Errorf("%v is not an *openapi.Error", e)
					}
					got = append(got, e.Error())
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("Check() = %q, want %d errors starting %q", got, len(tc.want), tc.want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tc.want[i]) {
					t.Errorf("error %d = %q, want it to start %q", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// TestOpenAPIImportCheckNames: the limits Check accepts are taken, for
// the next document, under the name their document gives them.
func TestOpenAPIImportCheckNames(t *testing.T) {
	s := validSnapshot()
	s.APIs[0].OpenAPI = "shop.yaml"
	names := s.LimitNames()
	if names["per-user"] != "apis[0].limits[0]" || names["gold-rate"] != "ratelimit.plans.gold[0]" {
		t.Fatalf("LimitNames() = %v", names)
	}
	im, err := ImportOpenAPI(extDoc("  /items:\n    get: {x-portcullis-limits: [{name: reads, rate: 5/s, key: [client_id]}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	im.ApplyDefaults()
	if err := im.Check(&s, &s.APIs[0], "shop.yaml", names); err != nil {
		t.Fatal(err)
	}
	if got, want := names["reads"], "openapi shop.yaml paths./items.get.x-portcullis-limits[0]"; got != want {
		t.Errorf("names[reads] = %q, want %q", got, want)
	}
}
