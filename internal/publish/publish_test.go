package publish

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/store"
)

var epoch = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func openStore(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "p.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return db
}

// fileCatalog is a configuration file's catalog: one issuer, one API.
func fileCatalog() catalog.Snapshot {
	return catalog.Snapshot{
		Issuers: []catalog.Issuer{{Issuer: "https://id.example"}},
		APIs: []catalog.API{{
			Name: "warehouse", BasePath: "/warehouse", Upstream: "http://127.0.0.1:9000",
			Audiences: []string{"warehouse"}, Tokens: []string{"jwt"}, Operations: []catalog.Operation{{Method: "GET", Path: "/items", Scopes: []string{"list_items"}}},
		}},
		RateLimit: catalog.RateLimits{Plans: map[string][]catalog.Limit{"free": nil}},
	}
}

const doc = `
apis:
  - name: shop
    version: v1
    base_path: /shop/v1
    upstream: http://127.0.0.1:9001
    audiences: [shop]
    tokens: [jwt]
    operations:
      - {method: GET, path: /carts, scopes: [carts]}
    state: published
    owners: [team-shop]
  - name: shop
    version: v2
    base_path: /shop/v2
    upstream: http://127.0.0.1:9002
    audiences: [shop]
    tokens: [jwt]
    operations:
      - {method: GET, path: /carts, scopes: [carts]}
plans:
  - name: gold
    limits:
      - {name: gold-rate, rate: 100/s}
`

func parse(t *testing.T, s string) catalog.Document {
	t.Helper()
	d, err := catalog.ParseDocument("apply.yaml", []byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func newService(t *testing.T, db *store.DB, now *time.Time) *Service {
	au := audit.New(db, func() time.Time { return *now }).WithDefaultActor(audit.Actor{Kind: audit.KindCLI, Subject: "tester"})
	return New(db, au, fileCatalog(), nil, func() time.Time { return *now })
}

func apply(t *testing.T, svc *Service, d catalog.Document) []catalog.Change {
	t.Helper()
	p, err := svc.Plan(t.Context(), d)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	if err := svc.Apply(t.Context(), p); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return p.Changes
}

func TestApplyIsIdempotentAndAudited(t *testing.T) {
	db := openStore(t)
	now := epoch
	svc := newService(t, db, &now)
	if got := apply(t, svc, parse(t, doc)); len(got) != 3 {
		t.Fatalf("first apply: %d changes, want 3 (two versions, one plan): %v", len(got), got)
	}
	if rev, _ := db.CatalogRevision(t.Context()); rev != 3 {
		t.Errorf("revision = %d, want 3 (one per write)", rev)
	}
	p, err := svc.Plan(t.Context(), parse(t, doc))
	if err != nil || !p.Empty() {
		t.Fatalf("second plan: %v, %v; want no changes", p, err)
	}
	recs, _, err := audit.New(db, nil).List(t.Context(), audit.Filter{}, 0, 10)
	if err != nil || len(recs) != 1 || recs[0].Action != ActionApply || recs[0].Actor.Subject != "tester" {
		t.Fatalf("audit records = %+v, %v; want one catalog.apply by tester", recs, err)
	}

	// Export and apply it back: nothing to do.
	exported, err := svc.Export(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	b, err := exported.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p, err = svc.Plan(t.Context(), parse(t, string(b)))
	if err != nil || !p.Empty() {
		t.Fatalf("plan of the export: %v, %v; want no changes\n%s", p.Changes, err, b)
	}

	// Deprecate v1 with a sunset: a change of two fields; the
	// deprecation date is the moment of the apply and stays.
	now = epoch.Add(time.Hour)
	d2 := strings.Replace(doc, "state: published", "state: deprecated\n    sunset: 2027-01-01T00:00:00Z", 1)
	changes := apply(t, svc, parse(t, d2))
	if len(changes) != 1 || len(changes[0].Fields) != 2 {
		t.Fatalf("deprecate: changes %v, want one with state and sunset", changes)
	}
	v, err := db.GetAPIVersion(t.Context(), "shop", "v1")
	if err != nil || !v.DeprecatedAt.Equal(now) || v.State != "deprecated" {
		t.Fatalf("stored v1 = %+v, %v", v, err)
	}
	if p, err := svc.Plan(t.Context(), parse(t, d2)); err != nil || !p.Empty() {
		t.Fatalf("re-plan after deprecate: %v, %v", p, err)
	}
}

func TestPlanRefuses(t *testing.T) {
	db := openStore(t)
	now := epoch
	svc := newService(t, db, &now)
	apply(t, svc, parse(t, doc))
	tests := []struct {
		name, doc, want string
	}{
		{"name of a file API", strings.Replace(doc, "name: shop\n    version: v2", "name: warehouse\n    version: v2", 1),
			`API name "warehouse" is declared in the configuration file (gateway.apis[0]) and in the stored catalog (warehouse v2)`},
		{"base path of a file API", strings.Replace(doc, "/shop/v2", "/warehouse", 1),
			`base path "/warehouse" is used in the configuration file (gateway.apis[0], API "warehouse") and in the stored catalog (shop v2)`},
		{"plan of the file", doc + "  - name: free\n    limits: []\n", `plan "free" is declared in the configuration file`},
		{"illegal transition", strings.Replace(doc, "state: published", "state: retired", 1), "deprecate a published version first"},
		{"deleting a served version", strings.Replace(doc, "  - name: shop\n    version: v1", "  - name: gone\n    version: v1", 1),
			"shop v1: a published version is served; deprecate and retire it before deleting it"},
		{"invalid entry", strings.Replace(doc, "http://127.0.0.1:9002", "ftp://x", 1), "upstream"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := svc.Plan(t.Context(), parse(t, tc.doc))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Plan error = %v, want ErrInvalid with %q", err, tc.want)
			}
		})
	}
}

type refuseAll struct{}

func (refuseAll) Approve(_ context.Context, t catalog.Transition) error {
	return errors.New("approval pending")
}

func TestApproverIsAsked(t *testing.T) {
	db := openStore(t)
	now := epoch
	svc := newService(t, db, &now)
	apply(t, svc, parse(t, doc))
	svc.approver = refuseAll{}
	_, err := svc.Plan(t.Context(), parse(t, strings.Replace(doc, "state: published", "state: deprecated", 1)))
	if err == nil || !strings.Contains(err.Error(), "shop v1: published -> deprecated not approved: approval pending") {
		t.Fatalf("Plan error = %v, want the approver's refusal", err)
	}
}

func TestApplyRefusesAStalePlan(t *testing.T) {
	db := openStore(t)
	now := epoch
	svc := newService(t, db, &now)
	p, err := svc.Plan(t.Context(), parse(t, doc))
	if err != nil {
		t.Fatal(err)
	}
	// Another applier gets in first.
	apply(t, svc, parse(t, strings.Replace(doc, "name: gold", "name: silver", 1)))
	if err := svc.Apply(t.Context(), p); !errors.Is(err, ErrStale) {
		t.Fatalf("Apply of a stale plan = %v, want ErrStale", err)
	}
	if plans, _ := db.ListPlans(t.Context()); len(plans) != 1 || plans[0].Name != "silver" {
		t.Fatalf("plans after a refused stale apply = %+v, want only silver", plans)
	}
}
