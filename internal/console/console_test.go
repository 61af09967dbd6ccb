package console

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
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

var now = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

func newTestConsole(t *testing.T) (*Console, http.Handler) {
	t.Helper()
	master := make([]byte, keys.MasterKeySize)
	_, _ = rand.Read(master)
	sealer, err := keys.NewSealer(master, keys.PurposeConsoleSession)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{
		Issuer: "http://127.0.0.1:1", BaseURL: "http://127.0.0.1:2", ClientSecret: "s", Scopes: AllRoles(),
		Sealer: sealer,
		Verifier: fakeVerifier{
			"platform": {RolePlatform}, "publisher": {RolePublisher}, "developer": {RoleDeveloper},
			"auditor": {RoleAuditor}, "none": {},
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
		Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	c.Register(mux)
	return c, mux
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
	tests := []struct {
		token                  string
		catalog, clients, audt int
	}{
		{"platform", 200, 200, 200},
		{"publisher", 200, 403, 403},
		{"developer", 200, 200, 403},
		{"auditor", 200, 200, 200},
		{"none", 403, 403, 403},
		{"", 401, 401, 401},        // signed out
		{"revoked", 401, 401, 401}, // the token no longer verifies
	}
	for _, tt := range tests {
		t.Run(tt.token, func(t *testing.T) {
			var ck *http.Cookie
			if tt.token != "" {
				ck, _ = sessionCookieFor(t, c, tt.token)
			}
			for path, want := range map[string]int{"/console/catalog": tt.catalog, "/console/clients": tt.clients, "/console/audit": tt.audt} {
				rec := get(t, h, path, ck)
				if rec.Code != want {
					t.Errorf("GET %s: status %d, want %d", path, rec.Code, want)
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
