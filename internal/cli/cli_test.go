package cli

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/demo"
	"github.com/portcullis/portcullis/internal/keys"
	"github.com/portcullis/portcullis/internal/registry"
)

// testRuntime returns a runtime with buffers for its streams and an
// environment holding only env.
func testRuntime(stdin string, env map[string]string) (*Runtime, *bytes.Buffer, *bytes.Buffer) {
	var stdout, stderr bytes.Buffer
	return &Runtime{
		Stdin:  strings.NewReader(stdin),
		Stdout: &stdout,
		Stderr: &stderr,
		Getenv: func(k string) string { return env[k] },
	}, &stdout, &stderr
}

// cliEnv is an installation described by a config file, managed through
// the real command line (Execute), not a subprocess.
type cliEnv struct {
	t      *testing.T
	config string
	dir    string
	env    map[string]string
}

func newCLIEnv(t *testing.T) *cliEnv {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, "portcullis.yaml")
	if err := os.WriteFile(config, []byte("data_dir: "+dir+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	master := make([]byte, 32)
	if _, err := rand.Read(master); err != nil {
		t.Fatal(err)
	}
	return &cliEnv{t: t, config: config, dir: dir,
		env: map[string]string{keys.MasterKeyEnv: base64.StdEncoding.EncodeToString(master)}}
}

// run executes args with stdin and returns stdout.
func (e *cliEnv) run(stdin string, args ...string) (string, error) {
	e.t.Helper()
	rt, stdout, _ := testRuntime(stdin, e.env)
	err := Execute(e.t.Context(), args, rt)
	return stdout.String(), err
}

func (e *cliEnv) mustRun(stdin string, args ...string) string {
	e.t.Helper()
	out, err := e.run(stdin, args...)
	if err != nil {
		e.t.Fatalf("portcullis %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func (e *cliEnv) listClients() []registry.ClientInfo {
	e.t.Helper()
	out := e.mustRun("", "clients", "list", "--config", e.config, "--json")
	var infos []registry.ClientInfo
	if err := json.Unmarshal([]byte(out), &infos); err != nil {
		e.t.Fatalf("clients list --json: %v: %s", err, out)
	}
	if strings.Contains(out, `"client_secret":`) {
		e.t.Errorf("clients list shows a client_secret field:\n%s", out)
	}
	return infos
}

func TestCLIClients(t *testing.T) {
	e := newCLIEnv(t)
	out := e.mustRun("", "clients", "create", "--config", e.config, "--id", "reports", "--name", "Reports",
		"--grant-type", "client_credentials", "--scope", "list_items order_item", "--scope", "list_items",
		"--audience", "https://api.example.com", "--format", "jwt", "--json")
	var created registry.ClientInfo
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatalf("clients create --json: %v: %s", err, out)
	}
	if len(created.ClientSecret) < 40 {
		t.Errorf("client_secret %q, want a generated 256-bit secret", created.ClientSecret)
	}
	want := registry.ClientInfo{
		ClientID: "reports", Name: "Reports", TokenEndpointAuthMethod: "client_secret_basic",
		GrantTypes: []string{"client_credentials"}, RedirectURIs: []string{}, PostLogoutRedirectURIs: []string{},
		Scope:    "list_items order_item",
		Audience: []string{"https://api.example.com"}, AccessTokenFormat: "jwt",
	}
	ignore := func(c registry.ClientInfo) registry.ClientInfo {
		c.ClientSecret, c.CreatedAt, c.UpdatedAt = "", want.CreatedAt, want.UpdatedAt
		return c
	}
	if diff := cmp.Diff(want, ignore(created)); diff != "" {
		t.Errorf("clients create mismatch (-want +got):\n%s", diff)
	}

	e.mustRun("", "clients", "create", "--config", e.config, "--id", "spa", "--public",
		"--grant-type", "authorization_code", "--grant-type", "refresh_token",
		"--redirect-uri", "http://127.0.0.1:5173/callback", "--post-logout-redirect-uri", "http://127.0.0.1:5173/",
		"--scope", "openid list_items")
	listed := e.listClients()
	if len(listed) != 2 {
		t.Fatalf("clients list: %d clients, want 2: %+v", len(listed), listed)
	}
	if diff := cmp.Diff(want, ignore(listed[0])); diff != "" {
		t.Errorf("clients list[0] mismatch (-want +got):\n%s", diff)
	}
	if got := listed[1]; got.ClientID != "spa" || got.TokenEndpointAuthMethod != "none" || got.Scope != "openid list_items" ||
		!slices.Equal(got.PostLogoutRedirectURIs, []string{"http://127.0.0.1:5173/"}) {
		t.Errorf("clients list[1] = %+v, want the public client spa with its post-logout redirect URI", got)
	}

	text := e.mustRun("", "clients", "show", "reports", "--config", e.config)
	if !strings.Contains(text, "client_id:") || !strings.Contains(text, "reports") || strings.Contains(text, "client_secret:") {
		t.Errorf("clients show output:\n%s", text)
	}

	rotated := e.mustRun("", "clients", "rotate-secret", "reports", "--config", e.config, "--json")
	var rot struct {
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(rotated), &rot); err != nil || rot.ClientSecret == "" || rot.ClientSecret == created.ClientSecret {
		t.Errorf("rotate-secret output %q (%v), want a new secret", rotated, err)
	}
	if _, err := e.run("", "clients", "rotate-secret", "spa", "--config", e.config); err == nil ||
		!strings.Contains(err.Error(), "no secret to rotate") {
		t.Errorf("rotate-secret of a public client: error %v, want no secret to rotate", err)
	}

	failures := []struct {
		name string
		args []string
		want string
	}{
		{"duplicate id", []string{"clients", "create", "--config", e.config, "--id", "reports"}, `client "reports" already exists`},
		{"bad redirect", []string{"clients", "create", "--config", e.config, "--grant-type", "authorization_code",
			"--redirect-uri", "http://evil.example/cb"}, "invalid --redirect-uri"},
		{"bad grant", []string{"clients", "create", "--config", e.config, "--grant-type", "password"}, "invalid --grant-type"},
		{"bad format", []string{"clients", "create", "--config", e.config, "--format", "paseto"}, "--format"},
		{"no source", []string{"clients", "list"}, "exactly one of --config or --data"},
		{"two sources", []string{"clients", "list", "--config", e.config, "--data", e.dir}, "exactly one of --config or --data"},
		{"unknown client", []string{"clients", "show", "nope", "--config", e.config}, `no client "nope"`},
		{"delete unknown", []string{"clients", "delete", "nope", "--config", e.config}, `no client "nope"`},
	}
	for _, f := range failures {
		t.Run(f.name, func(t *testing.T) {
			_, err := e.run("", f.args...)
			if err == nil || !strings.Contains(err.Error(), f.want) {
				t.Errorf("error = %v, want one containing %q", err, f.want)
			}
		})
	}
	if got := len(e.listClients()); got != 2 {
		t.Errorf("after the failed commands: %d clients, want 2 (a bad input must change nothing)", got)
	}

	e.mustRun("", "clients", "delete", "reports", "--config", e.config)
	if got := e.listClients(); len(got) != 1 || got[0].ClientID != "spa" {
		t.Errorf("after delete: %+v, want only spa", got)
	}
}

func TestCLINeverCreatesAMasterKey(t *testing.T) {
	e := newCLIEnv(t)
	e.env = nil // no PORTCULLIS_MASTER_KEY and no key file yet
	_, err := e.run("", "clients", "create", "--config", e.config, "--id", "svc")
	if err == nil || !strings.Contains(err.Error(), "master key file") {
		t.Fatalf("clients create without a master key: error %v, want a master key error", err)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "master.key")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a management command created the master key file (stat: %v)", err)
	}
	if got := len(e.listClients()); got != 0 {
		t.Errorf("%d clients stored after the failure, want 0", got)
	}
}

func TestCLIUsers(t *testing.T) {
	e := newCLIEnv(t)
	out := e.mustRun("correct horse battery staple\n", "users", "create", "carol", "--config", e.config,
		"--role", "warehouse_staff", "--attr", "office=regional", "--json")
	var created registry.UserInfo
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatalf("users create --json: %v: %s", err, out)
	}
	if created.Username != "carol" || !created.HasPassword || created.ID == "" {
		t.Errorf("users create = %+v, want carol with a password", created)
	}
	if strings.Contains(out, "argon2") || strings.Contains(out, "horse") {
		t.Errorf("users create output shows the password or its hash:\n%s", out)
	}

	e.mustRun("", "users", "create", "dave", "--config", e.config, "--no-password")
	if _, err := e.run("", "users", "create", "erin", "--config", e.config); err == nil ||
		!strings.Contains(err.Error(), "empty password") {
		t.Errorf("users create with empty stdin: error %v, want empty password", err)
	}
	if _, err := e.run("another long passphrase\n", "users", "create", "carol", "--config", e.config); err == nil ||
		!strings.Contains(err.Error(), "already exists") {
		t.Errorf("duplicate users create: error %v, want already exists", err)
	}
	if _, err := e.run("long enough passphrase\n", "users", "create", "frank", "--config", e.config, "--attr", "bad"); err == nil ||
		!strings.Contains(err.Error(), "KEY=VALUE") {
		t.Errorf("users create --attr bad: error %v, want KEY=VALUE", err)
	}

	e.mustRun("new passphrase\n", "users", "set-password", "dave", "--config", e.config)
	if _, err := e.run("long enough passphrase\n", "users", "set-password", "nobody", "--config", e.config); err == nil {
		t.Error("set-password of an unknown user succeeded")
	}

	out = e.mustRun("", "users", "list", "--config", e.config, "--json")
	var users []registry.UserInfo
	if err := json.Unmarshal([]byte(out), &users); err != nil {
		t.Fatalf("users list --json: %v: %s", err, out)
	}
	type shape struct {
		Username    string
		Roles       []string
		Attrs       map[string]string
		HasPassword bool
	}
	var got []shape
	for _, u := range users {
		got = append(got, shape{u.Username, u.Roles, u.Attrs, u.HasPassword})
	}
	want := []shape{
		{"carol", []string{"warehouse_staff"}, map[string]string{"office": "regional"}, true},
		{"dave", []string{}, map[string]string{}, true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("users list mismatch (-want +got):\n%s", diff)
	}

	e.mustRun("", "users", "delete", "carol", "--config", e.config)
	if _, err := e.run("", "users", "delete", "carol", "--config", e.config); err == nil ||
		!strings.Contains(err.Error(), `no user "carol"`) {
		t.Errorf("second delete: error %v, want no user", err)
	}
}

func TestCLIKeysAndMigrate(t *testing.T) {
	e := newCLIEnv(t)
	if out := e.mustRun("", "migrate", "--config", e.config); !strings.Contains(out, "migrations applied (sqlite)") {
		t.Errorf("migrate output %q", out)
	}
	out := e.mustRun("", "keys", "rotate", "--config", e.config, "--use", "access", "--json")
	var rotated []KeyView
	if err := json.Unmarshal([]byte(out), &rotated); err != nil {
		t.Fatalf("keys rotate --json: %v: %s", err, out)
	}
	if len(rotated) != 1 || rotated[0].Use != "access" || rotated[0].State != "active" {
		t.Errorf("keys rotate = %+v, want one active access key", rotated)
	}
	out = e.mustRun("", "keys", "list", "--config", e.config, "--json")
	var listed []KeyView
	if err := json.Unmarshal([]byte(out), &listed); err != nil {
		t.Fatalf("keys list --json: %v: %s", err, out)
	}
	states := map[string]int{}
	for _, k := range listed {
		states[k.Use+"/"+k.State]++
	}
	// Init made an active and a next key per use; the rotation retired the
	// first access key and published a new next one.
	wantStates := map[string]int{"access/active": 1, "access/next": 1, "access/retired": 1, "id/active": 1, "id/next": 1}
	if diff := cmp.Diff(wantStates, states); diff != "" {
		t.Errorf("key states mismatch (-want +got):\n%s", diff)
	}
	for _, forbidden := range []string{`"d"`, "PRIVATE", "sealed"} {
		if strings.Contains(out, forbidden) {
			t.Errorf("keys list output contains %q", forbidden)
		}
	}
}

func TestCLIHelp(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, []string{"serve", "demo", "migrate", "clients", "users", "keys", "config validate", "version", "probe"}},
		{[]string{"config", "validate", "--help"}, []string{"<file>", "--roles"}},
		{[]string{"clients", "create", "--help"}, []string{"--grant-type", "--redirect-uri", "--public", "--jwks-file", "--skip-consent"}},
		{[]string{"demo", "--help"}, []string{"--data", "--authz-addr", "--admin-addr", "--issuer", demo.DefaultDir()}},
		{[]string{"serve", "--help"}, []string{"--config", "--roles"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			rt, stdout, _ := testRuntime("", nil)
			if err := Execute(t.Context(), tt.args, rt); err != nil {
				t.Fatalf("Execute: %v", err)
			}
			for _, want := range tt.want {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("help lacks %q:\n%s", want, stdout)
				}
			}
		})
	}
}
