package admin

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/registry"
	"github.com/portcullis/portcullis/internal/store"
)

// The application fixture: clients c1 to c4; app_svc (client c1) owned by
// svc, the subject of every role token of the harness, and app_bob
// (client c2) owned by bob; each subscribed to shop v2 under gold
// (sub_svc, sub_bob). c3 and c4 have no application.
func init() {
	testParts = append(testParts, func(t *testing.T, o *Options) {
		o.Applications, o.Subscriptions, _ = newAppServices(t)
	})
	testParams["{app_id}"] = "app_svc"
	testParams["{sub_id}"] = "sub_svc"
	testBodies["ApplicationRequest"] = `{"name":"New app","client_id":"c3"}`
	testBodies["ApplicationPatch"] = `{"description":"changed"}`
	testBodies["SubscriptionRequest"] = `{"application_id":"app_svc","api":"billing","version":"v1","plan":"gold"}`
	// Cancelling is the one move every role of the route may make.
	testBodies["SubscriptionStateRequest"] = `{"state":"cancelled"}`
}

// fixedCatalog is the catalog the subscription tests see: shop v2 and
// billing v1 published, shop v1 a draft; the plan gold.
type fixedCatalog struct{}

func (fixedCatalog) VersionState(_ context.Context, name, version string) (string, error) {
	switch name + " " + version {
	case "shop v2", "billing v1":
		return "published", nil
	case "shop v1":
		return "draft", nil
	}
	return "", store.ErrNotFound
}

func (fixedCatalog) PlanExists(_ context.Context, name string) (bool, error) {
	return name == "gold", nil
}

// newAppServices returns the real registry services over a fresh store
// holding the fixture, and the audit trail they write to (without a
// default actor, as the admin API's).
func newAppServices(t *testing.T) (*registry.Applications, *registry.Subscriptions, *audit.Auditor) {
	t.Helper()
	ctx := t.Context()
	db, err := store.Open(ctx, ":memory:", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"c1", "c2", "c3", "c4"} {
		if err := db.CreateClient(ctx, store.Client{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	seed := audit.New(db, nil).WithDefaultActor(audit.Actor{Kind: audit.KindCLI, Subject: "fixture"})
	var changes []store.Change
	for _, f := range []struct{ owner, client string }{{"svc", "c1"}, {"bob", "c2"}} {
		changes = append(changes,
			store.CreateApplicationChange(store.Application{ID: "app_" + f.owner, Name: "App of " + f.owner, ClientID: f.client,
				Owner: f.owner, Environment: store.EnvironmentSandbox, CreatedAt: at, UpdatedAt: at}),
			store.CreateSubscriptionChange(store.Subscription{ID: "sub_" + f.owner, ApplicationID: "app_" + f.owner,
				API: "shop", Version: "v2", Plan: "gold", State: store.SubscriptionActive, CreatedAt: at, UpdatedAt: at}))
	}
	if err := seed.Apply(ctx, audit.Record{Action: "fixture.seed", Target: audit.Target{Type: "fixture"}}, changes...); err != nil {
		t.Fatal(err)
	}
	au := audit.New(db, nil)
	apps := registry.NewApplications(db, registry.NewClients(db, au, nil, nil), au, nil)
	return apps, registry.NewSubscriptions(db, fixedCatalog{}, au, nil), au
}

// newAppAPI is the admin API over the application fixture, with the
// harness's role tokens plus: bob (developer), and svc as developer and
// auditor, and as developer and publisher.
func newAppAPI(t *testing.T) (*httptest.Server, *audit.Auditor) {
	t.Helper()
	v := roleTokens()
	v["tok-bob"] = Principal{Subject: "bob", ClientID: "console", Scopes: []string{string(RoleDeveloper)}}
	v["tok-dev-auditor"] = Principal{Subject: "svc", ClientID: "svc", Scopes: []string{string(RoleDeveloper), string(RoleAuditor)}}
	v["tok-dev-publisher"] = Principal{Subject: "svc", ClientID: "svc", Scopes: []string{string(RoleDeveloper), string(RolePublisher)}}
	apps, subs, au := newAppServices(t)
	mux := http.NewServeMux()
	New(Options{Token: breakGlassToken, Verifier: v, Applications: apps, Subscriptions: subs}).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, au
}

const (
	dev       = "tok-admin:developer"
	auditor   = "tok-admin:auditor"
	approver  = "tok-admin:approver"
	publisher = "tok-admin:publisher"
	platform  = "tok-admin:platform"
)

// ids lists the ids of a page of applications or subscriptions.
func ids(t *testing.T, body string) []string {
	t.Helper()
	var p Page[struct {
		ID string `json:"id"`
	}]
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	var out []string
	for _, x := range p.Items {
		out = append(out, x.ID)
	}
	return out
}

func TestApplicationListsByRole(t *testing.T) {
	srv, _ := newAppAPI(t)
	tests := []struct {
		tok, path string
		want      []string
	}{
		{dev, "/admin/v1/applications", []string{"app_svc"}},
		{dev, "/admin/v1/applications?owner=bob", nil},
		{"tok-bob", "/admin/v1/applications", []string{"app_bob"}},
		{auditor, "/admin/v1/applications", []string{"app_bob", "app_svc"}},
		{auditor, "/admin/v1/applications?owner=bob", []string{"app_bob"}},
		{breakGlassToken, "/admin/v1/applications", []string{"app_bob", "app_svc"}},
		{dev, "/admin/v1/subscriptions", []string{"sub_svc"}},
		{dev, "/admin/v1/subscriptions?application=app_bob", nil},
		{"tok-bob", "/admin/v1/subscriptions?api=shop", []string{"sub_bob"}},
		{approver, "/admin/v1/subscriptions", []string{"sub_bob", "sub_svc"}},
		{publisher, "/admin/v1/subscriptions?application=app_bob", []string{"sub_bob"}},
		{auditor, "/admin/v1/subscriptions?api=billing", nil},
	}
	for _, tt := range tests {
		resp, body := call(t, srv, "GET", tt.path, tt.tok, "", nil)
		if resp.StatusCode != 200 {
			t.Errorf("%s %s: %d %s", tt.tok, tt.path, resp.StatusCode, body)
			continue
		}
		if got := ids(t, body); !slices.Equal(got, tt.want) {
			t.Errorf("%s %s = %v, want %v", tt.tok, tt.path, got, tt.want)
		}
	}
	// Pages follow the ids.
	_, body := call(t, srv, "GET", "/admin/v1/applications?limit=1", auditor, "", nil)
	var p Page[registry.Application]
	if err := json.Unmarshal([]byte(body), &p); err != nil || len(p.Items) != 1 || p.Next == "" {
		t.Fatalf("first page %s (%v)", body, err)
	}
	if _, body = call(t, srv, "GET", "/admin/v1/applications?limit=1&cursor="+p.Next, auditor, "", nil); !slices.Equal(ids(t, body), []string{"app_svc"}) {
		t.Errorf("second page %s", body)
	}
}

// TestAnotherOwnersObjectIsNotFound: to a developer, another owner's
// application or subscription answers exactly as one that does not
// exist, whatever the method.
func TestAnotherOwnersObjectIsNotFound(t *testing.T) {
	srv, _ := newAppAPI(t)
	tests := []struct {
		method, path, absentPath, body string
	}{
		{"GET", "/admin/v1/applications/app_bob", "/admin/v1/applications/app_nope", ""},
		{"PATCH", "/admin/v1/applications/app_bob", "/admin/v1/applications/app_nope", `{"name":"mine"}`},
		{"DELETE", "/admin/v1/applications/app_bob", "/admin/v1/applications/app_nope", ""},
		{"GET", "/admin/v1/subscriptions/sub_bob", "/admin/v1/subscriptions/sub_nope", ""},
		{"POST", "/admin/v1/subscriptions/sub_bob/state", "/admin/v1/subscriptions/sub_nope/state", `{"state":"cancelled"}`},
		{"POST", "/admin/v1/subscriptions", "/admin/v1/subscriptions", `{"application_id":"app_bob","api":"billing","version":"v1","plan":"gold"}`},
	}
	for _, tt := range tests {
		resp, got := call(t, srv, tt.method, tt.path, dev, tt.body, map[string]string{"If-Match": `"stale"`})
		absentBody := strings.ReplaceAll(strings.ReplaceAll(tt.body, "app_bob", "app_nope"), "sub_bob", "sub_nope")
		_, absent := call(t, srv, tt.method, tt.absentPath, dev, absentBody, nil)
		if resp.StatusCode != 404 {
			t.Errorf("%s %s: %d %s, want 404", tt.method, tt.path, resp.StatusCode, got)
			continue
		}
		var p, q Problem
		if json.Unmarshal([]byte(got), &p) != nil || json.Unmarshal([]byte(absent), &q) != nil {
			t.Fatalf("not problems: %s / %s", got, absent)
		}
		p.RequestID, q.RequestID = "", ""
		p.Detail = strings.NewReplacer("app_bob", "app_nope", "sub_bob", "sub_nope").Replace(p.Detail)
		if p != q {
			t.Errorf("%s %s answers %+v, an absent one %+v: they must not be told apart", tt.method, tt.path, p, q)
		}
	}
	// Nothing of bob's changed.
	_, body := call(t, srv, "GET", "/admin/v1/subscriptions/sub_bob", "tok-bob", "", nil)
	if !strings.Contains(body, `"state":"active"`) {
		t.Errorf("bob's subscription after the attempts: %s", body)
	}
	if resp, _ := call(t, srv, "GET", "/admin/v1/applications/app_bob", "tok-bob", "", nil); resp.StatusCode != 200 {
		t.Errorf("bob's application after the attempts: %d", resp.StatusCode)
	}
}

func TestApplicationWritesByRole(t *testing.T) {
	srv, au := newAppAPI(t)
	steps := []struct {
		name, tok, method, path, body string
		want                          int
		wantBody                      string
	}{
		{"a developer owns what they create", dev, "POST", "/admin/v1/applications", `{"name":"Mine","client_id":"c3"}`, 201, `"owner":"svc"`},
		{"a developer may not name another owner", "tok-bob", "POST", "/admin/v1/applications", `{"name":"Theirs","client_id":"c4","owner":"svc"}`, 403, "platform administrator"},
		{"a platform administrator may", platform, "POST", "/admin/v1/applications", `{"name":"Theirs","client_id":"c4","owner":"carol","environment":"production"}`, 201, `"owner":"carol"`},
		{"one application per client", platform, "POST", "/admin/v1/applications", `{"name":"Again","client_id":"c1"}`, 409, `client \"c1\" already has an application`},
		{"an unknown client", dev, "POST", "/admin/v1/applications", `{"name":"X","client_id":"nope"}`, 400, `invalid client_id`},
		{"a bad environment", dev, "POST", "/admin/v1/applications", `{"name":"X","client_id":"c4","environment":"staging"}`, 400, `invalid environment`},
		{"an unknown field", dev, "POST", "/admin/v1/applications", `{"name":"X","client_id":"c4","secret":"y"}`, 400, ""},
		{"a developer changes their own", dev, "PATCH", "/admin/v1/applications/app_svc", `{"team":"team-shop","environment":"production"}`, 200, `"team":"team-shop"`},
		{"but not its owner", dev, "PATCH", "/admin/v1/applications/app_svc", `{"owner":"bob"}`, 403, "platform administrator"},
		{"an auditor-developer reads another's but may not change it", "tok-dev-auditor", "PATCH", "/admin/v1/applications/app_bob", `{"name":"x"}`, 403, ""},
		{"a platform administrator gives it away", platform, "PATCH", "/admin/v1/applications/app_bob", `{"owner":"carol"}`, 200, `"owner":"carol"`},
		{"auditors change nothing", auditor, "PATCH", "/admin/v1/applications/app_svc", `{"name":"x"}`, 403, ""},

		{"a draft version takes no subscription", dev, "POST", "/admin/v1/subscriptions", `{"application_id":"app_svc","api":"shop","version":"v1","plan":"gold"}`, 422, "only published versions"},
		{"an unknown plan", dev, "POST", "/admin/v1/subscriptions", `{"application_id":"app_svc","api":"billing","version":"v1","plan":"tin"}`, 422, `no plan`},
		{"a second live subscription", dev, "POST", "/admin/v1/subscriptions", `{"application_id":"app_svc","api":"shop","version":"v2","plan":"gold"}`, 409, "already has a live subscription"},
		{"a developer subscribes their own", dev, "POST", "/admin/v1/subscriptions", `{"application_id":"app_svc","api":"billing","version":"v1","plan":"gold"}`, 201, `"state":"active"`},
		{"a developer may not suspend", dev, "POST", "/admin/v1/subscriptions/sub_svc/state", `{"state":"suspended"}`, 403, "approvers"},
		{"a publisher-developer may not cancel another's", "tok-dev-publisher", "POST", "/admin/v1/subscriptions/sub_bob/state", `{"state":"cancelled"}`, 403, ""},
		{"an approver suspends", approver, "POST", "/admin/v1/subscriptions/sub_svc/state", `{"state":"suspended"}`, 200, `"state":"suspended"`},
		{"the owner may not resume it", dev, "POST", "/admin/v1/subscriptions/sub_svc/state", `{"state":"active"}`, 403, ""},
		{"an approver resumes", approver, "POST", "/admin/v1/subscriptions/sub_svc/state", `{"state":"active"}`, 200, `"state":"active"`},
		{"an unknown state", approver, "POST", "/admin/v1/subscriptions/sub_svc/state", `{"state":"paused"}`, 400, "invalid state"},
		{"the owner cancels", dev, "POST", "/admin/v1/subscriptions/sub_svc/state", `{"state":"cancelled"}`, 200, `"state":"cancelled"`},
		{"cancelled is final", platform, "POST", "/admin/v1/subscriptions/sub_svc/state", `{"state":"active"}`, 422, "final"},
		{"publishers change no state", publisher, "POST", "/admin/v1/subscriptions/sub_bob/state", `{"state":"cancelled"}`, 403, ""},
		{"a developer deletes their own", dev, "DELETE", "/admin/v1/applications/app_svc", "", 204, ""},
		{"its subscriptions went with it", platform, "GET", "/admin/v1/subscriptions?application=app_svc", "", 200, `"items":[]`},
	}
	for _, s := range steps {
		resp, body := call(t, srv, s.method, s.path, s.tok, s.body, nil)
		if resp.StatusCode != s.want || !strings.Contains(body, s.wantBody) {
			t.Fatalf("%s: %d %s, want %d with %s", s.name, resp.StatusCode, body, s.want, s.wantBody)
		}
		if resp.StatusCode == 403 && !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
			t.Errorf("%s: 403 without an insufficient_scope challenge", s.name)
		}
	}
	// Every write names its caller.
	recs, _, err := au.List(t.Context(), audit.Filter{}, 1, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.Action+" by "+r.Actor.Subject)
	}
	want := []string{
		"application.create by svc", "application.create by svc", "application.update by svc", "application.update by svc",
		"subscription.create by svc", "subscription.state by svc", "subscription.state by svc", "subscription.state by svc",
		"application.delete by svc",
	}
	// The platform token is svc too; the approver's and the owner's
	// moves are told apart by roles.
	if !slices.Equal(got, want) {
		t.Errorf("audit trail = %v, want %v", got, want)
	}
	if r := recs[5]; !slices.Equal(r.Actor.Roles, []string{string(RoleApprover)}) || r.SourceIP != "127.0.0.1" || r.RequestID == "" {
		t.Errorf("suspend recorded as %+v from %s (%s)", r.Actor, r.SourceIP, r.RequestID)
	}
}

func TestApplicationIfMatch(t *testing.T) {
	srv, _ := newAppAPI(t)
	resp, _ := call(t, srv, "GET", "/admin/v1/applications/app_svc", dev, "", nil)
	tag := resp.Header.Get("ETag")
	if tag == "" {
		t.Fatal("GET application: no ETag")
	}
	if resp, _ := call(t, srv, "PATCH", "/admin/v1/applications/app_svc", dev, `{"name":"x"}`, map[string]string{"If-Match": `"0000"`}); resp.StatusCode != 412 {
		t.Errorf("PATCH with a stale tag: %d, want 412", resp.StatusCode)
	}
	resp, body := call(t, srv, "PATCH", "/admin/v1/applications/app_svc", dev, `{"name":"Renamed"}`, map[string]string{"If-Match": tag})
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == tag || !strings.Contains(body, `"name":"Renamed"`) {
		t.Fatalf("PATCH with the tag: %d %s (ETag %q)", resp.StatusCode, body, resp.Header.Get("ETag"))
	}
	if resp, _ := call(t, srv, "DELETE", "/admin/v1/applications/app_svc", dev, "", map[string]string{"If-Match": tag}); resp.StatusCode != 412 {
		t.Errorf("DELETE with the tag from before the rename: %d, want 412", resp.StatusCode)
	}

	resp, _ = call(t, srv, "GET", "/admin/v1/subscriptions/sub_svc", approver, "", nil)
	tag = resp.Header.Get("ETag")
	if resp, _ := call(t, srv, "POST", "/admin/v1/subscriptions/sub_svc/state", approver, `{"state":"suspended"}`, map[string]string{"If-Match": `"0000"`}); resp.StatusCode != 412 {
		t.Errorf("state with a stale tag: %d, want 412", resp.StatusCode)
	}
	if resp, _ := call(t, srv, "POST", "/admin/v1/subscriptions/sub_svc/state", approver, `{"state":"suspended"}`, map[string]string{"If-Match": tag}); resp.StatusCode != 200 {
		t.Errorf("state with the tag: %d, want 200", resp.StatusCode)
	}
	if resp, _ := call(t, srv, "DELETE", "/admin/v1/applications/app_svc", dev, "", map[string]string{"If-Match": "*"}); resp.StatusCode != 204 {
		t.Errorf("DELETE with If-Match *: %d, want 204", resp.StatusCode)
	}
}

// TestApplicationRoutesOff: without the services the routes answer 404,
// and the subscription routes need the application service too.
func TestApplicationRoutesOff(t *testing.T) {
	apps, _, _ := newAppServices(t)
	mux := http.NewServeMux()
	New(Options{Token: breakGlassToken, Applications: apps}).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	if resp, _ := call(t, srv, "GET", "/admin/v1/applications", breakGlassToken, "", nil); resp.StatusCode != 200 {
		t.Errorf("applications: %d, want 200", resp.StatusCode)
	}
	if resp, _ := call(t, srv, "GET", "/admin/v1/subscriptions", breakGlassToken, "", nil); resp.StatusCode != 404 {
		t.Errorf("subscriptions without their service: %d, want 404", resp.StatusCode)
	}
}
