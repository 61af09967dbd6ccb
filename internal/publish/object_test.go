package publish

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/catalog"
)

const groupsDoc = doc + `
api_groups:
  - name: commerce
    description: Selling things
    apis: [shop, warehouse]
gateway_groups:
  - name: edge
    description: Public gateways
`

func TestGroupsApplyAndExportRoundTrip(t *testing.T) {
	db := openStore(t)
	now := epoch
	s := newService(t, db, &now)
	d := parse(t, groupsDoc)
	d.APIs[1].Gateways = []string{"edge", "default"}
	p, err := s.Plan(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	out, err := s.Export(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(out.APIGroups) != 1 || len(out.GatewayGroups) != 1 || strings.Join(out.APIs[1].Gateways, ",") != "edge,default" {
		t.Fatalf("export = %+v", out)
	}
	again, err := s.Plan(t.Context(), out)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Empty() {
		t.Fatalf("re-applying the export changes %v", again.Changes)
	}

	// A version may not name an undeclared group, and a group may not
	// name an unknown API; both reasons are given.
	bad := parse(t, groupsDoc)
	bad.APIs[0].Gateways = []string{"internal"}
	bad.APIGroups[0].APIs = append(bad.APIGroups[0].APIs, "ghost")
	_, err = s.Plan(t.Context(), bad)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `gateway group "internal" is not declared`) || !strings.Contains(err.Error(), `no API "ghost"`) {
		t.Fatalf("Plan(bad groups) = %v", err)
	}
}

func TestSetStateFollowsTheLifecycleAndIsAudited(t *testing.T) {
	db := openStore(t)
	now := epoch
	s := newService(t, db, &now)
	apply(t, s, parse(t, doc))
	ctx := audit.WithActor(t.Context(), audit.Actor{Kind: audit.KindUser, Subject: "alice"})

	e, err := s.SetState(ctx, "shop", "v2", catalog.StatePublished, nil)
	if err != nil || e.State != catalog.StatePublished {
		t.Fatalf("SetState(draft->published) = %+v, %v", e.State, err)
	}
	// Nothing returns to draft; the reason is given and nothing changes.
	_, err = s.SetState(ctx, "shop", "v2", catalog.StateDraft, nil)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("SetState(published->draft) = %v", err)
	}
	now = now.Add(time.Hour)
	e, err = s.SetState(ctx, "shop", "v2", catalog.StateDeprecated, nil)
	if err != nil || !e.Deprecated.Equal(now) {
		t.Fatalf("SetState(published->deprecated) = %+v, %v", e, err)
	}
	if _, err := s.SetState(ctx, "shop", "v9", catalog.StatePublished, nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SetState(absent) = %v", err)
	}
	if _, err := s.SetState(ctx, "shop", "v2", "live", nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("SetState(unknown state) = %v", err)
	}
	recs, _, err := audit.New(db, nil).List(t.Context(), audit.Filter{Action: ActionVersionState}, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Actor.Subject != "alice" || recs[0].Target.ID != "shop v2" {
		t.Fatalf("state records = %+v", recs)
	}
}

func TestSingleWritesHonourTheMatchAndRefuseStaleLoads(t *testing.T) {
	db := openStore(t)
	now := epoch
	s := newService(t, db, &now)
	apply(t, s, parse(t, doc))
	ctx := t.Context()
	refused := errors.New("precondition failed")

	// The match sees the stored version and can stop the write.
	_, err := s.SetState(ctx, "shop", "v2", catalog.StatePublished, func(cur *catalog.VersionEntry) error {
		if cur == nil || cur.State != catalog.StateDraft {
			t.Errorf("match saw %+v", cur)
		}
		return refused
	})
	if !errors.Is(err, refused) {
		t.Fatalf("SetState with a failing match = %v", err)
	}
	if e, _ := s.Version(ctx, "shop", "v2"); e.State != catalog.StateDraft {
		t.Fatalf("state after a refused write = %s", e.State)
	}

	// A write made between the load and the commit makes the load stale:
	// the later write is refused, not applied over the earlier one.
	_, err = s.SetState(ctx, "shop", "v2", catalog.StatePublished, func(*catalog.VersionEntry) error {
		e, err := s.Version(ctx, "shop", "v1")
		if err != nil {
			return err
		}
		e.Description = "changed behind the back"
		_, err = s.PutVersion(ctx, e, nil)
		return err
	})
	if !errors.Is(err, ErrStale) {
		t.Fatalf("SetState over a concurrent write = %v", err)
	}
	if e, _ := s.Version(ctx, "shop", "v1"); e.Description != "changed behind the back" {
		t.Fatalf("the concurrent write was lost: %q", e.Description)
	}

	// Create, replace and delete a version and a plan.
	e, _ := s.Version(ctx, "shop", "v2")
	e.Version, e.BasePath = "v3", "/shop/v3"
	if created, err := s.PutVersion(ctx, e, nil); err != nil || !created {
		t.Fatalf("PutVersion(new) = %v, %v", created, err)
	}
	e.Description = "third"
	if created, err := s.PutVersion(ctx, e, nil); err != nil || created {
		t.Fatalf("PutVersion(replace) = %v, %v", created, err)
	}
	if err := s.DeleteVersion(ctx, "shop", "v1", nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("DeleteVersion(published) = %v", err)
	}
	if err := s.DeleteVersion(ctx, "shop", "v3", nil); err != nil {
		t.Fatal(err)
	}
	if created, err := s.PutPlan(ctx, catalog.PlanEntry{Name: "silver", Limits: []catalog.Limit{}}, nil); err != nil || !created {
		t.Fatalf("PutPlan = %v, %v", created, err)
	}
	if err := s.DeletePlan(ctx, "silver", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PlanEntry(ctx, "silver"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("PlanEntry(deleted) = %v", err)
	}
}
