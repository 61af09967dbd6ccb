package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/ratelimit"
	"github.com/portcullis/portcullis/internal/registry"
)

const breakGlassToken = "q8Zr2vT0xLw5Yb3NcF7mHs1KdJ9pGa4E"

// fakeVerifier accepts the tokens it knows; "expired" and "wrong-aud"
// stand for what the real verifier refuses (tested end to end in e2e).
type fakeVerifier map[string]Principal

func (f fakeVerifier) VerifyAdminToken(_ context.Context, raw string) (Principal, error) {
	p, ok := f[raw]
	if !ok {
		return Principal{}, errors.New("token: invalid")
	}
	return p, nil
}

// fakeClients is an in-memory ClientService that remembers the actor and
// origin of each write.
type fakeClients struct {
	mu      sync.Mutex
	clients map[string]registry.ClientInfo
	actors  []audit.Actor
	origins []audit.Origin
}

func newFakeClients(ids ...string) *fakeClients {
	f := &fakeClients{clients: map[string]registry.ClientInfo{}}
	for _, id := range ids {
		f.clients[id] = registry.ClientInfo{ClientID: id, Name: id}
	}
	return f
}

func (f *fakeClients) record(ctx context.Context) {
	a, _ := audit.ActorFrom(ctx)
	o, _ := audit.OriginFrom(ctx)
	f.actors = append(f.actors, a)
	f.origins = append(f.origins, o)
}

func (f *fakeClients) List(context.Context) ([]registry.ClientInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []registry.ClientInfo
	for _, c := range f.clients {
		out = append(out, c)
	}
	return out, nil
}

func (f *fakeClients) Get(_ context.Context, id string) (registry.ClientInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.clients[id]
	if !ok {
		return c, registry.ErrNotFound
	}
	return c, nil
}

func (f *fakeClients) Create(ctx context.Context, spec registry.ClientSpec) (registry.ClientInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if spec.ID == "" {
		return registry.ClientInfo{}, &registry.InvalidClientError{Field: "client_id", Reason: "required here"}
	}
	if _, ok := f.clients[spec.ID]; ok {
		return registry.ClientInfo{}, registry.ErrExists
	}
	f.record(ctx)
	c := registry.ClientInfo{ClientID: spec.ID, Name: spec.Name}
	f.clients[spec.ID] = c
	c.ClientSecret = "s3cret"
	return c, nil
}

func (f *fakeClients) Delete(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.clients[id]; !ok {
		return registry.ErrNotFound
	}
	f.record(ctx)
	delete(f.clients, id)
	return nil
}

func (f *fakeClients) RotateSecret(ctx context.Context, id string) (registry.ClientInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.clients[id]
	if !ok {
		return c, registry.ErrNotFound
	}
	f.record(ctx)
	c.Name += "'"
	f.clients[id] = c
	c.ClientSecret = "n3w"
	return c, nil
}

type fakeUsers struct{ users map[string]registry.UserInfo }

func (f fakeUsers) List(context.Context) ([]registry.UserInfo, error) {
	var out []registry.UserInfo
	for _, u := range f.users {
		out = append(out, u)
	}
	return out, nil
}

func (f fakeUsers) Get(_ context.Context, name string) (registry.UserInfo, error) {
	u, ok := f.users[name]
	if !ok {
		return u, registry.ErrNotFound
	}
	return u, nil
}

func (f fakeUsers) Create(_ context.Context, name, _ string, roles []string, _ map[string]string) (registry.UserInfo, error) {
	u := registry.UserInfo{Username: name, Roles: roles}
	f.users[name] = u
	return u, nil
}

func (f fakeUsers) Delete(_ context.Context, name string) error {
	delete(f.users, name)
	return nil
}

type fakeKeys struct{}

func (fakeKeys) List(context.Context) ([]KeyView, error) { return []KeyView{{KID: "k1"}}, nil }
func (fakeKeys) Rotate(context.Context, []string) ([]KeyView, error) {
	return []KeyView{{KID: "k2"}}, nil
}

type fakeAudit struct{}

func (fakeAudit) List(context.Context, audit.Filter, int64, int) ([]audit.Record, int64, error) {
	return nil, 0, nil
}

// roleTokens maps a token to its principal: one token per role, and one
// with no admin role.
func roleTokens() fakeVerifier {
	v := fakeVerifier{"no-role": {Subject: "svc", ClientID: "svc", Scopes: []string{"openid"}}}
	for _, r := range Roles {
		v["tok-"+string(r)] = Principal{Subject: "svc", ClientID: "svc", Scopes: []string{"openid", string(r)}}
	}
	return v
}

// testParts are hooks of the per-concept test files (catalog_test.go,
// ...): each fills its parts of the Options of every test API, from
// init, so this harness need not know them.
var testParts []func(t *testing.T, o *Options)

// testParams are the path parameters of the fixtures, by name, added to
// by the per-concept test files' init.
var testParams = map[string]string{"{client_id}": "c1", "{username}": "u1", "{key...}": "client_id:svc"}

// testBodies are request bodies of the route tests by request schema,
// added to by the per-concept test files' init.
var testBodies = map[string]string{
	"ClientRequest": `{"client_id":"new"}`, "UserRequest": `{"username":"new"}`, "RotateKeysRequest": `{}`,
}

func newTestAPI(t *testing.T) (*httptest.Server, *fakeClients, *http.ServeMux) {
	t.Helper()
	clients := newFakeClients("c1", "c2", "c3", "c4", "c5")
	mux := http.NewServeMux()
	o := Options{
		Token: breakGlassToken, Verifier: roleTokens(), Blocks: ratelimit.NewMemoryBlocks(),
		Quotas:  quotaFunc(func(context.Context, string) (any, error) { return map[string]string{}, nil }),
		Clients: clients, Users: fakeUsers{map[string]registry.UserInfo{"u1": {Username: "u1"}}},
		Keys: fakeKeys{}, Audit: fakeAudit{},
	}
	for _, part := range testParts {
		part(t, &o)
	}
	New(o).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, clients, mux
}

// concrete fills a route's path parameters.
func concrete(path string) string {
	var pairs []string
	for k, v := range testParams {
		pairs = append(pairs, k, v)
	}
	return strings.NewReplacer(pairs...).Replace(path)
}

func call(t *testing.T, srv *httptest.Server, method, path, tok, body string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// TestRouteAuthorization calls every route of the table with a token of
// each role, the break-glass token, no token, a token without admin roles
// and tokens the verifier refuses.
func TestRouteAuthorization(t *testing.T) {
	srv, _, _ := newTestAPI(t)
	for _, rt := range routes {
		t.Run(rt.pattern(), func(t *testing.T) {
			// Writes that would remove the fixture run on a throwaway API.
			srv := srv
			if rt.method != "GET" {
				srv, _, _ = newTestAPI(t)
			}
			path := concrete(rt.path)
			body := testBodies[rt.request]
			for _, tc := range []struct {
				name, tok string
				allowed   bool
			}{
				{"break-glass", breakGlassToken, true},
				{"admin:platform", "tok-admin:platform", slices.Contains(rt.roles, RolePlatform)},
				{"admin:publisher", "tok-admin:publisher", slices.Contains(rt.roles, RolePublisher)},
				{"admin:approver", "tok-admin:approver", slices.Contains(rt.roles, RoleApprover)},
				{"admin:developer", "tok-admin:developer", slices.Contains(rt.roles, RoleDeveloper)},
				{"admin:auditor", "tok-admin:auditor", slices.Contains(rt.roles, RoleAuditor)},
			} {
				resp, got := call(t, srv, rt.method, path, tc.tok, body, nil)
				switch {
				case tc.allowed && resp.StatusCode != rt.status:
					t.Errorf("%s: status %d, want %d (%s)", tc.name, resp.StatusCode, rt.status, got)
				case !tc.allowed && resp.StatusCode != http.StatusForbidden:
					t.Errorf("%s: status %d, want 403 (%s)", tc.name, resp.StatusCode, got)
				case !tc.allowed && !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`):
					t.Errorf("%s: WWW-Authenticate %q, want insufficient_scope", tc.name, resp.Header.Get("WWW-Authenticate"))
				}
				if tc.allowed && rt.method != "GET" {
					// The write happened; the next role writes afresh.
					srv, _, _ = newTestAPI(t)
				}
			}
			for _, tc := range []struct {
				name, tok, wantChallenge string
				wantStatus               int
			}{
				{"no token", "", `Bearer realm="portcullis-admin"`, 401},
				{"expired", "expired", `error="invalid_token"`, 401},
				{"wrong audience", "wrong-aud", `error="invalid_token"`, 401},
				{"break-glass prefix", breakGlassToken[:MinTokenLen-1], `error="invalid_token"`, 401},
				{"no admin role", "no-role", `error="insufficient_scope"`, 403},
			} {
				resp, got := call(t, srv, rt.method, path, tc.tok, body, nil)
				if resp.StatusCode != tc.wantStatus || !strings.Contains(resp.Header.Get("WWW-Authenticate"), tc.wantChallenge) {
					t.Errorf("%s: %d %q, want %d with %s", tc.name, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), tc.wantStatus, tc.wantChallenge)
				}
				if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("%s: Content-Type %q, want application/problem+json", tc.name, ct)
				}
				var p Problem
				if err := json.Unmarshal([]byte(got), &p); err != nil || p.Status != tc.wantStatus || !strings.HasPrefix(p.Type, problemType) || p.RequestID == "" {
					t.Errorf("%s: problem %s (%v)", tc.name, got, err)
				}
			}
		})
	}
}

func TestWritesNameTheCaller(t *testing.T) {
	srv, clients, _ := newTestAPI(t)
	resp, body := call(t, srv, "POST", "/admin/v1/clients", "tok-admin:platform", `{"client_id":"reports"}`, nil)
	if resp.StatusCode != 201 || !strings.Contains(body, `"client_secret":"s3cret"`) {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	resp, _ = call(t, srv, "DELETE", "/admin/v1/clients/reports", breakGlassToken, "", nil)
	if resp.StatusCode != 204 {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	want := []audit.Actor{
		{Kind: audit.KindClient, Subject: "svc", ClientID: "svc", Roles: []string{"admin:platform"}},
		{Kind: audit.KindBreakGlass, Subject: "break-glass", Roles: []string{"admin:platform"}},
	}
	if len(clients.actors) != 2 {
		t.Fatalf("actors %v", clients.actors)
	}
	for i, w := range want {
		got := clients.actors[i]
		if got.Kind != w.Kind || got.Subject != w.Subject || got.ClientID != w.ClientID || !slices.Equal(got.Roles, w.Roles) {
			t.Errorf("actor %d = %+v, want %+v", i, got, w)
		}
		if o := clients.origins[i]; o.SourceIP != "127.0.0.1" || len(o.RequestID) != 32 {
			t.Errorf("origin %d = %+v", i, o)
		}
	}
	// A user's token through a client is a user actor.
	u := newCaller(Principal{Subject: "alice", ClientID: "console", Scopes: []string{"admin:auditor", "admin:auditor", "email"}})
	if u.actor.Kind != audit.KindUser || u.actor.Subject != "alice" || u.actor.ClientID != "console" || !slices.Equal(u.actor.Roles, []string{"admin:auditor"}) {
		t.Errorf("user caller = %+v", u.actor)
	}
}

func TestClientErrorsAndConcurrency(t *testing.T) {
	srv, _, _ := newTestAPI(t)
	tok := "tok-admin:platform"
	tests := []struct {
		name, method, path, body string
		hdr                      map[string]string
		want                     int
	}{
		{"invalid spec", "POST", "/admin/v1/clients", `{}`, nil, 400},
		{"unknown field", "POST", "/admin/v1/clients", `{"client_id":"x","secret":"y"}`, nil, 400},
		{"exists", "POST", "/admin/v1/clients", `{"client_id":"c1"}`, nil, 409},
		{"unknown client", "GET", "/admin/v1/clients/nope", "", nil, 404},
		{"stale If-Match", "DELETE", "/admin/v1/clients/c1", "", map[string]string{"If-Match": `"0000"`}, 412},
		{"bad limit", "GET", "/admin/v1/clients?limit=0", "", nil, 400},
		{"bad cursor", "GET", "/admin/v1/clients?cursor=!!", "", nil, 400},
		{"bad since", "GET", "/admin/v1/audit?since=yesterday", "", nil, 400},
		{"bad role", "POST", "/admin/v1/users", `{"username":"x","roles":["a b"]}`, nil, 400},
		{"bad attr", "POST", "/admin/v1/users", `{"username":"x","attrs":{"1x":"y"}}`, nil, 400},
	}
	for _, tt := range tests {
		resp, body := call(t, srv, tt.method, tt.path, tok, tt.body, tt.hdr)
		if resp.StatusCode != tt.want {
			t.Errorf("%s: %d, want %d (%s)", tt.name, resp.StatusCode, tt.want, body)
		}
	}

	resp, _ := call(t, srv, "GET", "/admin/v1/clients/c2", tok, "", nil)
	tag := resp.Header.Get("ETag")
	if tag == "" {
		t.Fatal("GET client: no ETag")
	}
	resp, body := call(t, srv, "POST", "/admin/v1/clients/c2/rotate-secret", tok, "", map[string]string{"If-Match": tag})
	if resp.StatusCode != 200 || !strings.Contains(body, "n3w") || resp.Header.Get("ETag") == tag {
		t.Fatalf("rotate with If-Match: %d %s (ETag %q)", resp.StatusCode, body, resp.Header.Get("ETag"))
	}
	if resp, _ := call(t, srv, "DELETE", "/admin/v1/clients/c2", tok, "", map[string]string{"If-Match": tag}); resp.StatusCode != 412 {
		t.Errorf("delete with the tag from before the rotation: %d, want 412", resp.StatusCode)
	}
	if resp, _ := call(t, srv, "DELETE", "/admin/v1/clients/c2", tok, "", map[string]string{"If-Match": "*"}); resp.StatusCode != 204 {
		t.Errorf("delete with If-Match *: %d, want 204", resp.StatusCode)
	}
}

func TestClientPagination(t *testing.T) {
	srv, _, _ := newTestAPI(t)
	var got []string
	cursor := ""
	for pages := 0; pages < 10; pages++ {
		_, body := call(t, srv, "GET", "/admin/v1/clients?limit=2&cursor="+cursor, "tok-admin:auditor", "", nil)
		var p Page[registry.ClientInfo]
		if err := json.Unmarshal([]byte(body), &p); err != nil {
			t.Fatal(err)
		}
		for _, c := range p.Items {
			got = append(got, c.ClientID)
		}
		if p.Next == "" {
			break
		}
		cursor = p.Next
	}
	if want := []string{"c1", "c2", "c3", "c4", "c5"}; !slices.Equal(got, want) {
		t.Errorf("pages = %v, want %v", got, want)
	}
}

// TestOpenAPIMatchesRoutes: every registered route is documented, and
// every documented operation reaches the route it documents on the mux.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	srv, _, mux := newTestAPI(t)
	resp, body := call(t, srv, "GET", "/admin/v1/openapi.json", "tok-admin:developer", "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("openapi.json: %d", resp.StatusCode)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			m := strings.ToUpper(method)
			req := httptest.NewRequest(m, pathParam.ReplaceAllString(path, "p1"), nil)
			_, pattern := mux.Handler(req)
			if pattern == "" {
				t.Errorf("documented %s %s is not served", m, path)
				continue
			}
			documented[pattern] = true
		}
	}
	for _, rt := range routes {
		if !documented[rt.pattern()] {
			t.Errorf("route %s is not documented", rt.pattern())
		}
	}
	if len(documented) != len(routes) {
		t.Errorf("%d documented operations, %d routes", len(documented), len(routes))
	}
	// Every schema a route names exists.
	var comps struct {
		Schemas map[string]json.RawMessage `json:"schemas"`
	}
	if err := json.Unmarshal(components, &comps); err != nil {
		t.Fatal(err)
	}
	for _, rt := range routes {
		for _, s := range []string{rt.request, rt.response} {
			if _, ok := comps.Schemas[s]; s != "" && !ok {
				t.Errorf("route %s names missing schema %s", rt.pattern(), s)
			}
		}
	}
}

// pathParam matches an OpenAPI path parameter ("{client_id}").
var pathParam = regexp.MustCompile(`\{[^}]+\}`)
