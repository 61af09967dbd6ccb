package cli

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/admin"
	"github.com/portcullis/portcullis/internal/registry"
	"github.com/portcullis/portcullis/internal/server"
	"github.com/portcullis/portcullis/internal/server/servertest"
)

// remoteEnv is a running node whose admin API takes a break-glass token,
// and the same installation reachable locally through its config file.
type remoteEnv struct {
	*cliEnv
	adminURL, issuer string
}

func newRemoteEnv(t *testing.T) *remoteEnv {
	t.Helper()
	cfg := servertest.Config(t)
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	breakGlass := base64.RawURLEncoding.EncodeToString(b)
	nodeEnv := map[string]string{admin.TokenEnv: breakGlass}
	r, err := server.Start(t.Context(), cfg, nil, server.WithRoles(server.RoleAuthz, server.RoleAdmin),
		server.WithGetenv(func(k string) string { return nodeEnv[k] }))
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	config := filepath.Join(cfg.DataDir, "portcullis.yaml")
	if err := os.WriteFile(config, []byte("data_dir: "+cfg.DataDir+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := &cliEnv{t: t, config: config, dir: cfg.DataDir, env: map[string]string{DefaultTokenEnv: breakGlass}}
	return &remoteEnv{cliEnv: e, adminURL: r.AdminURL, issuer: r.Issuer}
}

// both runs args remotely and locally and wants the same output.
func (e *remoteEnv) both(args ...string) string {
	e.t.Helper()
	remote := e.mustRun("", append(args, "--server", e.adminURL)...)
	local := e.mustRun("", append(args, "--config", e.config)...)
	if diff := cmp.Diff(local, remote); diff != "" {
		e.t.Errorf("portcullis %s: remote output differs from local (-local +remote):\n%s", strings.Join(args, " "), diff)
	}
	return remote
}

func TestRemoteModeMatchesLocal(t *testing.T) {
	e := newRemoteEnv(t)

	out := e.mustRun("", "clients", "create", "--server", e.adminURL, "--id", "ops", "--grant-type", "client_credentials",
		"--scope", "admin:platform", "--audience", admin.Audience, "--format", "jwt", "--json")
	var created registry.ClientInfo
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatalf("clients create --json: %v: %s", err, out)
	}
	if created.ClientID != "ops" || created.ClientSecret == "" || created.AccessTokenFormat != "jwt" {
		t.Fatalf("created client = %+v, want ops with a secret and jwt tokens", created)
	}
	out = e.mustRun("", "clients", "create", "--server", e.adminURL, "--id", "web", "--grant-type", "client_credentials",
		"--scope", "read write")
	if !strings.Contains(out, "client_id:") || !strings.Contains(out, "The secret is shown only this once") {
		t.Errorf("clients create output:\n%s", out)
	}

	for _, args := range [][]string{
		{"clients", "list"}, {"clients", "list", "--json"},
		{"clients", "show", "ops"}, {"clients", "show", "web", "--json"},
	} {
		e.both(args...)
	}

	out = e.mustRun("", "clients", "rotate-secret", "ops", "--server", e.adminURL, "--json")
	var rotated struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(out), &rotated); err != nil || rotated.ClientID != "ops" ||
		rotated.ClientSecret == "" || rotated.ClientSecret == created.ClientSecret {
		t.Fatalf("rotate-secret --json = %s (%v), want a new secret", out, err)
	}

	out = e.mustRun("s3cret-password\n", "users", "create", "carol", "--role", "warehouse_staff", "--attr", "office=regional",
		"--server", e.adminURL)
	if !strings.HasPrefix(out, "created user carol (id ") {
		t.Errorf("users create output %q", out)
	}
	e.both("users", "list")
	e.both("users", "list", "--json")

	// An issued admin JWT works as well as the break-glass token.
	jwt := adminToken(t, e.issuer, "ops", rotated.ClientSecret)
	e.env["OPS_TOKEN"] = jwt
	viaJWT := e.mustRun("", "keys", "list", "--server", e.adminURL, "--token-env", "OPS_TOKEN")
	if viaBG := e.both("keys", "list"); viaJWT != viaBG {
		t.Errorf("keys list with an admin JWT:\n%s\nwith the break-glass token:\n%s", viaJWT, viaBG)
	}
	e.both("keys", "list", "--json")
	out = e.mustRun("", "keys", "rotate", "--use", "access", "--server", e.adminURL)
	if !strings.HasPrefix(out, "access: ") || !strings.HasSuffix(out, " is now active\n") {
		t.Errorf("keys rotate output %q", out)
	}

	if out := e.mustRun("", "users", "delete", "carol", "--server", e.adminURL); out != "deleted user carol\n" {
		t.Errorf("users delete output %q", out)
	}
	if out := e.mustRun("", "clients", "delete", "web", "--server", e.adminURL); out != "deleted client web\n" {
		t.Errorf("clients delete output %q", out)
	}
	var ids []string
	for _, c := range e.listClients() {
		ids = append(ids, c.ClientID)
	}
	if diff := cmp.Diff([]string{"ops"}, ids); diff != "" {
		t.Errorf("clients after the remote delete (-want +got):\n%s", diff)
	}
	// The remote writes are audited with the caller.
	audit := e.mustRun("", "audit", "export", "--config", e.config)
	for _, want := range []string{`"break-glass"`, `"client.delete"`, `"user.create"`} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit export lacks %s", want)
		}
	}
}

func TestRemoteModeRefuses(t *testing.T) {
	e := newRemoteEnv(t)
	e.env["WRONG"] = strings.Repeat("x", 43)
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"plain http off loopback": {[]string{"clients", "list", "--server", "http://admin.example:8081"}, "plain http is allowed only on loopback"},
		"not a URL":               {[]string{"clients", "list", "--server", "admin.example"}, "want an absolute URL"},
		"with --config":           {[]string{"clients", "list", "--server", e.adminURL, "--config", e.config}, "without --config and --data"},
		"no token":                {[]string{"users", "list", "--server", e.adminURL, "--token-env", "UNSET"}, "bearer token in $UNSET"},
		"wrong token":             {[]string{"keys", "list", "--server", e.adminURL, "--token-env", "WRONG"}, "admin API: 401"},
		"no such client":          {[]string{"clients", "show", "nobody", "--server", e.adminURL}, "admin API: 404"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.run("", tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want one containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), e.env[DefaultTokenEnv]) || strings.Contains(err.Error(), e.env["WRONG"]) {
				t.Errorf("error %q shows a token", err)
			}
		})
	}
}

// adminToken gets an admin access token with client credentials.
func adminToken(t *testing.T, issuer, id, secret string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"admin:platform"}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, issuer+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body.AccessToken == "" {
		t.Fatalf("admin token: status %d, %v", resp.StatusCode, err)
	}
	return body.AccessToken
}
