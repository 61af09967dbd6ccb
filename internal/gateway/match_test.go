package gateway

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/catalog"
)

// testRouter builds a router from "METHOD /pattern" labels ("* /x" for
// any method).
func testRouter(t testing.TB, labels ...string) *router {
	t.Helper()
	rt := &router{}
	for _, l := range labels {
		method, path, _ := strings.Cut(l, " ")
		if method == "*" {
			method = ""
		}
		pt, err := parsePattern(path)
		if err != nil {
			t.Fatalf("parsePattern(%q): %v", path, err)
		}
		if err := rt.add(&operation{method: method, pattern: pt, label: l}); err != nil {
			t.Fatalf("add(%q): %v", l, err)
		}
	}
	return rt
}

func TestMatchPrecedence(t *testing.T) {
	rt := testRouter(t,
		"GET /",
		"GET /items",
		"GET /items/",
		"GET /items/{id}",
		"GET /items/special",
		"POST /items/{id}",
		"* /items/{id}/history",
		"GET /items/{id}/history",
		"GET /orgs/{org}/items/{id}",
		"GET /files/{path...}",
		"GET /files/readme",
		"GET /a/b/c", "GET /a/{x}/d",
	)
	tests := []struct {
		method, path string
		want         string // label, "" for no match
		params       []string
		pathOnly     bool
	}{
		{"GET", "", "GET /", nil, true},
		{"GET", "/", "GET /", nil, true},
		{"GET", "/items", "GET /items", nil, true},
		{"GET", "/items/", "GET /items/", nil, true},
		{"GET", "/items/7", "GET /items/{id}", []string{"7"}, true},
		{"HEAD", "/items/7", "GET /items/{id}", []string{"7"}, true},
		{"POST", "/items/7", "POST /items/{id}", []string{"7"}, true},
		{"DELETE", "/items/7", "", nil, true},
		{"GET", "/items/special", "GET /items/special", nil, true},
		{"POST", "/items/special", "POST /items/{id}", []string{"special"}, true},
		{"GET", "/items/7/history", "GET /items/{id}/history", []string{"7"}, true},
		{"PUT", "/items/7/history", "* /items/{id}/history", []string{"7"}, true},
		{"GET", "/orgs/acme/items/9", "GET /orgs/{org}/items/{id}", []string{"acme", "9"}, true},
		{"GET", "/files/readme", "GET /files/readme", nil, true},
		{"GET", "/files/a/b/c.txt", "GET /files/{path...}", []string{"a/b/c.txt"}, true},
		{"GET", "/files/", "GET /files/{path...}", []string{""}, true},
		{"GET", "/files", "", nil, false},
		{"GET", "/a/b/c", "GET /a/b/c", nil, true},
		{"GET", "/a/b/d", "GET /a/{x}/d", []string{"b"}, true},
		{"GET", "/a/b/e", "", nil, false},
		{"GET", "/nothing", "", nil, false},
		{"GET", "/items/7/history/x", "", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			var vals [maxParams]string
			op, pathOnly := rt.match(tc.method, tc.path, &vals)
			got := ""
			var params []string
			if op != nil {
				got = op.label
				params = vals[:len(op.pattern.names)]
				if len(params) == 0 {
					params = nil
				}
			}
			if got != tc.want {
				t.Fatalf("match = %q, want %q", got, tc.want)
			}
			if diff := cmp.Diff(tc.params, params); diff != "" {
				t.Errorf("params (-want +got):\n%s", diff)
			}
			if op == nil && pathOnly != tc.pathOnly {
				t.Errorf("pathOnly = %v, want %v", pathOnly, tc.pathOnly)
			}
		})
	}
}

func TestMatchAllocatesNothing(t *testing.T) {
	rt := testRouter(t, "GET /items", "GET /items/{id}", "GET /orgs/{org}/items/{id}", "GET /files/{p...}")
	var vals [maxParams]string
	for _, p := range []string{"/items", "/items/7", "/orgs/a/items/9", "/files/x/y", "/nope"} {
		if n := testing.AllocsPerRun(100, func() { rt.match("GET", p, &vals) }); n != 0 {
			t.Errorf("match(%q) allocates %v times", p, n)
		}
	}
}

func TestParsePattern(t *testing.T) {
	tests := []struct {
		pattern string
		segs    int
		names   []string
		ok      bool
	}{
		{"/", 0, nil, true},
		{"/items", 1, nil, true},
		{"/items/", 2, nil, true},
		{"/orgs/{org}/items/{id}", 4, []string{"org", "id"}, true},
		{"/files/{path...}", 2, []string{"path"}, true},
		{"/{p...}", 1, []string{"p"}, true},
		{"", 0, nil, false},
		{"items", 0, nil, false},
		{"//items", 0, nil, false},
		{"/a//b", 0, nil, false},
		{"/a/../b", 0, nil, false},
		{"/a/./b", 0, nil, false},
		{"/{id", 0, nil, false},
		{"/id}", 0, nil, false},
		{"/x{id}", 0, nil, false},
		{"/{}", 0, nil, false},
		{"/{1a}", 0, nil, false},
		{"/{a}/{a}", 0, nil, false},
		{"/{p...}/x", 0, nil, false},
		{"/{$}", 0, nil, false},
		{"/a%2Fb", 0, nil, false},
		{"/a?b", 0, nil, false},
		{"/a b", 0, nil, false},
		{"/a\\b", 0, nil, false},
		{"/" + strings.Repeat("{a}/", 0) + strings.Repeat("x/", 3) + "{p...}", 4, []string{"p"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.pattern, func(t *testing.T) {
			p, err := parsePattern(tc.pattern)
			if (err == nil) != tc.ok {
				t.Fatalf("parsePattern error = %v, want ok=%v", err, tc.ok)
			}
			if err != nil {
				if !errors.Is(err, errPatternSyntax) {
					t.Errorf("error %v is not errPatternSyntax", err)
				}
				return
			}
			if len(p.segs) != tc.segs || !cmp.Equal(p.names, tc.names) {
				t.Errorf("segments %d names %q, want %d %q", len(p.segs), p.names, tc.segs, tc.names)
			}
		})
	}
	var many strings.Builder
	for i := range maxParams + 1 {
		many.WriteString("/{p" + string(rune('a'+i)) + "}")
	}
	if _, err := parsePattern(many.String()); err == nil {
		t.Errorf("a pattern with %d wildcards was accepted", maxParams+1)
	}
}

func TestComparePaths(t *testing.T) {
	tests := []struct {
		a, b string
		want relation
	}{
		{"/items", "/items", relEqual},
		{"/items/{id}", "/items/{x}", relEqual},
		{"/items/special", "/items/{id}", relMoreSpecific},
		{"/items/{id}", "/items/special", relLessSpecific},
		{"/items", "/orders", relDisjoint},
		{"/items", "/items/{id}", relDisjoint},
		{"/a/{x}", "/{y}/b", relConflict},
		{"/files/{p...}", "/files/readme", relLessSpecific},
		{"/files/{p...}", "/files/{q...}", relEqual},
		{"/files/{p...}", "/files", relDisjoint},
		{"/files/", "/files/{p...}", relMoreSpecific},
		{"/files/", "/files/{id}", relDisjoint},
		{"/", "/{p...}", relMoreSpecific},
		{"/{p...}", "/", relLessSpecific},
		{"/a/{p...}", "/{x}/b", relConflict},
	}
	for _, tc := range tests {
		t.Run(tc.a+" vs "+tc.b, func(t *testing.T) {
			a, _ := parsePattern(tc.a)
			b, _ := parsePattern(tc.b)
			if got := comparePaths(a, b); got != tc.want {
				t.Errorf("comparePaths = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCheckPair(t *testing.T) {
	tests := []struct {
		a, b string
		want error
	}{
		{"GET /items", "GET /items", errPatternDuplicate},
		{"GET /items/{a}", "GET /items/{b}", errPatternDuplicate},
		{"* /items", "* /items", errPatternDuplicate},
		{"GET /items", "POST /items", nil},
		{"GET /items", "* /items", nil},
		{"GET /items/{id}", "* /items/special", errPatternConflict},
		{"GET /items/special", "* /items/{id}", nil},
		{"GET /a/{x}", "GET /{y}/b", errPatternConflict},
		{"GET /a/{x}", "POST /{y}/b", nil},
	}
	for _, tc := range tests {
		t.Run(tc.a+" vs "+tc.b, func(t *testing.T) {
			rt := testRouter(t, tc.a)
			method, path, _ := strings.Cut(tc.b, " ")
			if method == "*" {
				method = ""
			}
			pt, _ := parsePattern(path)
			err := rt.add(&operation{method: method, pattern: pt, label: tc.b})
			if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Errorf("add = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestManyLiteralChildren(t *testing.T) {
	var labels []string
	for _, s := range strings.Fields("a b c d e f g h i j k l") {
		labels = append(labels, "GET /"+s)
	}
	rt := testRouter(t, labels...)
	var vals [maxParams]string
	for _, s := range strings.Fields("a f l") {
		if op, _ := rt.match("GET", "/"+s, &vals); op == nil || op.label != "GET /"+s {
			t.Errorf("match(/%s) = %v", s, op)
		}
	}
	if op, _ := rt.match("GET", "/z", &vals); op != nil {
		t.Errorf("match(/z) = %s, want none", op.label)
	}
}

func TestCleanPath(t *testing.T) {
	tests := []struct {
		path, raw string
		want      bool
	}{
		{"/a/b", "", true},
		{"/", "", true},
		{"/a/b/", "", true},
		{"", "", false},
		{"a/b", "", false},
		{"//a", "", false},
		{"/a//b", "", false},
		{"/a/./b", "", false},
		{"/a/../b", "", false},
		{"/a/..", "", false},
		{"/a/.", "", false},
		{"/..", "", false},
		{"/a/b.c", "", true},
		{"/a/..b", "", true},
		{"/a\\b", "", false},
		{"/a\x00b", "", false},
		{"/a\x7fb", "", false},
		{"/a/b", "/a%2Fb", false},
		{"/a/b", "/a%2fb", false},
		{"/a\\b", "/a%5Cb", false},
		{"/a;b", "/a%3Bb", true},
		{"/a b", "/a%20b", true},
	}
	for _, tc := range tests {
		t.Run(tc.path+"|"+tc.raw, func(t *testing.T) {
			if got := cleanPath(tc.path, tc.raw); got != tc.want {
				t.Errorf("cleanPath(%q, %q) = %v, want %v", tc.path, tc.raw, got, tc.want)
			}
		})
	}
}

func (r relation) String() string {
	return [...]string{"equal", "more specific", "less specific", "disjoint", "conflict"}[r]
}

// TestLongestBasePathRouting: base paths nest, "/" included; a request
// goes to the API with the longest base path that is a whole-segment
// prefix of its path, and the upstream sees the path after it.
func TestLongestBasePathRouting(t *testing.T) {
	upstream := func(name string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, name+" "+r.URL.Path)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	api := func(name, base string) catalog.API {
		return catalog.API{Name: name, BasePath: base, Upstream: upstream(name), Public: true,
			Operations: []catalog.Operation{{Method: "GET", Path: "/"}, {Method: "GET", Path: "/{rest...}"}}}
	}
	e := newEnv(t, func(s *catalog.Snapshot) {
		// The trailing slash of "/shop/admin/" is not part of it.
		s.APIs = []catalog.API{api("root", "/"), api("shop", "/shop"), api("admin", "/shop/admin/")}
	})
	tests := []struct{ path, want string }{
		{"/", "root /"},
		{"/other", "root /other"},
		{"/shopx", "root /shopx"},
		{"/shop", "shop /"},
		{"/shop/", "shop /"},
		{"/shop/items/7", "shop /items/7"},
		{"/shop/adminx", "shop /adminx"},
		{"/shop/admin", "admin /"},
		{"/shop/admin/", "admin /"},
		{"/shop/admin/x", "admin /x"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			w := e.serve(request("GET", tc.path, ""))
			if w.Code != http.StatusOK {
				t.Fatalf("status = %d, want 200 (body %q)", w.Code, w.Body.String())
			}
			if got := w.Body.String(); got != tc.want {
				t.Errorf("reached %q, want %q", got, tc.want)
			}
		})
	}
}
