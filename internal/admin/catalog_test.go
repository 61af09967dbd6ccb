package admin

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/publish"
	"github.com/portcullis/portcullis/internal/store"
)

// catalogFixture is the stored catalog of every test API: shop v1 in
// draft (so each write route's first call succeeds: replace, publish,
// delete) and shop v2 published, and the plan gold.
const catalogFixture = `
apis:
  - name: shop
    version: v1
    base_path: /shop/v1
    upstream: http://127.0.0.1:9001
    public: true
    operations:
      - {method: GET, path: /carts}
    tags: [commerce]
  - name: shop
    version: v2
    base_path: /shop/v2
    upstream: http://127.0.0.1:9002
    public: true
    operations:
      - {method: GET, path: /carts}
    state: published
    gateways: [edge]
plans:
  - name: gold
    limits:
      - {name: gold-rate, rate: 100/s}
gateway_groups:
  - name: edge
`

func init() {
	testParts = append(testParts, func(t *testing.T, o *Options) { o.Catalog = newTestCatalog(t) })
	testParams["{name}"] = "shop"
	testParams["{version}"] = "v1"
	testParams["{plan}"] = "gold"
	testBodies["APIVersion"] = `{"base_path":"/shop/v1","upstream":"http://127.0.0.1:9001","public":true,"operations":[{"method":"GET","path":"/carts"}]}`
	testBodies["StateRequest"] = `{"state":"published"}`
	testBodies["Plan"] = `{"limits":[{"name":"gold-rate","rate":"200/s"}]}`
}

// openTestStore is a migrated SQLite store of the test's own, closed
// when it ends.
func openTestStore(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "admin.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return db
}

// newTestCatalog is the real catalog service over a fresh SQLite store
// holding catalogFixture.
func newTestCatalog(t *testing.T) *publish.Service {
	t.Helper()
	db := openTestStore(t)
	au := audit.New(db, time.Now).WithDefaultActor(audit.Actor{Kind: audit.KindCLI, Subject: "fixture"})
	svc := publish.New(db, au, catalog.Snapshot{}, nil, nil)
	d, err := catalog.ParseDocument("fixture", []byte(catalogFixture))
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.Plan(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	return svc
}

func TestCatalogListFilters(t *testing.T) {
	srv, _, _ := newTestAPI(t)
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{"shop v1", "shop v2"}},
		{"?state=published", []string{"shop v2"}},
		{"?tag=commerce", []string{"shop v1"}},
		{"?gateway_group=edge", []string{"shop v2"}},
		{"?gateway_group=default", []string{"shop v1"}},
		{"?q=SHO", []string{"shop v1", "shop v2"}},
		{"?q=billing", nil},
		{"?limit=1", []string{"shop v1"}},
	} {
		resp, body := call(t, srv, "GET", "/admin/v1/apis"+tc.query, "tok-admin:developer", "", nil)
		var page Page[APIVersionSummary]
		if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &page) != nil {
			t.Fatalf("%s: %d %s", tc.query, resp.StatusCode, body)
		}
		var got []string
		for _, s := range page.Items {
			got = append(got, s.Name+" "+s.Version)
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: %v, want %v", tc.query, got, tc.want)
		}
	}
	if resp, _ := call(t, srv, "GET", "/admin/v1/apis?state=live", "tok-admin:developer", "", nil); resp.StatusCode != 400 {
		t.Errorf("unknown state filter: %d, want 400", resp.StatusCode)
	}
}

func TestCatalogWritesAreConditionalAndChecked(t *testing.T) {
	srv, _, _ := newTestAPI(t)
	const path = "/admin/v1/apis/shop/versions/v1"
	const pub = "tok-admin:publisher"
	resp, body := call(t, srv, "GET", path, "tok-admin:auditor", "", nil)
	tag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || tag == "" || !strings.Contains(body, `"base_path":"/shop/v1"`) || !strings.Contains(body, `"state":"draft"`) {
		t.Fatalf("get: %d %q %s", resp.StatusCode, tag, body)
	}

	// A lost update is impossible: a stale If-Match is refused.
	resp, _ = call(t, srv, "POST", path+"/state", pub, `{"state":"published"}`, map[string]string{"If-Match": tag})
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == tag {
		t.Fatalf("publish with the current ETag: %d", resp.StatusCode)
	}
	resp, body = call(t, srv, "POST", path+"/state", pub, `{"state":"deprecated"}`, map[string]string{"If-Match": tag})
	if resp.StatusCode != 412 {
		t.Fatalf("state change with a stale ETag: %d %s", resp.StatusCode, body)
	}

	// An illegal move is refused with its reason, as problem+json.
	resp, body = call(t, srv, "POST", path+"/state", pub, `{"state":"draft"}`, nil)
	if resp.StatusCode != 422 || !strings.Contains(body, "invalid-catalog") || !strings.Contains(body, "draft") {
		t.Fatalf("published -> draft: %d %s", resp.StatusCode, body)
	}
	// A served version cannot be deleted.
	resp, body = call(t, srv, "DELETE", path, pub, "", nil)
	if resp.StatusCode != 422 || !strings.Contains(body, "deprecate and retire") {
		t.Fatalf("delete a published version: %d %s", resp.StatusCode, body)
	}

	// Create-only with If-None-Match: *, then again: 412.
	v3 := `{"base_path":"/shop/v3","upstream":"http://127.0.0.1:9003","public":true,"operations":[{"method":"GET","path":"/carts"}],"gateways":["edge"]}`
	resp, body = call(t, srv, "PUT", "/admin/v1/apis/shop/versions/v3", pub, v3, map[string]string{"If-None-Match": "*"})
	if resp.StatusCode != 201 || resp.Header.Get("Location") != "/admin/v1/apis/shop/versions/v3" || !strings.Contains(body, `"gateways":["edge"]`) {
		t.Fatalf("create v3: %d %s", resp.StatusCode, body)
	}
	resp, _ = call(t, srv, "PUT", "/admin/v1/apis/shop/versions/v3", pub, v3, map[string]string{"If-None-Match": "*"})
	if resp.StatusCode != 412 {
		t.Fatalf("create v3 again: %d", resp.StatusCode)
	}

	// Bad bodies: an unknown field, a name that is not the path's, a
	// clash of base path, an undeclared gateway group.
	for _, tc := range []struct {
		body   string
		status int
		want   string
	}{
		{`{"base_path":"/x","upstream":"http://127.0.0.1:1","colour":"red"}`, 400, "colour"},
		{`{"name":"other","base_path":"/x","upstream":"http://127.0.0.1:1"}`, 400, "path"},
		{`not json`, 400, "JSON"},
		{`{"base_path":"/shop/v2","upstream":"http://127.0.0.1:1","public":true,"operations":[{"method":"GET","path":"/a"}]}`, 422, "/shop/v2"},
		{`{"base_path":"/x","upstream":"http://127.0.0.1:1","public":true,"operations":[{"method":"GET","path":"/a"}],"gateways":["nope"]}`, 422, "nope"},
	} {
		resp, body := call(t, srv, "PUT", "/admin/v1/apis/shop/versions/v9", pub, tc.body, nil)
		if resp.StatusCode != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("PUT %s: %d %s, want %d mentioning %q", tc.body, resp.StatusCode, body, tc.status, tc.want)
		}
	}
	if resp, _ := call(t, srv, "GET", "/admin/v1/apis/shop/versions/v9", pub, "", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("refused writes left v9: %d", resp.StatusCode)
	}
}

func TestCatalogPlansAndGroups(t *testing.T) {
	srv, _, _ := newTestAPI(t)
	resp, body := call(t, srv, "GET", "/admin/v1/plans", "tok-admin:developer", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `"name":"gold"`) {
		t.Fatalf("plans: %d %s", resp.StatusCode, body)
	}
	resp, body = call(t, srv, "PUT", "/admin/v1/plans/silver", "tok-admin:platform", `{"limits":[{"name":"silver-rate","rate":"10/s"}]}`, nil)
	if resp.StatusCode != 201 {
		t.Fatalf("create plan: %d %s", resp.StatusCode, body)
	}
	resp, body = call(t, srv, "PUT", "/admin/v1/plans/bad", "tok-admin:platform", `{"limits":[{"name":"x","rate":"fast"}]}`, nil)
	if resp.StatusCode != 422 {
		t.Fatalf("invalid plan: %d %s", resp.StatusCode, body)
	}
	resp, body = call(t, srv, "GET", "/admin/v1/groups", "tok-admin:auditor", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `"gateway_groups":[{"name":"edge"}]`) {
		t.Fatalf("groups: %d %s", resp.StatusCode, body)
	}
}
