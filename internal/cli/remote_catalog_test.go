package cli

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/admin"
	"github.com/portcullis/portcullis/internal/publish"
	"github.com/portcullis/portcullis/internal/store"
)

// nodeDocuments is the admin API's DocumentService as a node wires it:
// the installation's catalog service and the store's revision.
type nodeDocuments struct {
	*publish.Service
	db *store.DB
}

func (d nodeDocuments) CatalogRevision(ctx context.Context) (int64, error) {
	return d.db.CatalogRevision(ctx)
}

// docsRemoteEnv is catalogEnv's installation served by the real admin API
// (catalog documents, the audit trail and its verification) on loopback,
// with a break-glass token in DefaultTokenEnv.
type docsRemoteEnv struct {
	*cliEnv
	url string
}

func newDocsRemoteEnv(t *testing.T) *docsRemoteEnv {
	t.Helper()
	e := catalogEnv(t)
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	rt, _, _ := testRuntime("", e.env)
	in, err := Source{Config: e.config}.open(t.Context(), rt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	files, _ := filepath.Glob(filepath.Join(e.dir, "*.db"))
	if len(files) != 1 {
		t.Fatalf("database files in %s: %v", e.dir, files)
	}
	db, err := store.Open(t.Context(), files[0], slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	mux := http.NewServeMux()
	admin.New(admin.Options{
		Token: token, Documents: nodeDocuments{in.Catalog(), db}, Catalog: in.Catalog(),
		Audit: in.Auditor(), AuditVerifier: in.Auditor(),
	}).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e.env[DefaultTokenEnv] = token
	return &docsRemoteEnv{cliEnv: e, url: srv.URL}
}

// both runs args remotely and locally and wants the same output.
func (e *docsRemoteEnv) both(args ...string) string {
	e.t.Helper()
	remote := e.mustRun("", append(args, "--server", e.url)...)
	local := e.mustRun("", append(args, "--config", e.config)...)
	if diff := cmp.Diff(local, remote); diff != "" {
		e.t.Errorf("portcullis %s: remote output differs from local (-local +remote):\n%s", strings.Join(args, " "), diff)
	}
	return remote
}

func TestRemoteApplyExportAudit(t *testing.T) {
	e := newDocsRemoteEnv(t)
	docs := t.TempDir()
	f := writeDoc(t, docs, "shop.yaml", applyDoc)

	// Showing the plan prints what the local command prints.
	out := e.both("apply", "-f", f)
	if !strings.HasPrefix(out, "+ api shop v1 (created)\n+ plan gold (created)\n") || !strings.HasSuffix(out, "run again with --yes to apply\n") {
		t.Fatalf("remote plan:\n%s", out)
	}
	e.both("apply", "-f", f, "--dry-run", "--yes")
	out = e.mustRun("", "apply", "--server", e.url, "-f", docs, "--yes")
	if out != "+ api shop v1 (created)\n+ plan gold (created)\napplied 2 changes\n" {
		t.Fatalf("remote apply --yes:\n%s", out)
	}
	if out = e.both("apply", "-f", f, "--yes"); out != "No changes: the stored catalog matches.\n" {
		t.Fatalf("second apply:\n%s", out)
	}

	// A field-by-field change, shown the same both ways, applied remotely.
	changed := writeDoc(t, docs, "shop.yaml", strings.Replace(applyDoc, "scopes: [carts]", "scopes: [carts, audit]", 1))
	if out = e.both("apply", "-f", changed); !strings.Contains(out, "~ api shop v1 (changed)\n    operations[0].scopes[1]: (none) -> audit\n") {
		t.Fatalf("change:\n%s", out)
	}
	e.mustRun("", "apply", "--server", e.url, "-f", changed, "--yes")

	// Export: the same YAML, to stdout and to a file.
	exported := e.both("export")
	if !strings.Contains(exported, "- carts\n") || !strings.Contains(exported, "- audit\n") {
		t.Errorf("export lacks the applied change:\n%s", exported)
	}
	o := filepath.Join(t.TempDir(), "out.yaml")
	e.mustRun("", "export", "--server", e.url, "-o", o)
	if b, err := os.ReadFile(o); err != nil || string(b) != exported {
		t.Errorf("export -o wrote %q, %v; want the stdout export", b, err)
	}

	// Refusals carry every reason.
	retired := strings.Replace(applyDoc, "state: published", "state: retired", 1)
	_, err := e.run("", "apply", "--server", e.url, "-f", writeDoc(t, docs, "shop.yaml", retired), "--yes")
	if err == nil || !strings.Contains(err.Error(), "admin API: 422") || !strings.Contains(err.Error(), "deprecate a published version first") {
		t.Errorf("retiring a published version remotely: err = %v", err)
	}
	clash := strings.Replace(applyDoc, "/shop/v1", "/warehouse", 1)
	_, err = e.run("", "apply", "--server", e.url, "-f", writeDoc(t, docs, "shop.yaml", clash))
	if err == nil || !strings.Contains(err.Error(), `base path "/warehouse" is used in the configuration file (gateway.apis[0], API "warehouse")`) {
		t.Errorf("clash remotely: err = %v", err)
	}

	// The audit trail: remote applies are recorded with their caller, and
	// the remote export is the local one, byte for byte.
	trail := e.both("audit", "export")
	var applies int
	for line := range strings.Lines(trail) {
		var r struct {
			Action string `json:"action"`
			Actor  struct {
				Kind string `json:"kind"`
			} `json:"actor"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("audit export line %q: %v", line, err)
		}
		if r.Action == publish.ActionApply {
			applies++
			if r.Actor.Kind != "break-glass" {
				t.Errorf("a remote apply recorded as actor %q, want break-glass", r.Actor.Kind)
			}
		}
	}
	if applies != 2 {
		t.Errorf("audit export: %d catalog.apply records, want 2:\n%s", applies, trail)
	}
	e.both("audit", "export", "--action", "catalog.*", "--since", "1h")
	if out := e.both("audit", "export", "--until", "2000-01-01"); out != "" {
		t.Errorf("audit export --until 2000-01-01 = %q, want nothing", out)
	}
	if out := e.both("audit", "verify"); !strings.HasPrefix(out, "audit trail OK: 2 records, head 2 ") {
		t.Errorf("audit verify = %q", out)
	}
	e.both("audit", "verify", "--json")
}

func TestRemoteApplyStale(t *testing.T) {
	e := newDocsRemoteEnv(t)
	f := writeDoc(t, t.TempDir(), "shop.yaml", applyDoc)
	// Another apply lands between the plan shown and the apply: the
	// node's catalog moves, the apply is refused.
	other := writeDoc(t, t.TempDir(), "other.yaml", "plans:\n  - name: silver\n    limits:\n      - {name: silver-rate, rate: 10/s}\n")
	var once sync.Once
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/admin/v1/catalog/apply" {
			once.Do(func() {
				if _, err := e.run("", "apply", "--config", e.config, "-f", other, "--yes"); err != nil {
					t.Errorf("the other apply: %v", err)
				}
			})
		}
		target, _ := http.NewRequestWithContext(r.Context(), r.Method, e.url+r.URL.RequestURI(), r.Body)
		target.Header = r.Header.Clone()
		resp, err := http.DefaultTransport.RoundTrip(target)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(proxy.Close)

	out, err := e.run("", "apply", "--server", proxy.URL, "-f", f, "--yes")
	if err == nil || !strings.Contains(err.Error(), "the stored catalog changed since the plan; run again") {
		t.Fatalf("apply over a moved catalog: err = %v, output:\n%s", err, out)
	}
	if !strings.Contains(out, "+ api shop v1 (created)") || strings.Contains(out, "applied") {
		t.Errorf("output:\n%s", out)
	}
	if exported := e.mustRun("", "export", "--config", e.config); strings.Contains(exported, "shop") {
		t.Errorf("the refused apply wrote:\n%s", exported)
	}
	// Run again: the new plan shows, and applies.
	if out := e.mustRun("", "apply", "--server", e.url, "-f", f, "--yes"); !strings.Contains(out, "- plan silver (deleted)") || !strings.Contains(out, "applied 3 changes") {
		t.Errorf("second run:\n%s", out)
	}
}

func TestRemoteAuditVerifyBroken(t *testing.T) {
	e := newDocsRemoteEnv(t)
	e.mustRun("", "apply", "--server", e.url, "-f", writeDoc(t, t.TempDir(), "shop.yaml", applyDoc), "--yes")
	e.mustRun("", "apply", "--server", e.url, "-f", writeDoc(t, t.TempDir(), "deprecated.yaml", strings.Replace(applyDoc, "state: published", "state: deprecated", 1)), "--yes")
	editRecord(t, e.cliEnv, 1)

	_, err := e.run("", "audit", "verify", "--server", e.url)
	if err == nil || !strings.Contains(err.Error(), "BROKEN at record 1 (edited)") {
		t.Errorf("remote verify of an edited trail: %v", err)
	}
	out, err := e.run("", "audit", "verify", "--server", e.url, "--json")
	var view AuditVerifyView
	if jerr := json.Unmarshal([]byte(out), &view); err == nil || jerr != nil || view.OK || view.BrokenSeq != 1 || view.Problem != "edited" {
		t.Errorf("remote verify --json = %s (%v, %v), want not OK, broken at 1 (edited)", out, err, jerr)
	}
	local, _ := e.run("", "audit", "verify", "--config", e.config, "--json")
	if local != out {
		t.Errorf("verify --json: local %s, remote %s", local, out)
	}
}

func TestRemoteCatalogRefuses(t *testing.T) {
	e := newDocsRemoteEnv(t)
	f := writeDoc(t, t.TempDir(), "shop.yaml", applyDoc)
	e.env["WRONG"] = strings.Repeat("x", 43)
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"with --config":    {[]string{"apply", "-f", f, "--server", e.url, "--config", e.config}, "without --config and --data"},
		"plain http":       {[]string{"export", "--server", "http://admin.example:8081"}, "plain http is allowed only on loopback"},
		"no token":         {[]string{"audit", "verify", "--server", e.url, "--token-env", "UNSET"}, "bearer token in $UNSET"},
		"wrong token":      {[]string{"audit", "export", "--server", e.url, "--token-env", "WRONG"}, "admin API: 401"},
		"no such file":     {[]string{"apply", "-f", filepath.Join(t.TempDir(), "none.yaml"), "--server", e.url}, "no such file"},
		"bad --since":      {[]string{"audit", "export", "--server", e.url, "--since", "last tuesday"}, "--since"},
		"node without API": {[]string{"export", "--server", newBareAdmin(t, e.env[DefaultTokenEnv])}, "admin API: 404"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.run("", tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want one containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), e.env[DefaultTokenEnv]) {
				t.Errorf("error %q shows the token", err)
			}
		})
	}
}

// newBareAdmin serves an admin API that takes token but runs no part:
// a node whose admin role lacks the catalog and the audit trail.
func newBareAdmin(t *testing.T, token string) string {
	t.Helper()
	mux := http.NewServeMux()
	admin.New(admin.Options{Token: token}).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// editRecord changes record seq's action behind the store's back, as
// someone with the database's password could.
func editRecord(t *testing.T, e *cliEnv, seq int) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(e.dir, "*.db"))
	if len(files) != 1 {
		t.Fatalf("database files in %s: %v", e.dir, files)
	}
	raw, err := sql.Open("sqlite", files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, q := range []string{
		`DROP TRIGGER audit_log_no_update`,
		`UPDATE audit_log SET record = replace(record, '"catalog.apply"', '"catalog.edited"'), action = 'catalog.edited' WHERE seq = ` + strconv.Itoa(seq),
	} {
		if _, err := raw.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestRemoteAuditExportOnANode exports the trail from a running node (the
// route the node wires today) and wants the local export, byte for byte.
func TestRemoteAuditExportOnANode(t *testing.T) {
	e := newRemoteEnv(t)
	e.mustRun("", "clients", "create", "--server", e.adminURL, "--id", "reports", "--grant-type", "client_credentials")
	e.mustRun("", "clients", "rotate-secret", "reports", "--server", e.adminURL)
	if out := e.both("audit", "export"); strings.Count(out, "\n") != 2 || !strings.Contains(out, `"kind":"break-glass"`) {
		t.Errorf("audit export:\n%s", out)
	}
	e.both("audit", "export", "--action", "client.rotate-secret", "--target", "client:reports")
}
