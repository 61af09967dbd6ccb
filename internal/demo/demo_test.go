package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/server"
)

// testEnv returns an environment with buffers for its streams.
func testEnv() (Env, *bytes.Buffer, *bytes.Buffer) {
	var stdout, stderr bytes.Buffer
	return Env{Stdout: &stdout, Stderr: &stderr}, &stdout, &stderr
}

// closeRunning stops r and waits for it.
func closeRunning(t *testing.T, r *server.Running) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// postForm posts form with Basic credentials and decodes the JSON answer.
func postForm(t *testing.T, endpoint, id, secret string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", endpoint, err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("POST %s: status %d, body is not JSON: %v", endpoint, resp.StatusCode, err)
	}
	return resp.StatusCode, body
}

// clientCredentialsToken gets a token of the demo's opaque service client
// and checks that the gateway client sees it active.
func clientCredentialsToken(t *testing.T, f *File) {
	t.Helper()
	svc, gw := f.Client("warehouse-service-opaque"), f.Client("gateway")
	status, tok := postForm(t, f.Endpoints.Token, svc.ClientID, svc.ClientSecret,
		url.Values{"grant_type": {"client_credentials"}, "scope": {"list_items"}})
	if status != http.StatusOK {
		t.Fatalf("token request with the demo.json secret: status %d: %v", status, tok)
	}
	access, _ := tok["access_token"].(string)
	if access == "" {
		t.Fatalf("token response without access_token: %v", tok)
	}
	status, intro := postForm(t, f.Endpoints.Introspection, gw.ClientID, gw.ClientSecret, url.Values{"token": {access}})
	if status != http.StatusOK || intro["active"] != true {
		t.Fatalf("introspection by the gateway: status %d: %v, want active", status, intro)
	}
}

func TestDemoSeedsAndReusesDemoJSON(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	opts := Options{Dir: dir, AuthzAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", GatewayAddr: "127.0.0.1:0", BackendAddr: "127.0.0.1:0", SPAAddr: "127.0.0.1:0"}
	t.Setenv("PORTCULLIS_MASTER_KEY", "ignored by the demo")
	env, stdout, _ := testEnv()

	r, file, err := Start(t.Context(), opts, env)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	path := filepath.Join(dir, "demo.json")
	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("demo.json: %v", err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("demo.json mode %o, want 600", perm)
	}
	onDisk, err := readDemoFile(path)
	if err != nil {
		t.Fatalf("read demo.json: %v", err)
	}
	if diff := cmp.Diff(file, onDisk); diff != "" {
		t.Errorf("returned file differs from demo.json (-returned +disk):\n%s", diff)
	}
	if file.Issuer != r.Issuer || file.Endpoints.Token != r.Issuer+"/oauth2/token" {
		t.Errorf("demo.json issuer %q, token endpoint %q; want the running issuer %q", file.Issuer, file.Endpoints.Token, r.Issuer)
	}

	type clientShape struct {
		ID, Method, Format, Scope string
		Grants, Redirects         []string
		HasSecret                 bool
	}
	out0 := stdout.String()
	var got []clientShape
	for _, c := range file.Clients {
		got = append(got, clientShape{c.ClientID, c.TokenEndpointAuthMethod, c.AccessTokenFormat, c.Scope,
			c.GrantTypes, c.RedirectURIs, c.ClientSecret != ""})
	}
	cc := []string{"client_credentials"}
	code := []string{"authorization_code", "refresh_token"}
	userScope := "openid profile offline_access list_items order_item"
	want := []clientShape{
		{"warehouse-service", "client_secret_basic", "jwt", "list_items order_item", cc, []string{}, true},
		{"warehouse-service-opaque", "client_secret_basic", "opaque", "list_items order_item", cc, []string{}, true},
		{"warehouse-service-split", "client_secret_basic", "split", "list_items order_item", cc, []string{}, true},
		{"warehouse-web", "client_secret_basic", "opaque", userScope, code,
			[]string{"http://127.0.0.1:9999/callback", "http://localhost:9999/callback"}, true},
		{"warehouse-spa", "none", "opaque", userScope, code,
			[]string{"http://127.0.0.1:5173/callback", "http://localhost:5173/callback"}, false},
		{"warehouse-bff", "client_secret_basic", "opaque", "openid profile list_items order_item", code,
			[]string{spaPage(t, out0)}, true},
		{"gateway", "client_secret_basic", "opaque", "", cc, []string{}, true},
		{"clinic-app", "client_secret_basic", "opaque", "openid profile patients:read patients:write ssn:read", code,
			[]string{"http://127.0.0.1:9999/callback"}, true},
		{"demo-admin", "client_secret_basic", "jwt", "admin:platform", cc, []string{}, true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("demo.json clients mismatch (-want +got):\n%s", diff)
	}
	for _, u := range []struct {
		name  string
		roles []string
	}{
		{"alice", []string{"warehouse_admin", "platform_admin"}}, {"bob", []string{"warehouse_staff"}},
		{"dr-grey", []string{"doctor"}}, {"dr-house", []string{"doctor"}}, {"rita", []string{"receptionist", "billing"}},
	} {
		du := file.User(u.name)
		if du == nil || len(du.Password) < 20 || !slices.Equal(du.Roles, u.roles) {
			t.Errorf("demo.json user %s = %+v, want a long random password and roles %v", u.name, du, u.roles)
		}
	}
	// The console is on: a policy role grants an admin scope.
	if resp, err := http.Get(r.AdminURL + "/console/"); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound {
			t.Errorf("console: 404, want it on in the demo")
		}
	}

	out := stdout.String()
	for _, want := range []string{
		r.Issuer,
		r.Issuer + "/.well-known/openid-configuration",
		"-u 'warehouse-service-opaque:" + file.Client("warehouse-service-opaque").ClientSecret + "'",
		"-d grant_type=client_credentials",
		"-u 'gateway:" + file.Client("gateway").ClientSecret + "'",
		"-H 'Accept: application/jwt'",
		r.Issuer + "/oauth2/introspect",
		r.Issuer + "/oauth2/revoke",
		path,
		"alice", "bob",
		r.AdminURL + "/console/",
		"-u 'demo-admin:" + file.Client("demo-admin").ClientSecret + "'",
		r.AdminURL + "/admin/v1/clients",
		r.GatewayURL + "/warehouse/v2",
		"portcullis demo-token --data " + dir + " --user dr-grey",
		r.GatewayURL + "/clinic/patients",
		filepath.Join(dir, "clinic-field.key"),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("quick-start lacks %q:\n%s", want, out)
		}
	}
	for _, u := range file.Users {
		if strings.Contains(out, u.Password) {
			t.Errorf("quick-start prints %s's password; it belongs in demo.json only", u.Username)
		}
	}
	clientCredentialsToken(t, file)
	// The seeded clients plus the console's own (the console is on).
	adminListsClients(t, r, file, len(want)+1)
	catalogVersionServed(t, r, file)
	closeRunning(t, r)

	// A management command sees the seeded clients through the data
	// directory's configuration.
	inst, err := server.OpenInstallation(t.Context(), DataDirConfig(dir), nil, nil, nil)
	if err != nil {
		t.Fatalf("open the demo directory: %v", err)
	}
	listed, err := inst.Clients().List(t.Context())
	if cerr := inst.Close(); cerr != nil {
		t.Error(cerr)
	}
	if err != nil {
		t.Fatalf("list clients: %v", err)
	}
	if len(listed) != len(want)+1 {
		t.Errorf("clients list --data shows %d clients, want %d (the seeded ones and the console)", len(listed), len(want)+1)
	}

	// The second run reuses the credentials; only the issuer (a new port)
	// changes.
	env2, stdout2, _ := testEnv()
	r2, file2, err := Start(t.Context(), opts, env2)
	if err != nil {
		t.Fatalf("second Start: %v", err)
	}
	t.Cleanup(func() { closeRunning(t, r2) })
	// Only the SPA's page moved (a new port): the token handler's client
	// follows it, its secret kept.
	bff := file2.Client("warehouse-bff")
	if page := spaPage(t, stdout2.String()); !slices.Equal(bff.RedirectURIs, []string{page}) {
		t.Errorf("second run: warehouse-bff redirect URIs %v, want the SPA page %s", bff.RedirectURIs, page)
	}
	if page := spaPage(t, stdout2.String()); !slices.Equal(bff.PostLogoutRedirectURIs, []string{page}) {
		t.Errorf("second run: warehouse-bff post-logout redirect URIs %v, want the SPA page %s", bff.PostLogoutRedirectURIs, page)
	}
	bff.RedirectURIs = file.Client("warehouse-bff").RedirectURIs
	bff.PostLogoutRedirectURIs = file.Client("warehouse-bff").PostLogoutRedirectURIs
	if diff := cmp.Diff(file.Clients, file2.Clients); diff != "" {
		t.Errorf("second run changed the clients (-first +second):\n%s", diff)
	}
	if diff := cmp.Diff(file.Users, file2.Users); diff != "" {
		t.Errorf("second run changed the users (-first +second):\n%s", diff)
	}
	if file2.Issuer != r2.Issuer {
		t.Errorf("demo.json issuer %q after the second run, want %q", file2.Issuer, r2.Issuer)
	}
	if r2.Issuer != r.Issuer && !strings.Contains(stdout2.String(), "The issuer changed (it was "+r.Issuer+")") {
		t.Errorf("second quick-start does not mention the issuer change:\n%s", stdout2)
	}
	clientCredentialsToken(t, file2)
	// The stored version follows the backend of this run, without a
	// second copy.
	catalogVersionServed(t, r2, file2)
}

func TestDemoRejectsCorruptDemoJSON(t *testing.T) {
	dir := t.TempDir()
	secretish := `{"clients": [{"client_id": "x", "client_secret": "hunter2"`
	if err := os.WriteFile(filepath.Join(dir, "demo.json"), []byte(secretish), 0o600); err != nil {
		t.Fatal(err)
	}
	env, _, _ := testEnv()
	_, _, err := Start(t.Context(), Options{Dir: dir, AuthzAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", GatewayAddr: "127.0.0.1:0", BackendAddr: "127.0.0.1:0", SPAAddr: "127.0.0.1:0"}, env)
	if err == nil || !strings.Contains(err.Error(), "demo.json is not valid JSON") {
		t.Fatalf("Start error = %v, want a demo.json error", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %q echoes the file's content", err)
	}
}

// spaPage is the SPA's page as the quick-start prints it.
func spaPage(t *testing.T, quickStart string) string {
	t.Helper()
	_, rest, ok := strings.Cut(quickStart, "Web app     ")
	page, _, _ := strings.Cut(rest, " ")
	if !ok || !strings.HasPrefix(page, "http://127.0.0.1:") || !strings.HasSuffix(page, "/") {
		t.Fatalf("quick-start names no SPA page:\n%s", quickStart)
	}
	return page
}

func TestQuickStartTemplate(t *testing.T) {
	f := &File{
		Clients: []Client{
			{ClientID: "warehouse-service-opaque", ClientSecret: "svc-secret"},
			{ClientID: "gateway", ClientSecret: "gw-secret"},
			{ClientID: "demo-admin", ClientSecret: "adm-secret"},
		},
		Users: []User{{Username: "alice", Password: "pw-a", Roles: []string{"warehouse_admin"}}},
	}
	r := &server.Running{Issuer: "http://127.0.0.1:8080", AdminURL: "http://127.0.0.1:8081", GatewayURL: "http://127.0.0.1:8000"}
	var buf bytes.Buffer
	if err := writeQuickStart(&buf, quickStartData(r, "/tmp/d", f, "http://127.0.0.1:9090", "")); err != nil {
		t.Fatalf("writeQuickStart: %v", err)
	}
	out := buf.String()
	for _, want := range []string{
		"Issuer      http://127.0.0.1:8080",
		"Discovery   http://127.0.0.1:8080/.well-known/openid-configuration",
		"http://127.0.0.1:8081/readyz",
		"The issuer changed (it was http://127.0.0.1:9090)",
		"TOKEN=$(curl -s -u 'warehouse-service-opaque:svc-secret'",
		"http://127.0.0.1:8080/oauth2/token",
		`curl -s -u 'gateway:gw-secret' -d "token=$TOKEN" http://127.0.0.1:8080/oauth2/introspect`,
		`curl -s -u 'gateway:gw-secret' -H 'Accept: application/jwt' -d "token=$TOKEN" http://127.0.0.1:8080/oauth2/introspect`,
		`curl -s -u 'warehouse-service-opaque:svc-secret' -d "token=$TOKEN" http://127.0.0.1:8080/oauth2/revoke`,
		"alice (warehouse_admin)",
		"/tmp/d/demo.json",
		"ADMIN=$(curl -s -u 'demo-admin:adm-secret'",
		`curl -s -H "Authorization: Bearer $ADMIN" http://127.0.0.1:8081/admin/v1/clients`,
		"portcullis clients list --server http://127.0.0.1:8081",
		`curl -s -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/warehouse/v2/items`,
		"http://127.0.0.1:8000/warehouse/v2  (stored catalog: warehouse-catalog v2, published)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("quick-start lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "pw-a") {
		t.Error("quick-start prints a user's password")
	}
	if strings.Contains(out, "<no value>") {
		t.Errorf("quick-start has an unfilled field:\n%s", out)
	}
}

// adminListsClients gets an admin token as the demo's admin client, as the
// quick-start does, and lists the clients through /admin/v1.
func adminListsClients(t *testing.T, r *server.Running, f *File, want int) {
	t.Helper()
	adm := f.Client("demo-admin")
	if adm == nil || !slices.Equal(adm.Audience, []string{"urn:portcullis:admin"}) {
		t.Fatalf("demo.json admin client = %+v, want audience urn:portcullis:admin", adm)
	}
	status, tok := postForm(t, f.Endpoints.Token, adm.ClientID, adm.ClientSecret,
		url.Values{"grant_type": {"client_credentials"}, "scope": {"admin:platform"}})
	access, _ := tok["access_token"].(string)
	if status != http.StatusOK || access == "" {
		t.Fatalf("admin token: status %d: %v", status, tok)
	}
	req, err := http.NewRequest(http.MethodGet, r.AdminURL+"/admin/v1/clients", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+access)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /admin/v1/clients: %v", err)
	}
	defer resp.Body.Close()
	var page struct {
		Items []struct {
			ClientID string `json:"client_id"`
		} `json:"items"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /admin/v1/clients: status %d, decode: %v", resp.StatusCode, err)
	}
	if len(page.Items) != want {
		t.Errorf("admin API lists %d clients, want %d", len(page.Items), want)
	}
}

// catalogVersionServed calls the stored catalog's version through the
// gateway with a service token: it is served from the first request.
func catalogVersionServed(t *testing.T, r *server.Running, f *File) {
	t.Helper()
	svc := f.Client("warehouse-service")
	status, tok := postForm(t, f.Endpoints.Token, svc.ClientID, svc.ClientSecret,
		url.Values{"grant_type": {"client_credentials"}, "scope": {"list_items"}})
	access, _ := tok["access_token"].(string)
	if status != http.StatusOK || access == "" {
		t.Fatalf("service token: status %d: %v", status, tok)
	}
	for _, path := range []string{"/warehouse/items", "/warehouse/v2/items"} {
		req, err := http.NewRequest(http.MethodGet, r.GatewayURL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+access)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s through the gateway: status %d, want 200", path, resp.StatusCode)
		}
	}
}

// TestToken signs demo users in headlessly and calls the clinic with the
// tokens: the one the walkthrough's demo-token prints.
func TestToken(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	opts := Options{Dir: dir, AuthzAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", GatewayAddr: "127.0.0.1:0", BackendAddr: "127.0.0.1:0", SPAAddr: "127.0.0.1:0"}
	env, _, _ := testEnv()
	r, _, err := Start(t.Context(), opts, env)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer closeRunning(t, r)

	count := func(tok string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, r.GatewayURL+"/clinic/patients", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var doc struct {
			Patients []json.RawMessage `json:"patients"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /clinic/patients: status %d, %v", resp.StatusCode, err)
		}
		return len(doc.Patients)
	}
	for user, want := range map[string]int{"dr-grey": 2, "rita": 4} {
		tok, err := Token(t.Context(), TokenOptions{Dir: dir, User: user})
		if err != nil {
			t.Fatalf("Token(%s): %v", user, err)
		}
		if got := count(tok); got != want {
			t.Errorf("%s reads %d patients, want %d", user, got, want)
		}
	}

	// Asking for fewer scopes gets fewer: without patients:read the
	// clinic refuses the token.
	tok, err := Token(t.Context(), TokenOptions{Dir: dir, User: "rita", Scopes: []string{"openid"}})
	if err != nil {
		t.Fatalf("Token with openid only: %v", err)
	}
	req, _ := http.NewRequest(http.MethodGet, r.GatewayURL+"/clinic/patients", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("openid-only token at the clinic: status %d, want 403", resp.StatusCode)
		}
	}

	for _, tc := range []struct {
		name string
		o    TokenOptions
		want string
	}{
		{"unknown user", TokenOptions{Dir: dir, User: "mallory"}, "not a demo user"},
		{"public client", TokenOptions{Dir: dir, User: "alice", Client: "warehouse-spa"}, "does not sign users in"},
		{"no demo", TokenOptions{Dir: t.TempDir(), User: "alice"}, "run portcullis demo"},
		{"a scope the user may not have", TokenOptions{Dir: dir, User: "dr-grey", Scopes: []string{"admin:platform"}}, "refused"},
	} {
		if _, err := Token(t.Context(), tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
}
