package console

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/admin"
	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/keys"
	"github.com/portcullis/portcullis/internal/registry"
)

// fakeVerifier accepts the tokens it knows, with their scopes.
type fakeVerifier map[string][]string

func (f fakeVerifier) VerifyAdminToken(_ context.Context, raw string) (admin.Principal, error) {
	scopes, ok := f[raw]
	if !ok {
		return admin.Principal{}, errors.New("unknown token")
	}
	return admin.Principal{Subject: "user-" + raw, ClientID: ClientID, Scopes: scopes}, nil
}

type fakeIDTokens struct{}

func (fakeIDTokens) VerifyIDToken(context.Context, string) (IDToken, error) {
	return IDToken{}, errors.New("not used")
}

type fakeCatalog []APIVersion

func (f fakeCatalog) APIVersions(context.Context) ([]APIVersion, error) { return f, nil }

type fakeClients []registry.ClientInfo

func (f fakeClients) List(context.Context) ([]registry.ClientInfo, error) { return f, nil }

type fakeAudit []audit.Record

func (f fakeAudit) List(_ context.Context, fl audit.Filter, _ int64, _ int) ([]audit.Record, int64, error) {
	var out []audit.Record
	for _, r := range f {
		if fl.Actor == "" || r.Actor.Subject == fl.Actor {
			out = append(out, r)
		}
	}
	return out, 0, nil
}

// fakeVersions is an in-memory catalog of versions with the lifecycle's
// moves; it records every SetState call and the actor it came with.
type fakeVersions struct {
	mu     sync.Mutex
	byKey  map[string]VersionDetail
	calls  []string
	actors []audit.Actor
}

func newFakeVersions() *fakeVersions {
	return &fakeVersions{byKey: map[string]VersionDetail{
		"shop v1": {Name: "shop", Version: "v1", BasePath: "/shop/v1", State: "published", UpstreamHost: "shop.internal:8080",
			Operations: []Operation{{Method: "GET", Path: "/carts", Scopes: []string{"carts:read"},
				Limits: []Limit{{Name: "carts-rate", Amount: "10/s", Key: []string{"client_id"}}}}},
			Limits:     []Limit{{Name: "shop-quota", Amount: "1000/day", Key: []string{"client_id"}}},
			NextStates: []string{"deprecated"}, Fingerprint: "fp-shop-v1"},
		"billing v2": {Name: "billing", Version: "v2", BasePath: "/billing/v2", State: "draft",
			NextStates: []string{"published", "retired"}, Fingerprint: "fp-billing-v2"},
	}}
}

func (f *fakeVersions) Version(_ context.Context, name, version string) (VersionDetail, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.byKey[name+" "+version]
	if !ok {
		return VersionDetail{}, ErrNotFound
	}
	return d, nil
}

func (f *fakeVersions) SetState(ctx context.Context, name, version, to, fp string) (VersionDetail, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, name+" "+version+" -> "+to)
	a, _ := audit.ActorFrom(ctx)
	f.actors = append(f.actors, a)
	d, ok := f.byKey[name+" "+version]
	switch {
	case !ok:
		return VersionDetail{}, ErrNotFound
	case fp != d.Fingerprint:
		return VersionDetail{}, ErrStale
	case !slices.Contains(d.NextStates, to):
		return VersionDetail{}, &RefusedError{Reasons: []string{"cannot move from " + d.State + " to " + to + ": not a lifecycle step"}}
	}
	d.State, d.NextStates, d.Fingerprint = to, nil, d.Fingerprint+"'"
	f.byKey[name+" "+version] = d
	return d, nil
}

func (f *fakeVersions) callLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

type fakeApplications []Application

func (f fakeApplications) Applications(context.Context) ([]Application, error) { return f, nil }

type fakeSubscriptions []Subscription

func (f fakeSubscriptions) Subscriptions(context.Context) ([]Subscription, error) { return f, nil }

var now = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

func newTestConsole(t *testing.T) (*Console, http.Handler) {
	t.Helper()
	c, h, _ := newTestConsoleWith(t, func(*Options) {})
	return c, h
}

// newTestConsoleWith builds a console over fakes, edited by edit, and
// returns its versions fake.
func newTestConsoleWith(t *testing.T, edit func(*Options)) (*Console, http.Handler, *fakeVersions) {
	t.Helper()
	versions := newFakeVersions()
	master := make([]byte, keys.MasterKeySize)
	_, _ = rand.Read(master)
	sealer, err := keys.NewSealer(master, keys.PurposeConsoleSession)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{
		Issuer: "http://127.0.0.1:1", BaseURL: "http://127.0.0.1:2", ClientSecret: "s", Scopes: AllRoles(),
		Sealer: sealer,
		Verifier: fakeVerifier{
			"platform": {RolePlatform}, "publisher": {RolePublisher}, "developer": {RoleDeveloper},
			"auditor": {RoleAuditor}, "approver": {RoleApprover}, "none": {},
		},
		IDTokens: fakeIDTokens{},
		Catalog: fakeCatalog{
			{Name: "shop", Version: "v1", BasePath: "/shop/v1", State: "published", Tags: []string{"commerce"}},
			{Name: "billing", Version: "v2", BasePath: "/billing/v2", State: "draft", Tags: []string{"finance"}},
		},
		Clients: fakeClients{{ClientID: "reports", Name: "Reports", TokenEndpointAuthMethod: "client_secret_basic"}},
		Audit: fakeAudit{
			{Seq: 1, Time: now, Actor: audit.Actor{Kind: "user", Subject: "alice"}, Action: "client.create", Target: audit.Target{Type: "client", ID: "reports"}},
			{Seq: 2, Time: now, Actor: audit.Actor{Kind: "user", Subject: "bob"}, Action: "user.create", Target: audit.Target{Type: "user", ID: "carol"}},
		},
		Versions:  versions,
		Lifecycle: versions,
		Applications: fakeApplications{
			{ID: "app-1", Name: "Dev's app", ClientID: "dev-app", Owner: "user-developer", Team: "shop", Environment: "sandbox", CreatedAt: now},
			{ID: "app-2", Name: "Other team's app", ClientID: "other-app", Owner: "user-someone-else", CreatedAt: now},
		},
		Subscriptions: fakeSubscriptions{
			{ID: "sub-1", ApplicationID: "app-1", Application: "Dev's app", Owner: "user-developer", API: "shop", Version: "v1", Plan: "gold", State: "active", CreatedAt: now},
			{ID: "sub-2", ApplicationID: "app-2", Application: "Other team's app", Owner: "user-someone-else", API: "billing", Version: "v2", Plan: "free", State: "requested", CreatedAt: now},
		},
		Now: func() time.Time { return now },
	}
	edit(&o)
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	c.Register(mux)
	return c, mux, versions
}

// sessionCookieFor mints a session cookie holding token, as the callback
// would.
func sessionCookieFor(t *testing.T, c *Console, token string) (*http.Cookie, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	csrf := "csrf-" + token
	if err := c.setSealed(rec, sessionCookie, sessionAAD, session{AccessToken: token, Subject: "user-" + token, CSRF: csrf, Expires: now.Add(time.Hour)}, time.Hour, http.SameSiteStrictMode); err != nil {
		t.Fatal(err)
	}
	return rec.Result().Cookies()[0], csrf
}

func get(t *testing.T, h http.Handler, path string, ck *http.Cookie) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if ck != nil {
		req.AddCookie(ck)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestPageAuthorization(t *testing.T) {
	c, h := newTestConsole(t)
	paths := []string{"/console/catalog", "/console/catalog/shop/v1", "/console/applications", "/console/subscriptions", "/console/clients", "/console/audit"}
	tests := []struct {
		token string
		want  []int // per path
	}{
		{"platform", []int{200, 200, 200, 200, 200, 200}},
		{"publisher", []int{200, 200, 403, 200, 403, 403}},
		{"approver", []int{200, 200, 200, 200, 403, 403}},
		{"developer", []int{200, 200, 200, 200, 200, 403}},
		{"auditor", []int{200, 200, 200, 200, 200, 200}},
		{"none", []int{403, 403, 403, 403, 403, 403}},
		{"", []int{401, 401, 401, 401, 401, 401}},        // signed out
		{"revoked", []int{401, 401, 401, 401, 401, 401}}, // the token no longer verifies
	}
	for _, tt := range tests {
		t.Run(cmp.Or(tt.token, "signed-out"), func(t *testing.T) {
			var ck *http.Cookie
			if tt.token != "" {
				ck, _ = sessionCookieFor(t, c, tt.token)
			}
			for i, path := range paths {
				rec := get(t, h, path, ck)
				if rec.Code != tt.want[i] {
					t.Errorf("GET %s: status %d, want %d", path, rec.Code, tt.want[i])
				}
				if got := rec.Header().Get("Content-Security-Policy"); got != csp {
					t.Errorf("GET %s: CSP %q, want %q", path, got, csp)
				}
				if rec.Code == 401 && !strings.Contains(rec.Body.String(), `href="/console/login"`) {
					t.Errorf("GET %s signed out: no sign-in link", path)
				}
			}
		})
	}
}

func TestNavShowsOnlyAllowedPages(t *testing.T) {
	c, h := newTestConsole(t)
	ck, _ := sessionCookieFor(t, c, "publisher")
	body := get(t, h, "/console/catalog", ck).Body.String()
	if strings.Contains(body, `href="/console/audit"`) || strings.Contains(body, `href="/console/clients"`) {
		t.Errorf("publisher's nav links to pages it may not see:\n%s", body)
	}
	if !strings.Contains(body, "shop") || !strings.Contains(body, "billing") {
		t.Errorf("catalog page lacks the versions:\n%s", body)
	}
}

func TestSearchAndFilters(t *testing.T) {
	c, h := newTestConsole(t)
	ck, _ := sessionCookieFor(t, c, "platform")
	body := get(t, h, "/console/catalog?q=finance", ck).Body.String()
	if !strings.Contains(body, "/billing/v2") || strings.Contains(body, "/shop/v1") {
		t.Errorf("search by tag: want billing only:\n%s", body)
	}
	body = get(t, h, "/console/catalog?q=SHO", ck).Body.String()
	if strings.Contains(body, "/billing/v2") || !strings.Contains(body, "/shop/v1") {
		t.Errorf("search by name: want shop only:\n%s", body)
	}
	body = get(t, h, "/console/audit?actor=bob", ck).Body.String()
	if strings.Contains(body, "client.create") || !strings.Contains(body, "user.create") {
		t.Errorf("audit actor filter: want bob's record only:\n%s", body)
	}
	if rec := get(t, h, "/console/audit?after=x", ck); rec.Code != http.StatusBadRequest {
		t.Errorf("bad cursor: status %d, want 400", rec.Code)
	}
}

func TestLogoutNeedsCSRF(t *testing.T) {
	c, h := newTestConsole(t)
	ck, csrf := sessionCookieFor(t, c, "platform")
	post := func(token string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/console/logout", strings.NewReader(url.Values{"csrf_token": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(ck)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	if rec := post("wrong"); rec.Code != http.StatusForbidden {
		t.Errorf("logout with a wrong token: status %d, want 403", rec.Code)
	}
	rec := post(csrf)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("logout: status %d, want 303", rec.Code)
	}
	cks := rec.Result().Cookies()
	if len(cks) != 1 || cks[0].Name != sessionCookie || cks[0].MaxAge >= 0 {
		t.Errorf("logout cookies = %v, want the session cleared", cks)
	}
	if rec := get(t, h, "/console/logout", ck); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET logout: status %d, want 405", rec.Code)
	}
}

func TestTamperedSessionRefused(t *testing.T) {
	c, h := newTestConsole(t)
	ck, _ := sessionCookieFor(t, c, "platform")
	ck.Value = ck.Value[:len(ck.Value)-2] + "AA"
	if rec := get(t, h, "/console/catalog", ck); rec.Code != http.StatusUnauthorized {
		t.Errorf("tampered session: status %d, want 401", rec.Code)
	}
}

func TestLoginAndCallbackState(t *testing.T) {
	_, h := newTestConsole(t)
	rec := get(t, h, "/console/login", nil)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("login: status %d, want 303", rec.Code)
	}
	u, err := url.Parse(rec.Header().Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if q.Get(k) == "" {
			t.Errorf("authorization request lacks %s: %s", k, u)
		}
	}
	if q.Get("code_challenge_method") != "S256" || q.Get("client_id") != ClientID {
		t.Errorf("authorization request = %s", u)
	}
	ck := rec.Result().Cookies()[0]
	if ck.SameSite != http.SameSiteLaxMode || !ck.HttpOnly {
		t.Errorf("login cookie = %+v, want HttpOnly and SameSite=Lax", ck)
	}
	if rec := get(t, h, CallbackPath+"?code=c&state=forged", ck); rec.Code != http.StatusBadRequest {
		t.Errorf("callback with a forged state: status %d, want 400", rec.Code)
	}
	if rec := get(t, h, CallbackPath+"?code=c&state="+q.Get("state"), nil); rec.Code != http.StatusBadRequest {
		t.Errorf("callback without the login cookie: status %d, want 400", rec.Code)
	}
}

// postForm posts form to path with cookie ck.
func postForm(t *testing.T, h http.Handler, path string, ck *http.Cookie, form url.Values) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if ck != nil {
		req.AddCookie(ck)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestVersionPage(t *testing.T) {
	c, h := newTestConsole(t)
	for _, tc := range []struct {
		token    string
		wantForm bool
	}{
		{"platform", true}, {"publisher", true}, {"approver", false}, {"developer", false}, {"auditor", false},
	} {
		t.Run(tc.token, func(t *testing.T) {
			ck, csrf := sessionCookieFor(t, c, tc.token)
			rec := get(t, h, "/console/catalog/shop/v1", ck)
			body := rec.Body.String()
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d, want 200:\n%s", rec.Code, body)
			}
			for _, want := range []string{"/shop/v1", "shop.internal:8080", "/carts", "carts:read", "carts-rate", "shop-quota", "1000/day", "default"} {
				if !strings.Contains(body, want) {
					t.Errorf("version page lacks %q", want)
				}
			}
			hasForm := strings.Contains(body, `action="/console/catalog/shop/v1/state"`)
			if hasForm != tc.wantForm {
				t.Errorf("state form shown = %v, want %v", hasForm, tc.wantForm)
			}
			if hasForm && (!strings.Contains(body, `value="`+csrf+`"`) || !strings.Contains(body, `value="fp-shop-v1"`)) {
				t.Errorf("state form lacks the CSRF token or the fingerprint:\n%s", body)
			}
		})
	}
	ck, _ := sessionCookieFor(t, c, "platform")
	body := get(t, h, "/console/catalog/billing/v2", ck).Body.String()
	for _, want := range []string{`value="published"`, `value="retired"`} {
		if !strings.Contains(body, want) {
			t.Errorf("draft's form lacks %s", want)
		}
	}
	if strings.Contains(body, `name="to" value="deprecated"`) || strings.Contains(body, `name="to" value="draft"`) {
		t.Errorf("draft's form offers a move the lifecycle forbids:\n%s", body)
	}
	if rec := get(t, h, "/console/catalog/nope/v9", ck); rec.Code != http.StatusNotFound {
		t.Errorf("unknown version: status %d, want 404", rec.Code)
	}
	body = get(t, h, "/console/catalog", ck).Body.String()
	if !strings.Contains(body, `href="/console/catalog/shop/v1"`) {
		t.Errorf("catalog list does not link the version page:\n%s", body)
	}
}

func TestStateChange(t *testing.T) {
	const path = "/console/catalog/billing/v2/state"
	tests := []struct {
		name       string
		token      string
		csrf       string // "" the session's; "-" none
		to, fp     string
		wantStatus int
		wantCall   bool
		wantBody   string
	}{
		{"platform publishes", "platform", "", "published", "fp-billing-v2", http.StatusSeeOther, true, ""},
		{"publisher publishes", "publisher", "", "published", "fp-billing-v2", http.StatusSeeOther, true, ""},
		{"developer may not", "developer", "", "published", "fp-billing-v2", http.StatusForbidden, false, "admin:publisher"},
		{"auditor may not", "auditor", "", "published", "fp-billing-v2", http.StatusForbidden, false, ""},
		{"approver may not", "approver", "", "published", "fp-billing-v2", http.StatusForbidden, false, ""},
		{"no CSRF token", "platform", "-", "published", "fp-billing-v2", http.StatusForbidden, false, ""},
		{"wrong CSRF token", "platform", "csrf-publisher", "published", "fp-billing-v2", http.StatusForbidden, false, ""},
		{"illegal move", "platform", "", "deprecated", "fp-billing-v2", http.StatusUnprocessableEntity, true, "cannot move from draft to deprecated"},
		{"stale fingerprint", "platform", "", "published", "fp-old", http.StatusConflict, true, "changed since you opened this page"},
		{"signed out", "", "", "published", "fp-billing-v2", http.StatusUnauthorized, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, h, versions := newTestConsoleWith(t, func(*Options) {})
			var ck *http.Cookie
			form := url.Values{"to": {tt.to}, "fingerprint": {tt.fp}}
			if tt.token != "" {
				var csrf string
				ck, csrf = sessionCookieFor(t, c, tt.token)
				switch tt.csrf {
				case "":
					form.Set("csrf_token", csrf)
				case "-":
				default:
					form.Set("csrf_token", tt.csrf)
				}
			}
			rec := postForm(t, h, path, ck, form)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d:\n%s", rec.Code, tt.wantStatus, rec.Body.String())
			}
			if got := len(versions.callLog()) > 0; got != tt.wantCall {
				t.Errorf("SetState called = %v, want %v (%v)", got, tt.wantCall, versions.callLog())
			}
			if tt.wantBody != "" && !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("body lacks %q:\n%s", tt.wantBody, rec.Body.String())
			}
			if rec.Code == http.StatusSeeOther {
				loc := rec.Header().Get("Location")
				if loc != "/console/catalog/billing/v2?changed=published" {
					t.Errorf("Location = %q", loc)
				}
				a := versions.actors[0]
				want := audit.Actor{Kind: audit.KindUser, Subject: "user-" + tt.token, ClientID: ClientID, Roles: []string{"admin:" + tt.token}}
				if a.Kind != want.Kind || a.Subject != want.Subject || a.ClientID != want.ClientID || !slices.Equal(a.Roles, want.Roles) {
					t.Errorf("actor = %+v, want %+v", a, want)
				}
				body := get(t, h, loc, ck).Body.String()
				if !strings.Contains(body, "The version is now published.") {
					t.Errorf("no notice after the change:\n%s", body)
				}
			}
			if rec.Code == http.StatusUnprocessableEntity && strings.Contains(rec.Body.String(), "console:") {
				t.Errorf("refusal shows internal error text:\n%s", rec.Body.String())
			}
		})
	}
}

func TestGetNeverChangesState(t *testing.T) {
	c, h, versions := newTestConsoleWith(t, func(*Options) {})
	ck, csrf := sessionCookieFor(t, c, "platform")
	for _, path := range []string{
		"/console/catalog/billing/v2?to=published&fingerprint=fp-billing-v2&csrf_token=" + csrf,
		"/console/catalog/billing/v2/state?to=published&fingerprint=fp-billing-v2&csrf_token=" + csrf,
		"/console/catalog/billing/v2?changed=published",
	} {
		rec := get(t, h, path, ck)
		if strings.Contains(path, "/state") && rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("GET %s: status %d, want 405", path, rec.Code)
		}
		if strings.Contains(rec.Body.String(), "The version is now") {
			t.Errorf("GET %s claims a change that did not happen", path)
		}
	}
	if calls := versions.callLog(); len(calls) != 0 {
		t.Errorf("GETs called SetState: %v", calls)
	}
}

func TestOwnApplicationsOnly(t *testing.T) {
	c, h := newTestConsole(t)
	dev, _ := sessionCookieFor(t, c, "developer")
	for path, ids := range map[string][2]string{
		"/console/applications":  {"dev-app", "other-app"},
		"/console/subscriptions": {"sub-1", "sub-2"},
	} {
		body := get(t, h, path, dev).Body.String()
		if !strings.Contains(body, ids[0]) || strings.Contains(body, ids[1]) {
			t.Errorf("developer's %s: want %s only:\n%s", path, ids[0], body)
		}
		for _, token := range []string{"platform", "auditor"} {
			ck, _ := sessionCookieFor(t, c, token)
			body := get(t, h, path, ck).Body.String()
			if !strings.Contains(body, ids[0]) || !strings.Contains(body, ids[1]) {
				t.Errorf("%s's %s: want both %v:\n%s", token, path, ids, body)
			}
		}
	}
}

func TestUnavailableParts(t *testing.T) {
	c, h, _ := newTestConsoleWith(t, func(o *Options) {
		o.Applications, o.Subscriptions, o.Versions, o.Lifecycle = nil, nil, nil, nil
	})
	ck, csrf := sessionCookieFor(t, c, "platform")
	for _, path := range []string{"/console/applications", "/console/subscriptions", "/console/catalog/shop/v1"} {
		rec := get(t, h, path, ck)
		if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "not available on this node") {
			t.Errorf("GET %s without its reader: status %d, want 404 saying so:\n%s", path, rec.Code, rec.Body.String())
		}
	}
	rec := postForm(t, h, "/console/catalog/shop/v1/state", ck, url.Values{"csrf_token": {csrf}, "to": {"deprecated"}, "fingerprint": {"fp-shop-v1"}})
	if rec.Code != http.StatusNotFound {
		t.Errorf("POST state without a lifecycle: status %d, want 404", rec.Code)
	}
}
