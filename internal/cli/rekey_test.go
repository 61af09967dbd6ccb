package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/keys"
	"github.com/portcullis/portcullis/internal/registry"
	"github.com/portcullis/portcullis/internal/server"
)

func newMasterKey(t *testing.T) string {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(k)
}

func keyIDOf(t *testing.T, b64 string) string {
	t.Helper()
	k, err := keys.LoadPreviousMasterKey(b64) // same decoding as the real key
	if err != nil {
		t.Fatal(err)
	}
	return keys.KeyID(k)
}

// serve starts the authorization server of e's config, as `portcullis
// serve` does, with e's environment; the server stops when the test ends
// or stop is called. logs collects its log.
func (e *cliEnv) serve() (r *server.Running, logs *bytes.Buffer, err error) {
	e.t.Helper()
	cfg, err := config.Load(e.config)
	if err != nil {
		e.t.Fatal(err)
	}
	cfg.Listen.Authz = "127.0.0.1:0"
	cfg.Listen.Admin = "127.0.0.1:0"
	cfg.Listen.Gateway = "127.0.0.1:0"
	env := copyEnv(e.env)
	logs = &bytes.Buffer{}
	r, err = server.Start(e.t.Context(), cfg, slog.New(slog.NewTextHandler(logs, nil)),
		server.WithRoles(server.RoleAuthz), server.WithGetenv(func(k string) string { return env[k] }))
	if err != nil {
		return nil, logs, err
	}
	e.t.Cleanup(func() { stop(e.t, r) })
	return r, logs, nil
}

func copyEnv(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func stop(t *testing.T, r *server.Running) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// clientCredentials asks r for a token with id and secret (HTTP Basic)
// and returns the status and the OAuth error code, if any.
func clientCredentials(t *testing.T, r *server.Running, id, secret string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, r.AuthzURL+"/oauth2/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "scope": {"list_items"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("token request: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var oerr struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(body, &oerr)
	return resp.StatusCode, oerr.Error
}

func (e *cliEnv) createClient(id string) string {
	e.t.Helper()
	out := e.mustRun("", "clients", "create", "--config", e.config, "--id", id,
		"--grant-type", "client_credentials", "--scope", "list_items", "--json")
	var info registry.ClientInfo
	if err := json.Unmarshal([]byte(out), &info); err != nil || info.ClientSecret == "" {
		e.t.Fatalf("clients create --json: %v: %s", err, out)
	}
	return info.ClientSecret
}

// newServedEnv is a cliEnv whose config defines the scope its clients ask
// for.
func newServedEnv(t *testing.T) *cliEnv {
	e := newCLIEnv(t)
	f, err := os.OpenFile(e.config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("policy:\n  scopes:\n    list_items:\n      description: List items\n"); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *cliEnv) keyList() []KeyView {
	e.t.Helper()
	out := e.mustRun("", "keys", "list", "--config", e.config, "--json")
	var views []KeyView
	if err := json.Unmarshal([]byte(out), &views); err != nil {
		e.t.Fatalf("keys list --json: %v: %s", err, out)
	}
	return views
}

func (e *cliEnv) rekeyStatus() RekeyView {
	e.t.Helper()
	out := e.mustRun("", "rekey", "--status", "--config", e.config, "--json")
	var v RekeyView
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		e.t.Fatalf("rekey --status --json: %v: %s", err, out)
	}
	return v
}

// TestWrongMasterKeyCannotBrickTheStore reproduces the security finding:
// a store set up with K1 and then served once with K2 used to get signing
// keys sealed under K2, so K1 no longer started. Now K2 is refused with
// an error naming the store and both key ids, and writes nothing.
func TestWrongMasterKeyCannotBrickTheStore(t *testing.T) {
	e := newServedEnv(t)
	k1, k2 := e.env[keys.MasterKeyEnv], newMasterKey(t)
	e.mustRun("", "migrate", "--config", e.config)
	secret := e.createClient("svc")

	e.env = map[string]string{keys.MasterKeyEnv: k2}
	if r, _, err := e.serve(); err == nil {
		stop(t, r)
		t.Fatal("serve with the wrong master key started")
	} else {
		msg := err.Error()
		for _, part := range []string{"wrong master key", "sqlite " + e.dir, keyIDOf(t, k1), keyIDOf(t, k2), "$" + keys.MasterKeyEnv} {
			if !strings.Contains(msg, part) {
				t.Errorf("serve error %q does not name %q", msg, part)
			}
		}
		if !errors.Is(err, keys.ErrWrongMasterKey) {
			t.Errorf("serve error %v is not ErrWrongMasterKey", err)
		}
	}
	// Management commands refuse the wrong key as well.
	if _, err := e.run("", "clients", "create", "--config", e.config, "--id", "other"); !errors.Is(err, keys.ErrWrongMasterKey) {
		t.Errorf("clients create with the wrong key: error %v, want ErrWrongMasterKey", err)
	}
	if _, err := e.run("", "keys", "list", "--config", e.config); !errors.Is(err, keys.ErrWrongMasterKey) {
		t.Errorf("keys list with the wrong key: error %v, want ErrWrongMasterKey", err)
	}

	e.env = map[string]string{keys.MasterKeyEnv: k1}
	if got := e.keyList(); len(got) != 0 {
		t.Fatalf("the refused start left %d signing keys, want none: %+v", len(got), got)
	}
	r, _, err := e.serve()
	if err != nil {
		t.Fatalf("serve with the right master key after the refusal: %v", err)
	}
	if status, code := clientCredentials(t, r, "svc", secret); status != http.StatusOK {
		t.Errorf("client credentials with the right key: status %d (%s), want 200", status, code)
	}
}

// TestRekey rotates the master key under a running installation: the
// old secret keeps working while the previous key is set, moves to the
// new key on use, and then works without the previous key; signing keys
// and clients are otherwise unchanged.
func TestRekey(t *testing.T) {
	e := newServedEnv(t)
	k1, k2 := e.env[keys.MasterKeyEnv], newMasterKey(t)
	id1, id2 := keyIDOf(t, k1), keyIDOf(t, k2)
	e.mustRun("", "migrate", "--config", e.config)
	active := e.createClient("active")
	idle := e.createClient("idle")
	r, _, err := e.serve()
	if err != nil {
		t.Fatalf("serve: %v", err)
	}
	if status, code := clientCredentials(t, r, "active", active); status != http.StatusOK {
		t.Fatalf("before the rekey: status %d (%s), want 200", status, code)
	}
	stop(t, r)
	keysBefore, clientsBefore := e.keyList(), e.listClients()
	if len(keysBefore) == 0 {
		t.Fatal("serve made no signing keys")
	}

	// Without the previous key, rekey does nothing.
	e.env = map[string]string{keys.MasterKeyEnv: k2}
	if _, err := e.run("", "rekey", "--config", e.config); err == nil || !strings.Contains(err.Error(), keys.MasterKeyPreviousEnv) {
		t.Fatalf("rekey without %s: error %v, want one naming it", keys.MasterKeyPreviousEnv, err)
	}
	e.env = map[string]string{keys.MasterKeyEnv: k2, keys.MasterKeyPreviousEnv: k1}
	out := e.mustRun("", "rekey", "--config", e.config, "--json")
	var rep RekeyView
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("rekey --json: %v: %s", err, out)
	}
	want := RekeyView{KeyID: id2, PreviousKeyID: id1, Resealed: len(keysBefore), ClientsPending: 2,
		PendingByKey: map[string]int{id1: 2}}
	if diff := cmp.Diff(want, rep); diff != "" {
		t.Errorf("rekey report mismatch (-want +got):\n%s", diff)
	}
	if again := e.mustRun("", "rekey", "--config", e.config); !strings.Contains(again, "nothing to re-key") {
		t.Errorf("second rekey said %q, want nothing to re-key", again)
	}

	// Nodes still on the old key are refused, naming the new key.
	old := e.env
	e.env = map[string]string{keys.MasterKeyEnv: k1}
	if _, _, err := e.serve(); err == nil || !strings.Contains(err.Error(), id2) {
		t.Errorf("serve with the old key after the rekey: error %v, want a refusal naming %s", err, id2)
	}
	e.env = old

	r, logs, err := e.serve()
	if err != nil {
		t.Fatalf("serve with the new and the previous key: %v", err)
	}
	if status, code := clientCredentials(t, r, "active", active); status != http.StatusOK {
		t.Fatalf("old secret with %s set: status %d (%s), want 200", keys.MasterKeyPreviousEnv, status, code)
	}
	if status, _ := clientCredentials(t, r, "active", "wrong"); status != http.StatusUnauthorized {
		t.Errorf("wrong secret during the rotation: status %d, want 401", status)
	}
	if st := e.rekeyStatus(); st.ClientsPending != 1 || st.ClientsCurrent != 1 || st.PendingByKey[id1] != 1 {
		t.Errorf("status after the active client authenticated: %+v, want 1 current and 1 pending", st)
	}
	if !strings.Contains(logs.String(), "client secret moved to the current master key") {
		t.Errorf("the server did not log the re-digest:\n%s", logs.String())
	}
	stop(t, r)

	// The idle client is rotated instead; then nothing needs the old key.
	rotated := e.mustRun("", "clients", "rotate-secret", "idle", "--config", e.config, "--json")
	var rot registry.ClientInfo
	if err := json.Unmarshal([]byte(rotated), &rot); err != nil || rot.ClientSecret == "" {
		t.Fatalf("rotate-secret: %v: %s", err, rotated)
	}
	if st := e.rekeyStatus(); st.ClientsPending != 0 || st.ClientsCurrent != 2 {
		t.Errorf("status after rotating the idle client: %+v, want 0 pending", st)
	}
	if text := e.mustRun("", "rekey", "--status", "--config", e.config); !strings.Contains(text, "can be removed") {
		t.Errorf("rekey --status text:\n%s\nwant it to say the previous key can be removed", text)
	}

	e.env = map[string]string{keys.MasterKeyEnv: k2}
	r, _, err = e.serve()
	if err != nil {
		t.Fatalf("serve with the new key only: %v", err)
	}
	for id, secret := range map[string]string{"active": active, "idle": rot.ClientSecret} {
		if status, code := clientCredentials(t, r, id, secret); status != http.StatusOK {
			t.Errorf("client %s without the previous key: status %d (%s), want 200", id, status, code)
		}
	}
	if status, _ := clientCredentials(t, r, "idle", idle); status != http.StatusUnauthorized {
		t.Errorf("the idle client's rotated-away secret: status %d, want 401", status)
	}
	stop(t, r)

	// Signing keys are the same keys; clients differ only in the idle
	// client's rotation.
	if diff := cmp.Diff(keysBefore, e.keyList()); diff != "" {
		t.Errorf("signing keys changed across the rekey (-before +after):\n%s", diff)
	}
	clientsAfter := e.listClients()
	for i := range clientsAfter {
		if clientsAfter[i].ClientID == "idle" {
			clientsAfter[i].UpdatedAt = clientsBefore[i].UpdatedAt
		}
	}
	if diff := cmp.Diff(clientsBefore, clientsAfter); diff != "" {
		t.Errorf("clients changed across the rekey (-before +after):\n%s", diff)
	}
}

func TestRekeyRefusesADemoDirectory(t *testing.T) {
	e := newCLIEnv(t)
	if _, err := e.run("", "rekey", "--data", e.dir); err == nil || !strings.Contains(err.Error(), "--config") {
		t.Errorf("rekey --data: error %v, want a refusal pointing at --config", err)
	}
}
