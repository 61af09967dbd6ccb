package store

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func fullAPIVersion(name, version string) APIVersion {
	return APIVersion{
		Name:         name,
		Version:      version,
		BasePath:     "/" + name + "/" + version,
		Upstream:     "http://127.0.0.1:9000",
		Entry:        []byte(`{"Name":"` + name + `","Version":"` + version + `"}`),
		Description:  "The " + name + " API",
		Owners:       []string{"team-a"},
		Tags:         []string{"inventory", "internal"},
		Gateways:     []string{"edge", "default"},
		State:        "deprecated",
		DeprecatedAt: base,
		Sunset:       base.Add(90 * 24 * time.Hour),
		CreatedAt:    base,
		UpdatedAt:    base.Add(1),
	}
}

// utcVersion is v as read back: times in UTC.
func utcVersion(v APIVersion) APIVersion {
	v.DeprecatedAt, v.Sunset = v.DeprecatedAt.UTC(), v.Sunset.UTC()
	v.CreatedAt, v.UpdatedAt = v.CreatedAt.UTC(), v.UpdatedAt.UTC()
	return v
}

func wantRevision(t *testing.T, db *DB, want int64) {
	t.Helper()
	got, err := db.CatalogRevision(context.Background())
	mustNil(t, "CatalogRevision", err)
	if got != want {
		t.Fatalf("CatalogRevision() = %d, want %d", got, want)
	}
}

func catalogTests() []contractTest {
	return []contractTest{
		{"catalog/version round trip bumps the revision", func(t *testing.T, db *DB) {
			ctx := context.Background()
			wantRevision(t, db, 0)
			v := fullAPIVersion("warehouse", "v2")
			mustNil(t, "CreateAPIVersion", db.CreateAPIVersion(ctx, v))
			wantRevision(t, db, 1)
			got, err := db.GetAPIVersion(ctx, "warehouse", "v2")
			mustNil(t, "GetAPIVersion", err)
			if d := cmp.Diff(utcVersion(v), got); d != "" {
				t.Fatalf("GetAPIVersion (-want +got):\n%s", d)
			}
			// Nil lists and zero times round-trip as they were.
			v.State, v.Owners, v.Tags, v.Gateways, v.Sunset, v.DeprecatedAt = "published", nil, nil, nil, time.Time{}, time.Time{}
			mustNil(t, "UpdateAPIVersion", db.UpdateAPIVersion(ctx, v))
			wantRevision(t, db, 2)
			list, err := db.ListAPIVersions(ctx)
			mustNil(t, "ListAPIVersions", err)
			if d := cmp.Diff([]APIVersion{utcVersion(v)}, list); d != "" {
				t.Fatalf("ListAPIVersions (-want +got):\n%s", d)
			}
			mustNil(t, "DeleteAPIVersion", db.DeleteAPIVersion(ctx, "warehouse", "v2"))
			wantRevision(t, db, 3)
			_, err = db.GetAPIVersion(ctx, "warehouse", "v2")
			wantErr(t, "GetAPIVersion after delete", err, ErrNotFound)
		}},
		{"catalog/refused writes leave the revision alone", func(t *testing.T, db *DB) {
			ctx := context.Background()
			mustNil(t, "CreateAPIVersion", db.CreateAPIVersion(ctx, fullAPIVersion("warehouse", "v1")))
			wantErr(t, "create twice", db.CreateAPIVersion(ctx, fullAPIVersion("warehouse", "v1")), ErrConflict)
			other := fullAPIVersion("shop", "v1")
			other.BasePath = "/warehouse/v1"
			wantErr(t, "create on a taken base path", db.CreateAPIVersion(ctx, other), ErrConflict)
			wantErr(t, "update absent", db.UpdateAPIVersion(ctx, fullAPIVersion("none", "v1")), ErrNotFound)
			wantErr(t, "delete absent", db.DeleteAPIVersion(ctx, "none", "v1"), ErrNotFound)
			bad := fullAPIVersion("bad", "v1")
			bad.State = "live"
			wantErr(t, "unknown state", db.CreateAPIVersion(ctx, bad), ErrInvalid)
			bad = fullAPIVersion("bad", "v1")
			bad.Entry = []byte("{")
			wantErr(t, "malformed entry", db.CreateAPIVersion(ctx, bad), ErrInvalid)
			wantRevision(t, db, 1)
		}},
		{"catalog/plans and audited changes in one transaction", func(t *testing.T, db *DB) {
			ctx := context.Background()
			p := Plan{Name: "gold", Description: "Gold tier", Limits: []byte(`[{"name":"gold-rate","rate":"100/s"}]`), CreatedAt: base, UpdatedAt: base}
			_, err := db.AppendAudit(ctx, testSeal(base, "catalog.apply", "catalog"),
				CreatePlanChange(p), CreateAPIVersionChange(fullAPIVersion("warehouse", "v1")))
			mustNil(t, "AppendAudit", err)
			wantRevision(t, db, 2)
			checkChain(t, db, 1)
			plans, err := db.ListPlans(ctx)
			mustNil(t, "ListPlans", err)
			p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
			if d := cmp.Diff([]Plan{p}, plans); d != "" {
				t.Fatalf("ListPlans (-want +got):\n%s", d)
			}
			// A failing change takes the others and the record with it.
			p.Description = "changed"
			_, err = db.AppendAudit(ctx, testSeal(base, "catalog.apply", "catalog"),
				UpdatePlanChange(p), DeleteAPIVersionChange("warehouse", "v9"))
			wantErr(t, "AppendAudit with a failing change", err, ErrNotFound)
			wantRevision(t, db, 2)
			checkChain(t, db, 1)
			plans, err = db.ListPlans(ctx)
			mustNil(t, "ListPlans", err)
			if plans[0].Description != "Gold tier" {
				t.Fatalf("plan description = %q after a rolled-back update", plans[0].Description)
			}
			_, err = db.AppendAudit(ctx, testSeal(base, "catalog.apply", "catalog"), ExpectCatalogRevisionChange(2), DeletePlanChange("gold"))
			mustNil(t, "AppendAudit delete plan at the expected revision", err)
			wantRevision(t, db, 3)
			// Changes planned at revision 2 are refused at 3.
			_, err = db.AppendAudit(ctx, testSeal(base, "catalog.apply", "catalog"), ExpectCatalogRevisionChange(2),
				CreatePlanChange(Plan{Name: "silver", Limits: []byte("[]")}))
			wantErr(t, "AppendAudit at a stale revision", err, ErrCatalogMoved)
			wantRevision(t, db, 3)
			checkChain(t, db, 2)
		}},
		{"catalog/groups round trip, keyed by kind and name", func(t *testing.T, db *DB) {
			ctx := context.Background()
			api := Group{Kind: GroupAPI, Name: "commerce", Description: "Selling things", Members: []string{"shop", "billing"}, CreatedAt: base, UpdatedAt: base}
			gw := Group{Kind: GroupGateway, Name: "commerce", Description: "Public edge", CreatedAt: base, UpdatedAt: base}
			_, err := db.AppendAudit(ctx, testSeal(base, "catalog.apply", "catalog"), CreateGroupChange(api), CreateGroupChange(gw))
			mustNil(t, "AppendAudit create groups", err)
			wantRevision(t, db, 2)
			_, err = db.AppendAudit(ctx, testSeal(base, "catalog.apply", "catalog"), CreateGroupChange(gw))
			wantErr(t, "create a group twice", err, ErrConflict)
			api.Members, api.Description = nil, "changed"
			_, err = db.AppendAudit(ctx, testSeal(base, "catalog.apply", "catalog"), UpdateGroupChange(api))
			mustNil(t, "AppendAudit update group", err)
			groups, err := db.ListGroups(ctx)
			mustNil(t, "ListGroups", err)
			api.CreatedAt, api.UpdatedAt, gw.CreatedAt, gw.UpdatedAt = base.UTC(), base.UTC(), base.UTC(), base.UTC()
			if d := cmp.Diff([]Group{api, gw}, groups); d != "" {
				t.Fatalf("ListGroups (-want +got):\n%s", d)
			}
			_, err = db.AppendAudit(ctx, testSeal(base, "catalog.apply", "catalog"), DeleteGroupChange(GroupAPI, "commerce"))
			mustNil(t, "AppendAudit delete group", err)
			_, err = db.AppendAudit(ctx, testSeal(base, "catalog.apply", "catalog"), DeleteGroupChange(GroupAPI, "commerce"))
			wantErr(t, "delete an absent group", err, ErrNotFound)
			_, err = db.AppendAudit(ctx, testSeal(base, "catalog.apply", "catalog"), CreateGroupChange(Group{Kind: "team", Name: "x"}))
			wantErr(t, "unknown kind", err, ErrInvalid)
			wantRevision(t, db, 4)
		}},
	}
}
