package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/publish"
	"github.com/portcullis/portcullis/internal/store"
)

func init() {
	// The route table tests run every route against an empty catalog:
	// the empty document plans no change, at revision 0.
	testParts = append(testParts, func(t *testing.T, o *Options) {
		d := sharedDocumentStore(t)
		o.Documents, o.AuditVerifier = d.docs, d.auditor
	})
	testBodies["DocumentRequest"] = `{"document":""}`
	testBodies["DocumentApplyRequest"] = `{"document":"","revision":0}`
}

// storeDocuments is the DocumentService the node wires: the publish
// service and the store's revision.
type storeDocuments struct {
	*publish.Service
	db *store.DB
}

func (d storeDocuments) CatalogRevision(ctx context.Context) (int64, error) {
	return d.db.CatalogRevision(ctx)
}

var _ DocumentService = storeDocuments{}

// documentStore is a fresh SQLite store with the real catalog service
// over it. Its auditor has no default actor, as the node's: a write is
// recorded only as the caller the admin API names.
type documentStore struct {
	db      *store.DB
	auditor *audit.Auditor
	docs    storeDocuments
}

func newDocumentStore(t *testing.T) documentStore {
	t.Helper()
	db := openTestStore(t)
	au := audit.New(db, time.Now)
	file := catalog.Snapshot{APIs: []catalog.API{{
		Name: "warehouse", BasePath: "/warehouse", Upstream: "http://127.0.0.1:9000", Public: true,
		Operations: []catalog.Operation{{Method: "GET", Path: "/items"}},
	}}}
	return documentStore{db: db, auditor: au, docs: storeDocuments{publish.New(db, au, file, nil, nil), db}}
}

// documentStores are the stores of sharedDocumentStore, by test.
var documentStores sync.Map

// sharedDocumentStore is one documentStore per test: the route table
// tests build many APIs per test, and only ever apply the empty document.
func sharedDocumentStore(t *testing.T) documentStore {
	if d, ok := documentStores.Load(t); ok {
		return d.(documentStore)
	}
	d := newDocumentStore(t)
	documentStores.Store(t, d)
	t.Cleanup(func() { documentStores.Delete(t) })
	return d
}

// shopDocument holds a published and a draft version and a plan.
const shopDocument = `apis:
  - name: shop
    version: v1
    base_path: /shop/v1
    upstream: http://127.0.0.1:9001
    public: true
    operations:
      - {method: GET, path: /carts}
    state: published
  - name: shop
    version: v2
    base_path: /shop/v2
    upstream: http://127.0.0.1:9002
    public: true
    operations:
      - {method: GET, path: /carts}
plans:
  - name: gold
    limits:
      - {name: gold-rate, rate: 100/s}
`

// newDocumentAPI serves the admin API over docs (the role tokens of
// roleTokens and the break-glass token).
func newDocumentAPI(t *testing.T, docs DocumentService, verifier AuditVerifier) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	New(Options{Token: breakGlassToken, Verifier: roleTokens(), Documents: docs, AuditVerifier: verifier}).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func documentBody(t *testing.T, doc string, rev *int64) string {
	t.Helper()
	b, err := json.Marshal(DocumentApplyRequest{Document: doc, Revision: rev})
	if err != nil {
		t.Fatal(err)
	}
	if rev == nil {
		b, _ = json.Marshal(DocumentRequest{Document: doc})
	}
	return string(b)
}

func decodeAs[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("answer %s: %v", body, err)
	}
	return v
}

func TestDocumentPlanApplyExport(t *testing.T) {
	d := newDocumentStore(t)
	srv := newDocumentAPI(t, d.docs, d.auditor)
	const publisher = "tok-admin:publisher"

	resp, body := call(t, srv, "GET", "/admin/v1/catalog", "tok-admin:developer", "", nil)
	if got := decodeAs[CatalogDocument](t, body); resp.StatusCode != 200 || got.Revision != 0 || got.Document != "apis: []\n" {
		t.Fatalf("export of the empty catalog: %d %+v", resp.StatusCode, got)
	}

	resp, body = call(t, srv, "POST", "/admin/v1/catalog/plan", publisher, documentBody(t, shopDocument, nil), nil)
	plan := decodeAs[DocumentPlan](t, body)
	wantChanges := []DocumentChange{
		{Kind: "created", Object: "api", Name: "shop v1"},
		{Kind: "created", Object: "api", Name: "shop v2"},
		{Kind: "created", Object: "plan", Name: "gold"},
	}
	if resp.StatusCode != 200 || plan.Revision != 0 || plan.Empty {
		t.Fatalf("plan: %d %s", resp.StatusCode, body)
	}
	if diff := cmp.Diff(wantChanges, plan.Changes); diff != "" {
		t.Errorf("plan changes (-want +got):\n%s", diff)
	}
	wantText := "+ api shop v1 (created)\n+ api shop v2 (created)\n+ plan gold (created)\n"
	if plan.Text != wantText {
		t.Errorf("plan text = %q, want %q", plan.Text, wantText)
	}
	if n, _ := d.db.CatalogRevision(t.Context()); n != 0 {
		t.Fatalf("plan wrote: revision %d", n)
	}

	rev := plan.Revision
	resp, body = call(t, srv, "POST", "/admin/v1/catalog/apply", publisher, documentBody(t, shopDocument, &rev), nil)
	applied := decodeAs[DocumentApplied](t, body)
	stored, _ := d.db.CatalogRevision(t.Context())
	if resp.StatusCode != 200 || applied.Revision != stored || stored == 0 {
		t.Fatalf("apply: %d %s (stored revision %d)", resp.StatusCode, body, stored)
	}
	if diff := cmp.Diff(wantChanges, applied.Changes); diff != "" {
		t.Errorf("applied changes (-want +got):\n%s", diff)
	}

	// The export reads back as the document, at the new revision, and
	// plans no change.
	_, body = call(t, srv, "GET", "/admin/v1/catalog", "tok-admin:auditor", "", nil)
	exported := decodeAs[CatalogDocument](t, body)
	if exported.Revision != stored {
		t.Errorf("export revision %d, want %d", exported.Revision, stored)
	}
	want, err := d.docs.Export(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	wantYAML, _ := want.Marshal()
	if exported.Document != string(wantYAML) || len(want.APIs) != 2 {
		t.Errorf("export:\n%s\nwant:\n%s", exported.Document, wantYAML)
	}
	_, body = call(t, srv, "POST", "/admin/v1/catalog/plan", "tok-admin:platform", documentBody(t, exported.Document, nil), nil)
	if again := decodeAs[DocumentPlan](t, body); !again.Empty || len(again.Changes) != 0 || again.Revision != stored ||
		again.Text != "No changes: the stored catalog matches.\n" {
		t.Errorf("plan of the export: %s", body)
	}

	// A field changed: the plan shows it field by field.
	_, body = call(t, srv, "POST", "/admin/v1/catalog/plan", publisher, documentBody(t, strings.Replace(shopDocument, "rate: 100/s", "rate: 200/s", 1), nil), nil)
	fieldPlan := decodeAs[DocumentPlan](t, body)
	wantField := []DocumentChange{{Kind: "changed", Object: "plan", Name: "gold",
		Fields: []DocumentFieldChange{{Field: "limits[0].rate", Old: "100/s", New: "200/s"}}}}
	if diff := cmp.Diff(wantField, fieldPlan.Changes); diff != "" {
		t.Errorf("field change (-want +got):\n%s", diff)
	}
	if fieldPlan.Text != "~ plan gold (changed)\n    limits[0].rate: 100/s -> 200/s\n" {
		t.Errorf("field change text %q", fieldPlan.Text)
	}

	// The apply is audited with the caller, from the caller's address.
	recs, _, err := d.auditor.List(t.Context(), audit.Filter{Action: publish.ActionApply}, 0, 10)
	if err != nil || len(recs) != 1 {
		t.Fatalf("audit records of the apply: %v, %v", recs, err)
	}
	if a := recs[0].Actor; a.Kind != audit.KindClient || a.Subject != "svc" || len(a.Roles) != 1 || a.Roles[0] != string(RolePublisher) {
		t.Errorf("actor %+v, want the publisher's client", a)
	}
	if recs[0].SourceIP != "127.0.0.1" || recs[0].RequestID == "" {
		t.Errorf("origin %q %q, want the caller's", recs[0].SourceIP, recs[0].RequestID)
	}
}

func TestDocumentApplyRefusals(t *testing.T) {
	d := newDocumentStore(t)
	srv := newDocumentAPI(t, d.docs, d.auditor)
	const tok = "tok-admin:platform"
	zero := int64(0)
	if resp, body := call(t, srv, "POST", "/admin/v1/catalog/apply", tok, documentBody(t, shopDocument, &zero), nil); resp.StatusCode != 200 {
		t.Fatalf("first apply: %d %s", resp.StatusCode, body)
	}
	rev, _ := d.db.CatalogRevision(t.Context())

	// shop v1 is published: retiring it at once and deleting the served
	// v1... are refused, every reason told.
	twoReasons := strings.Replace(shopDocument, "    state: published\n", "    state: retired\n", 1)
	twoReasons = strings.Replace(twoReasons, "base_path: /shop/v2", "base_path: /warehouse", 1)
	tooBig := `{"document":"` + strings.Repeat("#", maxDocumentBody) + `"}`
	next := rev + 1

	for _, tc := range []struct {
		name, path, body string
		status           int
		typ              string
		detail           []string
	}{
		{"stale revision", "/admin/v1/catalog/apply", documentBody(t, shopDocument, &zero), 412, "precondition-failed",
			[]string{"the stored catalog changed since the plan; plan again", fmt.Sprintf("the catalog is at %d", rev)}},
		{"future revision", "/admin/v1/catalog/apply", documentBody(t, shopDocument, &next), 412, "precondition-failed", nil},
		{"refused plan", "/admin/v1/catalog/plan", documentBody(t, twoReasons, nil), 422, "invalid-catalog",
			[]string{"catalog document refused", "shop v1: ", "retired", `base path "/warehouse"`}},
		{"refused apply", "/admin/v1/catalog/apply", documentBody(t, twoReasons, &rev), 422, "invalid-catalog",
			[]string{"shop v1: ", `base path "/warehouse"`}},
		{"not YAML", "/admin/v1/catalog/plan", documentBody(t, "apis: {", nil), 400, "invalid-request", []string{"document: yaml:"}},
		{"unknown document field", "/admin/v1/catalog/plan", documentBody(t, "apis: []\nsecrets: x\n", nil), 400, "invalid-request", []string{"secrets"}},
		{"no revision", "/admin/v1/catalog/apply", documentBody(t, shopDocument, nil), 400, "invalid-request", []string{"revision is required"}},
		{"unknown field", "/admin/v1/catalog/plan", `{"document":"","yaml":"x"}`, 400, "invalid-request", nil},
		{"too large", "/admin/v1/catalog/plan", tooBig, 413, "too-large", []string{"larger than 4 MiB"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := call(t, srv, "POST", tc.path, tok, tc.body, nil)
			p := decodeAs[Problem](t, body)
			if resp.StatusCode != tc.status || p.Type != problemType+tc.typ || p.RequestID == "" {
				t.Fatalf("%d %s, want %d %s", resp.StatusCode, body, tc.status, tc.typ)
			}
			for _, w := range tc.detail {
				if !strings.Contains(p.Detail, w) {
					t.Errorf("detail %q lacks %q", p.Detail, w)
				}
			}
		})
	}
	if after, _ := d.db.CatalogRevision(t.Context()); after != rev {
		t.Errorf("a refused request wrote: revision %d, want %d", after, rev)
	}
}

// racingDocuments lets another apply commit between the plan and the
// apply of the request.
type racingDocuments struct {
	storeDocuments
	other catalog.Document
}

func (r racingDocuments) Apply(ctx context.Context, p *publish.Plan) error {
	q, err := r.storeDocuments.Plan(ctx, r.other)
	if err != nil {
		return err
	}
	if err := r.storeDocuments.Apply(ctx, q); err != nil {
		return err
	}
	return r.storeDocuments.Apply(ctx, p)
}

func TestDocumentApplyLosesARace(t *testing.T) {
	d := newDocumentStore(t)
	other, err := catalog.ParseDocument("other", []byte("plans:\n  - name: silver\n    limits:\n      - {name: silver-rate, rate: 10/s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	srv := newDocumentAPI(t, racingDocuments{d.docs, other}, nil)
	zero := int64(0)
	resp, body := call(t, srv, "POST", "/admin/v1/catalog/apply", breakGlassToken, documentBody(t, shopDocument, &zero), nil)
	if p := decodeAs[Problem](t, body); resp.StatusCode != 412 || !strings.Contains(p.Detail, "plan again") {
		t.Fatalf("apply that lost the race: %d %s, want 412", resp.StatusCode, body)
	}
	exported, err := d.docs.Export(t.Context())
	if err != nil || len(exported.APIs) != 0 || len(exported.Plans) != 1 {
		t.Errorf("catalog after the lost race: %+v, %v; want only the other apply's plan", exported, err)
	}
}

func TestDocumentRouteRoles(t *testing.T) {
	d := newDocumentStore(t)
	srv := newDocumentAPI(t, d.docs, d.auditor)
	zero := int64(0)
	plan, apply := documentBody(t, "", nil), documentBody(t, "", &zero)
	for _, tc := range []struct {
		method, path, body, tok string
		want                    int
	}{
		{"GET", "/admin/v1/catalog", "", "", 401},
		{"GET", "/admin/v1/catalog", "", "no-role", 403},
		{"GET", "/admin/v1/catalog", "", "tok-admin:approver", 200},
		{"GET", "/admin/v1/catalog", "", "tok-admin:developer", 200},
		{"POST", "/admin/v1/catalog/plan", plan, "", 401},
		{"POST", "/admin/v1/catalog/plan", plan, "tok-admin:auditor", 403},
		{"POST", "/admin/v1/catalog/plan", plan, "tok-admin:developer", 403},
		{"POST", "/admin/v1/catalog/plan", plan, "tok-admin:publisher", 200},
		{"POST", "/admin/v1/catalog/apply", apply, "", 401},
		{"POST", "/admin/v1/catalog/apply", apply, "tok-admin:approver", 403},
		{"POST", "/admin/v1/catalog/apply", apply, "tok-admin:auditor", 403},
		{"POST", "/admin/v1/catalog/apply", apply, "tok-admin:publisher", 200},
		{"POST", "/admin/v1/catalog/apply", apply, breakGlassToken, 200},
	} {
		if resp, body := call(t, srv, tc.method, tc.path, tc.tok, tc.body, nil); resp.StatusCode != tc.want {
			t.Errorf("%s %s as %q: %d, want %d (%s)", tc.method, tc.path, tc.tok, resp.StatusCode, tc.want, body)
		}
	}

	// A node without the catalog service: 404 to a caller with the role.
	off := newDocumentAPI(t, nil, nil)
	if resp, _ := call(t, off, "GET", "/admin/v1/catalog", breakGlassToken, "", nil); resp.StatusCode != 404 {
		t.Errorf("without the catalog service: %d, want 404", resp.StatusCode)
	}
}

func TestBoundedDetail(t *testing.T) {
	var lines []string
	for i := range 1000 {
		lines = append(lines, fmt.Sprintf("  reason %03d: é", i))
	}
	long := strings.Join(lines, "\n")
	got := boundedDetail(long, 1024)
	if len(got) > 1024 || !strings.HasPrefix(got, lines[0]+"\n") {
		t.Fatalf("bounded to %d bytes: %q", len(got), got)
	}
	kept := strings.Count(got, "\n") // the lines kept, and the tail's line
	if want := fmt.Sprintf("\n  ... and %d more lines", 1000-kept); !strings.HasSuffix(got, want) {
		t.Errorf("tail of %q, want %q", got[len(got)-40:], want)
	}
	if s := "short\nenough"; boundedDetail(s, 1024) != s {
		t.Errorf("a short detail was changed")
	}
	one := strings.Repeat("é", 1000)
	got = boundedDetail(one, 101)
	head, ok := strings.CutSuffix(got, "\n  ... and 1 more line")
	if !ok || len(got) > 101 || head != strings.Repeat("é", len(head)/2) {
		t.Errorf("one long line: %q", got)
	}
}
