package store

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The application tests run on both dialects here, beside the main
// contract table (contract_test.go), with the same fresh databases.

func fullApplication(id, clientID, owner string) Application {
	return Application{
		ID: id, Name: "App " + id, ClientID: clientID, Owner: owner, Team: "team-shop",
		Environment: EnvironmentProduction, Description: "Sells things", CreatedAt: base, UpdatedAt: base.Add(1),
	}
}

func fullSubscription(id, appID, api, version string) Subscription {
	return Subscription{
		ID: id, ApplicationID: appID, API: api, Version: version, Plan: "gold",
		State: SubscriptionActive, CreatedAt: base, UpdatedAt: base.Add(1),
	}
}

// utcApp and utcSub are the values as read back: times in UTC.
func utcApp(a Application) Application {
	a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	return a
}

func utcSub(s Subscription) Subscription {
	s.CreatedAt, s.UpdatedAt = s.CreatedAt.UTC(), s.UpdatedAt.UTC()
	return s
}

// audited applies changes with one audit record, as audit.Auditor does.
func audited(ctx context.Context, db *DB, changes ...Change) error {
	_, err := db.AppendAudit(ctx, testSeal(base, "application.test", "app"), changes...)
	return err
}

func applicationTests() []contractTest {
	ctx := context.Background()
	return []contractTest{
		{"applications/round trip and conditional writes", func(t *testing.T, db *DB) {
			mustNil(t, "CreateClient", db.CreateClient(ctx, fullClient("web")))
			mustNil(t, "CreateClient", db.CreateClient(ctx, fullClient("cli")))
			a := fullApplication("app_1", "web", "alice")
			mustNil(t, "create", audited(ctx, db, CreateApplicationChange(a)))
			b := fullApplication("app_2", "cli", "bob")
			b.Team, b.Description, b.Environment = "", "", EnvironmentSandbox
			mustNil(t, "create", audited(ctx, db, CreateApplicationChange(b)))

			got, err := db.GetApplication(ctx, "app_1")
			mustNil(t, "GetApplication", err)
			if d := cmp.Diff(utcApp(a), got); d != "" {
				t.Fatalf("GetApplication (-want +got):\n%s", d)
			}
			got, err = db.GetApplicationByClient(ctx, "cli")
			mustNil(t, "GetApplicationByClient", err)
			if d := cmp.Diff(utcApp(b), got); d != "" {
				t.Fatalf("GetApplicationByClient (-want +got):\n%s", d)
			}
			for _, tc := range []struct {
				owner string
				want  []Application
			}{
				{"", []Application{utcApp(a), utcApp(b)}},
				{"bob", []Application{utcApp(b)}},
				{"carol", nil},
				{"bad\x00", nil},
			} {
				list, err := db.ListApplications(ctx, tc.owner)
				mustNil(t, "ListApplications", err)
				if d := cmp.Diff(tc.want, list); d != "" {
					t.Errorf("ListApplications(%q) (-want +got):\n%s", tc.owner, d)
				}
			}

			// An update planned on a stale read is refused; the client stays.
			prev := a.UpdatedAt
			a.Name, a.Owner, a.ClientID, a.UpdatedAt = "Renamed", "carol", "cli", base.Add(2)
			wantErr(t, "update at a stale version", audited(ctx, db, UpdateApplicationChange(a, base)), ErrChanged)
			mustNil(t, "update", audited(ctx, db, UpdateApplicationChange(a, prev)))
			wantErr(t, "the same update again", audited(ctx, db, UpdateApplicationChange(a, prev)), ErrChanged)
			got, err = db.GetApplication(ctx, "app_1")
			mustNil(t, "GetApplication", err)
			a.ClientID = "web"
			if d := cmp.Diff(utcApp(a), got); d != "" {
				t.Fatalf("after update (-want +got):\n%s", d)
			}
			wantErr(t, "update absent", audited(ctx, db, UpdateApplicationChange(fullApplication("app_9", "web", "x"), base)), ErrNotFound)
			wantErr(t, "delete at a stale version", audited(ctx, db, DeleteApplicationChange("app_1", prev)), ErrChanged)
			mustNil(t, "delete", audited(ctx, db, DeleteApplicationChange("app_1", a.UpdatedAt)))
			wantErr(t, "delete again", audited(ctx, db, DeleteApplicationChange("app_1", a.UpdatedAt)), ErrNotFound)
			_, err = db.GetApplication(ctx, "app_1")
			wantErr(t, "GetApplication after delete", err, ErrNotFound)
			_, err = db.GetApplicationByClient(ctx, "web")
			wantErr(t, "GetApplicationByClient after delete", err, ErrNotFound)
			// Only the successful writes were recorded.
			checkChain(t, db, 4)
		}},
		{"applications/refused writes", func(t *testing.T, db *DB) {
			mustNil(t, "CreateClient", db.CreateClient(ctx, fullClient("web")))
			mustNil(t, "create", audited(ctx, db, CreateApplicationChange(fullApplication("app_1", "web", "alice"))))
			wantErr(t, "a second application of the client", audited(ctx, db, CreateApplicationChange(fullApplication("app_2", "web", "alice"))), ErrConflict)
			wantErr(t, "an id taken", audited(ctx, db, CreateApplicationChange(fullApplication("app_1", "web", "bob"))), ErrConflict)
			wantErr(t, "a client that does not exist", audited(ctx, db, CreateApplicationChange(fullApplication("app_3", "nope", "alice"))), ErrNotFound)
			bad := fullApplication("app_4", "web", "alice")
			bad.Environment = "staging"
			wantErr(t, "unknown environment", audited(ctx, db, CreateApplicationChange(bad)), ErrInvalid)
			bad = fullApplication("app_4", "web", "")
			wantErr(t, "no owner", audited(ctx, db, CreateApplicationChange(bad)), ErrInvalid)
			_, err := db.GetApplication(ctx, "bad\x00")
			wantErr(t, "GetApplication of an impossible id", err, ErrNotFound)
			checkChain(t, db, 1)
		}},
		{"subscriptions/one live subscription per version", func(t *testing.T, db *DB) {
			mustNil(t, "CreateClient", db.CreateClient(ctx, fullClient("web")))
			mustNil(t, "CreateClient", db.CreateClient(ctx, fullClient("cli")))
			mustNil(t, "create", audited(ctx, db, CreateApplicationChange(fullApplication("app_1", "web", "alice")),
				CreateApplicationChange(fullApplication("app_2", "cli", "bob"))))
			s1 := fullSubscription("sub_1", "app_1", "shop", "v1")
			s2 := fullSubscription("sub_2", "app_1", "shop", "v2")
			s3 := fullSubscription("sub_3", "app_2", "shop", "v1")
			s4 := fullSubscription("sub_4", "app_1", "billing", "v1")
			mustNil(t, "create", audited(ctx, db, CreateSubscriptionChange(s1), CreateSubscriptionChange(s2),
				CreateSubscriptionChange(s3), CreateSubscriptionChange(s4)))

			got, err := db.GetSubscription(ctx, "sub_1")
			mustNil(t, "GetSubscription", err)
			if d := cmp.Diff(utcSub(s1), got); d != "" {
				t.Fatalf("GetSubscription (-want +got):\n%s", d)
			}
			for _, tc := range []struct {
				f    SubscriptionFilter
				want []Subscription
			}{
				{SubscriptionFilter{}, []Subscription{utcSub(s1), utcSub(s2), utcSub(s3), utcSub(s4)}},
				{SubscriptionFilter{ApplicationID: "app_1"}, []Subscription{utcSub(s1), utcSub(s2), utcSub(s4)}},
				{SubscriptionFilter{API: "shop"}, []Subscription{utcSub(s1), utcSub(s2), utcSub(s3)}},
				{SubscriptionFilter{ApplicationID: "app_1", API: "billing"}, []Subscription{utcSub(s4)}},
				{SubscriptionFilter{ApplicationID: "app_9"}, nil},
			} {
				list, err := db.ListSubscriptions(ctx, tc.f)
				mustNil(t, "ListSubscriptions", err)
				if d := cmp.Diff(tc.want, list); d != "" {
					t.Errorf("ListSubscriptions(%+v) (-want +got):\n%s", tc.f, d)
				}
			}

			again := fullSubscription("sub_5", "app_1", "shop", "v1")
			wantErr(t, "a second live subscription", audited(ctx, db, CreateSubscriptionChange(again)), ErrConflict)
			wantErr(t, "an application that does not exist", audited(ctx, db, CreateSubscriptionChange(fullSubscription("sub_6", "app_9", "shop", "v1"))), ErrNotFound)

			// Suspended is still live; cancelled makes room for a new one.
			at := base.Add(time.Second)
			mustNil(t, "suspend", audited(ctx, db, SetSubscriptionStateChange("sub_1", SubscriptionSuspended, at, s1.UpdatedAt)))
			wantErr(t, "a second subscription beside a suspended one", audited(ctx, db, CreateSubscriptionChange(again)), ErrConflict)
			wantErr(t, "a state change at a stale version", audited(ctx, db, SetSubscriptionStateChange("sub_1", SubscriptionActive, at, s1.UpdatedAt)), ErrChanged)
			mustNil(t, "cancel", audited(ctx, db, SetSubscriptionStateChange("sub_1", SubscriptionCancelled, at.Add(1), at)))
			mustNil(t, "subscribe again", audited(ctx, db, CreateSubscriptionChange(again)))
			wantErr(t, "the cancelled one back beside the new one", audited(ctx, db, SetSubscriptionStateChange("sub_1", SubscriptionActive, at.Add(2), at.Add(1))), ErrConflict)
			wantErr(t, "absent", audited(ctx, db, SetSubscriptionStateChange("sub_9", SubscriptionActive, at, at)), ErrNotFound)
			wantErr(t, "unknown state", audited(ctx, db, SetSubscriptionStateChange("sub_1", "paused", at, at)), ErrInvalid)
			got, err = db.GetSubscription(ctx, "sub_1")
			mustNil(t, "GetSubscription", err)
			if got.State != SubscriptionCancelled || !got.UpdatedAt.Equal(at.Add(1)) {
				t.Errorf("sub_1 = %s at %v, want cancelled at %v", got.State, got.UpdatedAt, at.Add(1))
			}
			checkChain(t, db, 5)
		}},
		{"applications/deletes cascade: client to application to subscriptions", func(t *testing.T, db *DB) {
			mustNil(t, "CreateClient", db.CreateClient(ctx, fullClient("web")))
			mustNil(t, "CreateClient", db.CreateClient(ctx, fullClient("cli")))
			a1, a2 := fullApplication("app_1", "web", "alice"), fullApplication("app_2", "cli", "alice")
			mustNil(t, "create", audited(ctx, db, CreateApplicationChange(a1), CreateApplicationChange(a2),
				CreateSubscriptionChange(fullSubscription("sub_1", "app_1", "shop", "v1")),
				CreateSubscriptionChange(fullSubscription("sub_2", "app_2", "shop", "v1"))))
			mustNil(t, "delete application", audited(ctx, db, DeleteApplicationChange("app_1", a1.UpdatedAt)))
			_, err := db.GetSubscription(ctx, "sub_1")
			wantErr(t, "subscription of a deleted application", err, ErrNotFound)
			// A client deleted (as DeleteClientChange does) takes its
			// application along: the same client id registered again
			// must not inherit it.
			mustNil(t, "DeleteClient", db.DeleteClient(ctx, "cli"))
			_, err = db.GetApplication(ctx, "app_2")
			wantErr(t, "application of a deleted client", err, ErrNotFound)
			list, err := db.ListSubscriptions(ctx, SubscriptionFilter{})
			mustNil(t, "ListSubscriptions", err)
			if len(list) != 0 {
				t.Errorf("subscriptions left after the deletes: %+v", list)
			}
		}},
	}
}
