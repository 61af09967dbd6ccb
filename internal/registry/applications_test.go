package registry

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/store"
)

// appFixture is a store with the clients web, cli and spa and the
// services over it; the clock stands still, as updated_at must still
// move with every write.
func appFixture(t *testing.T) (*store.DB, *audit.Auditor, *Applications) {
	t.Helper()
	db := openStore(t)
	for _, id := range []string{"web", "cli", "spa"} {
		if err := db.CreateClient(t.Context(), store.Client{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	a := testAuditor(db)
	clients := NewClients(db, a, nil, func() time.Time { return epoch })
	return db, a, NewApplications(db, clients, a, func() time.Time { return epoch })
}

func ptr(s string) *string { return &s }

func TestApplicationsService(t *testing.T) {
	_, au, apps := appFixture(t)
	ctx := audit.WithActor(t.Context(), audit.Actor{Kind: audit.KindUser, Subject: "alice", Roles: []string{"admin:developer"}})

	a, err := apps.Create(ctx, ApplicationSpec{Name: "Web shop", ClientID: "web", Owner: "alice", Team: "team-shop"})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if !strings.HasPrefix(a.ID, "app_") || len(a.ID) != len("app_")+26 || a.Environment != "sandbox" {
		t.Errorf("Create = %+v, want a server-made app_ id and the sandbox by default", a)
	}
	b, err := apps.Create(ctx, ApplicationSpec{Name: "CLI", ClientID: "cli", Owner: "bob", Environment: "production"})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := apps.Create(ctx, ApplicationSpec{Name: "Again", ClientID: "web", Owner: "bob"}); !errors.Is(err, ErrExists) ||
		err.Error() != `client "web" already has an application` {
		t.Errorf("second application of a client: %v, want ErrExists naming the client", err)
	}

	if got, err := apps.Get(ctx, a.ID); err != nil || got != a {
		t.Errorf("Get = %+v, %v; want %+v", got, err, a)
	}
	if got, err := apps.GetByClient(ctx, "cli"); err != nil || got != b {
		t.Errorf("GetByClient = %+v, %v; want %+v", got, err, b)
	}
	if _, err := apps.Get(ctx, "app_nope"); !errors.Is(err, ErrNotFound) || err.Error() != `no application "app_nope"` {
		t.Errorf("Get of an unknown id: %v", err)
	}
	if list, err := apps.List(ctx, "bob"); err != nil || len(list) != 1 || list[0] != b {
		t.Errorf("List(bob) = %+v, %v", list, err)
	}
	if list, err := apps.List(ctx, ""); err != nil || len(list) != 2 {
		t.Errorf("List() = %+v, %v; want both", list, err)
	}

	// check sees the application as read and may refuse.
	refuse := errors.New("not yours")
	if _, err := apps.Update(ctx, a.ID, ApplicationPatch{Name: ptr("x")}, func(Application) error { return refuse }); err != refuse {
		t.Errorf("Update refused by check: %v", err)
	}
	u, err := apps.Update(ctx, a.ID, ApplicationPatch{Name: ptr("Web shop 2"), Environment: ptr("production"), Team: ptr("")},
		func(got Application) error {
			if got != a {
				t.Errorf("check saw %+v, want %+v", got, a)
			}
			return nil
		})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if u.Name != "Web shop 2" || u.Environment != "production" || u.Team != "" || u.ClientID != "web" || !u.UpdatedAt.After(a.UpdatedAt) {
		t.Errorf("Update = %+v", u)
	}
	if same, err := apps.Update(ctx, a.ID, ApplicationPatch{Name: ptr("Web shop 2")}, nil); err != nil || same != u {
		t.Errorf("an update that changes nothing = %+v, %v; want the application as it was", same, err)
	}
	if err := apps.Delete(ctx, a.ID, func(Application) error { return refuse }); err != refuse {
		t.Errorf("Delete refused by check: %v", err)
	}
	if err := apps.Delete(ctx, a.ID, nil); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := apps.Delete(ctx, a.ID, nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("Delete again: %v, want ErrNotFound", err)
	}

	want := []summary{
		{ActionApplicationCreate, "application:" + a.ID, "user:alice", false, true},
		{ActionApplicationCreate, "application:" + b.ID, "user:alice", false, true},
		{ActionApplicationUpdate, "application:" + a.ID, "user:alice", true, true},
		{ActionApplicationDelete, "application:" + a.ID, "user:alice", true, false},
	}
	recs := trail(t, au)
	if d := cmp.Diff(want, summarise(recs)); d != "" {
		t.Errorf("audit trail (-want +got):\n%s", d)
	}
	var before Application
	if err := json.Unmarshal(recs[2].Before, &before); err != nil || before != a {
		t.Errorf("update's before = %s (%v), want the application as it was", recs[2].Before, err)
	}
}

func TestApplicationRules(t *testing.T) {
	_, au, apps := appFixture(t)
	ctx := t.Context()
	tests := []struct {
		name  string
		spec  ApplicationSpec
		field string
	}{
		{"no name", ApplicationSpec{ClientID: "web", Owner: "a"}, "name"},
		{"blank name", ApplicationSpec{Name: "   ", ClientID: "web", Owner: "a"}, "name"},
		{"long name", ApplicationSpec{Name: strings.Repeat("é", 101), ClientID: "web", Owner: "a"}, "name"},
		{"control in name", ApplicationSpec{Name: "a\nb", ClientID: "web", Owner: "a"}, "name"},
		{"no owner", ApplicationSpec{Name: "A", ClientID: "web"}, "owner"},
		{"owner with a space", ApplicationSpec{Name: "A", ClientID: "web", Owner: "a b"}, "owner"},
		{"team with a control", ApplicationSpec{Name: "A", ClientID: "web", Owner: "a", Team: "t\x1b"}, "team"},
		{"unknown environment", ApplicationSpec{Name: "A", ClientID: "web", Owner: "a", Environment: "staging"}, "environment"},
		{"no client", ApplicationSpec{Name: "A", Owner: "a"}, "client_id"},
		{"unknown client", ApplicationSpec{Name: "A", ClientID: "nope", Owner: "a"}, "client_id"},
		{"long description", ApplicationSpec{Name: "A", ClientID: "web", Owner: "a", Description: strings.Repeat("x", 1001)}, "description"},
	}
	for _, tt := range tests {
		_, err := apps.Create(ctx, tt.spec)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tt.field {
			t.Errorf("%s: error %v, want a *FieldError on %s", tt.name, err, tt.field)
		}
	}
	// A 100-character name of any script is fine.
	if _, err := apps.Create(ctx, ApplicationSpec{Name: strings.Repeat("é", 100), ClientID: "web", Owner: "a"}); err != nil {
		t.Errorf("a 100-character name: %v", err)
	}
	a, _ := apps.GetByClient(ctx, "web")
	if _, err := apps.Update(ctx, a.ID, ApplicationPatch{Environment: ptr("staging")}, nil); !errors.As(err, new(*FieldError)) {
		t.Errorf("Update to an unknown environment: %v, want a *FieldError", err)
	}
	if n := len(trail(t, au)); n != 1 {
		t.Errorf("%d audit records, want 1: refused writes are not recorded", n)
	}
}

// TestApplicationWritesAreConditional: a write planned on a read does not
// overwrite a change made after that read.
func TestApplicationWritesAreConditional(t *testing.T) {
	_, _, apps := appFixture(t)
	ctx := t.Context()
	a, err := apps.Create(ctx, ApplicationSpec{Name: "A", ClientID: "web", Owner: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	// Someone else's update lands between the read (check) and the write.
	_, err = apps.Update(ctx, a.ID, ApplicationPatch{Name: ptr("mine")}, func(Application) error {
		_, err := apps.Update(ctx, a.ID, ApplicationPatch{Name: ptr("theirs")}, nil)
		return err
	})
	if !errors.Is(err, ErrChanged) {
		t.Fatalf("Update over a concurrent one: %v, want ErrChanged", err)
	}
	err = apps.Delete(ctx, a.ID, func(Application) error {
		_, err := apps.Update(ctx, a.ID, ApplicationPatch{Owner: ptr("bob")}, nil)
		return err
	})
	if !errors.Is(err, ErrChanged) {
		t.Fatalf("Delete over a concurrent update: %v, want ErrChanged", err)
	}
	if got, _ := apps.Get(ctx, a.ID); got.Name != "theirs" || got.Owner != "bob" {
		t.Errorf("application = %+v, want the concurrent writes kept", got)
	}
}

// TestDeletingTheClientDeletesTheApplication: the application goes with
// its client, so a client registered again under the same id starts
// without one.
func TestDeletingTheClientDeletesTheApplication(t *testing.T) {
	db, au, apps := appFixture(t)
	ctx := t.Context()
	a, err := apps.Create(ctx, ApplicationSpec{Name: "A", ClientID: "web", Owner: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	clients := NewClients(db, au, nil, nil)
	if err := clients.Delete(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	if _, err := apps.Get(ctx, a.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("application after its client was deleted: %v, want ErrNotFound", err)
	}
	if err := db.CreateClient(ctx, store.Client{ID: "web"}); err != nil {
		t.Fatal(err)
	}
	if _, err := apps.GetByClient(ctx, "web"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a new client of the same id inherited an application: %v", err)
	}
}

// memClients is a ClientLookup over a map, for a lookup that fails.
type memClients struct{ err error }

func (m memClients) Get(context.Context, string) (store.Client, error) { return store.Client{}, m.err }

func TestApplicationCreateReportsALookupFailure(t *testing.T) {
	db := openStore(t)
	boom := errors.New("store down")
	apps := NewApplications(db, memClients{boom}, testAuditor(db), nil)
	if _, err := apps.Create(t.Context(), ApplicationSpec{Name: "A", ClientID: "web", Owner: "a"}); !errors.Is(err, boom) {
		t.Errorf("Create: %v, want the lookup's error", err)
	}
}
