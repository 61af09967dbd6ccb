package registry

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/store"
)

// memCatalog is a Catalog over maps: version states by "name version",
// and plan names.
type memCatalog struct {
	states map[string]string
	plans  []string
}

func (m memCatalog) VersionState(_ context.Context, name, version string) (string, error) {
	s, ok := m.states[name+" "+version]
	if !ok {
		return "", store.ErrNotFound
	}
	return s, nil
}

func (m memCatalog) PlanExists(_ context.Context, name string) (bool, error) {
	for _, p := range m.plans {
		if p == name {
			return true, nil
		}
	}
	return false, nil
}

var testCatalog = memCatalog{
	states: map[string]string{"shop v1": "published", "shop v2": "published", "shop v0": "deprecated",
		"shop v3": "draft", "old v1": "retired"},
	plans: []string{"gold", "free"},
}

func subFixture(t *testing.T) (*audit.Auditor, *Applications, *Subscriptions, Application) {
	t.Helper()
	db, au, apps := appFixture(t)
	a, err := apps.Create(t.Context(), ApplicationSpec{Name: "Web", ClientID: "web", Owner: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	return au, apps, NewSubscriptions(db, testCatalog, au, func() time.Time { return epoch }), a
}

func TestSubscriptionsService(t *testing.T) {
	au, apps, subs, a := subFixture(t)
	ctx := t.Context()
	s, err := subs.Create(ctx, SubscriptionSpec{ApplicationID: a.ID, API: "shop", Version: "v1", Plan: "gold"})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if !strings.HasPrefix(s.ID, "sub_") || s.State != "active" {
		t.Errorf("Create = %+v, want an active sub_", s)
	}
	if _, err := subs.Create(ctx, SubscriptionSpec{ApplicationID: a.ID, API: "shop", Version: "v1", Plan: "free"}); !errors.Is(err, ErrExists) {
		t.Errorf("a second live subscription: %v, want ErrExists", err)
	}
	s2, err := subs.Create(ctx, SubscriptionSpec{ApplicationID: a.ID, API: "shop", Version: "v2", Plan: "free"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := subs.Get(ctx, s.ID); err != nil || got != s {
		t.Errorf("Get = %+v, %v; want %+v", got, err, s)
	}
	if list, err := subs.List(ctx, SubscriptionFilter{ApplicationID: a.ID, API: "shop"}); err != nil || len(list) != 2 {
		t.Errorf("List = %+v, %v; want both", list, err)
	}
	if list, err := subs.List(ctx, SubscriptionFilter{API: "billing"}); err != nil || len(list) != 0 {
		t.Errorf("List(billing) = %+v, %v; want none", list, err)
	}

	// active ⇄ suspended, then cancelled, which is final.
	for _, step := range []struct {
		to      string
		wantErr any
	}{
		{"suspended", nil}, {"suspended", nil}, {"active", nil}, {"cancelled", nil},
		{"active", new(*RefusedError)}, {"suspended", new(*RefusedError)}, {"cancelled", nil}, {"paused", new(*FieldError)},
	} {
		got, err := subs.SetState(ctx, s.ID, step.to, nil)
		switch {
		case step.wantErr == nil && (err != nil || got.State != step.to):
			t.Fatalf("SetState(%s) = %+v, %v", step.to, got, err)
		case step.wantErr != nil && !errors.As(err, step.wantErr):
			t.Fatalf("SetState(%s): %v, want %T", step.to, err, step.wantErr)
		}
	}
	// The version takes a new subscription once the old one is cancelled.
	s3, err := subs.Create(ctx, SubscriptionSpec{ApplicationID: a.ID, API: "shop", Version: "v1", Plan: "gold"})
	if err != nil {
		t.Fatalf("subscribe again after cancelling: %v", err)
	}

	// check sees the subscription as read; a write in between is caught.
	refuse := errors.New("not yours")
	if _, err := subs.SetState(ctx, s2.ID, "cancelled", func(Subscription) error { return refuse }); err != refuse {
		t.Errorf("SetState refused by check: %v", err)
	}
	_, err = subs.SetState(ctx, s2.ID, "cancelled", func(Subscription) error {
		_, err := subs.SetState(ctx, s2.ID, "suspended", nil)
		return err
	})
	if !errors.Is(err, ErrChanged) {
		t.Errorf("SetState over a concurrent one: %v, want ErrChanged", err)
	}

	// Deleting the application records its subscriptions in before.
	if err := apps.Delete(ctx, a.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := subs.Get(ctx, s3.ID); !errors.Is(err, ErrNotFound) || err.Error() != `no subscription "`+s3.ID+`"` {
		t.Errorf("subscription of a deleted application: %v", err)
	}
	recs := trail(t, au)
	want := []summary{
		{ActionApplicationCreate, "application:" + a.ID, "cli:test", false, true},
		{ActionSubscriptionCreate, "subscription:" + s.ID, "cli:test", false, true},
		{ActionSubscriptionCreate, "subscription:" + s2.ID, "cli:test", false, true},
		{ActionSubscriptionState, "subscription:" + s.ID, "cli:test", true, true},
		{ActionSubscriptionState, "subscription:" + s.ID, "cli:test", true, true},
		{ActionSubscriptionState, "subscription:" + s.ID, "cli:test", true, true},
		{ActionSubscriptionCreate, "subscription:" + s3.ID, "cli:test", false, true},
		{ActionSubscriptionState, "subscription:" + s2.ID, "cli:test", true, true},
		{ActionApplicationDelete, "application:" + a.ID, "cli:test", true, false},
	}
	if d := cmp.Diff(want, summarise(recs)); d != "" {
		t.Errorf("audit trail (-want +got):\n%s", d)
	}
	if b := string(recs[len(recs)-1].Before); !strings.Contains(b, s3.ID) || !strings.Contains(b, `"client_id":"web"`) {
		t.Errorf("application.delete before = %s, want the application and its subscriptions", b)
	}
}

func TestSubscriptionRules(t *testing.T) {
	au, _, subs, a := subFixture(t)
	ctx := t.Context()
	tests := []struct {
		name    string
		spec    SubscriptionSpec
		wantErr any
		reason  string
	}{
		{"unknown application", SubscriptionSpec{ApplicationID: "app_nope", API: "shop", Version: "v1", Plan: "gold"}, &ErrNotFound, ""},
		{"no plan", SubscriptionSpec{ApplicationID: a.ID, API: "shop", Version: "v1"}, new(*FieldError), ""},
		{"unknown version", SubscriptionSpec{ApplicationID: a.ID, API: "shop", Version: "v9", Plan: "gold"}, new(*RefusedError), "no API version shop v9 in the catalog"},
		{"deprecated", SubscriptionSpec{ApplicationID: a.ID, API: "shop", Version: "v0", Plan: "gold"}, new(*RefusedError), "API version shop v0 is deprecated: only published versions take new subscriptions"},
		{"draft", SubscriptionSpec{ApplicationID: a.ID, API: "shop", Version: "v3", Plan: "gold"}, new(*RefusedError), "is draft"},
		{"retired", SubscriptionSpec{ApplicationID: a.ID, API: "old", Version: "v1", Plan: "gold"}, new(*RefusedError), "is retired"},
		{"unknown plan", SubscriptionSpec{ApplicationID: a.ID, API: "shop", Version: "v1", Plan: "platinum"}, new(*RefusedError), `no plan "platinum"`},
	}
	for _, tt := range tests {
		_, err := subs.Create(ctx, tt.spec)
		ok := false
		switch w := tt.wantErr.(type) {
		case *error:
			ok = errors.Is(err, *w)
		default:
			ok = errors.As(err, w)
		}
		if !ok || !strings.Contains(errString(err), tt.reason) {
			t.Errorf("%s: %v, want %T saying %q", tt.name, err, tt.wantErr, tt.reason)
		}
	}
	if n := len(trail(t, au)); n != 1 {
		t.Errorf("%d audit records, want only the application's", n)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestStoredCatalog(t *testing.T) {
	db := openStore(t)
	ctx := t.Context()
	v := store.APIVersion{Name: "shop", Version: "v1", BasePath: "/shop/v1", Upstream: "http://127.0.0.1:1", Entry: []byte("{}"), State: "published"}
	if err := db.CreateAPIVersion(ctx, v); err != nil {
		t.Fatal(err)
	}
	p := store.Plan{Name: "gold", Limits: []byte("[]")}
	if err := testAuditor(db).Apply(ctx, audit.Record{Action: "catalog.apply", Target: audit.Target{Type: "catalog"}}, store.CreatePlanChange(p)); err != nil {
		t.Fatal(err)
	}
	c := StoredCatalog{Store: db, FilePlans: func() []string { return []string{"file-gold"} }}
	if s, err := c.VersionState(ctx, "shop", "v1"); err != nil || s != "published" {
		t.Errorf("VersionState = %q, %v", s, err)
	}
	if _, err := c.VersionState(ctx, "shop", "v9"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("VersionState of an absent version: %v", err)
	}
	for plan, want := range map[string]bool{"file-gold": true, "gold": true, "nope": false} {
		if got, err := c.PlanExists(ctx, plan); err != nil || got != want {
			t.Errorf("PlanExists(%s) = %t, %v; want %t", plan, got, err, want)
		}
	}
}
