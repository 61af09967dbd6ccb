package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const applyDoc = `apis:
  - name: shop
    version: v1
    base_path: /shop/v1
    upstream: http://127.0.0.1:9001
    audiences: [shop]
    tokens: [jwt]
    operations:
      - {method: GET, path: /carts, scopes: [carts]}
    state: published
    owners: [team-shop]
plans:
  - name: gold
    limits:
      - {name: gold-rate, rate: 100/s}
`

// catalogEnv is a CLI installation whose file declares an issuer and the
// warehouse API.
func catalogEnv(t *testing.T) *cliEnv {
	e := newCLIEnv(t)
	cfg := "data_dir: " + e.dir + `
gateway:
  issuers:
    - issuer: https://id.example
  apis:
    - name: warehouse
      base_path: /warehouse
      upstream: http://127.0.0.1:9000
      audiences: [warehouse]
      tokens: [jwt]
      operations:
        - {method: GET, path: /items, scopes: [list_items]}
`
	if err := os.WriteFile(e.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

func writeDoc(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestApplyAndExport(t *testing.T) {
	e := catalogEnv(t)
	docs := t.TempDir()
	f := writeDoc(t, docs, "shop.yaml", applyDoc)

	out := e.mustRun("", "apply", "--config", e.config, "-f", f, "--dry-run", "--yes")
	if !strings.Contains(out, "+ api shop v1 (created)") || !strings.Contains(out, "+ plan gold (created)") || !strings.Contains(out, "dry run") {
		t.Fatalf("dry run output:\n%s", out)
	}
	out = e.mustRun("", "apply", "--config", e.config, "-f", f)
	if !strings.Contains(out, "run again with --yes") {
		t.Fatalf("apply without --yes:\n%s", out)
	}
	out = e.mustRun("", "apply", "--config", e.config, "-f", docs, "--yes")
	if !strings.Contains(out, "applied 2 changes") {
		t.Fatalf("apply --yes:\n%s", out)
	}
	if out = e.mustRun("", "apply", "--config", e.config, "-f", f, "--yes"); !strings.Contains(out, "No changes") {
		t.Fatalf("second apply:\n%s", out)
	}

	// Export, then apply the export: nothing changes.
	exported := e.mustRun("", "export", "--config", e.config)
	g := writeDoc(t, t.TempDir(), "export.yaml", exported)
	if out = e.mustRun("", "apply", "--config", e.config, "-f", g); !strings.Contains(out, "No changes") {
		t.Fatalf("apply of the export:\n%s\nexport:\n%s", out, exported)
	}
	o := filepath.Join(t.TempDir(), "out.yaml")
	e.mustRun("", "export", "--config", e.config, "-o", o)
	if b, err := os.ReadFile(o); err != nil || string(b) != exported {
		t.Fatalf("export -o wrote %q, %v; want the stdout export", b, err)
	}

	// A field-by-field change, then a refused lifecycle move.
	changed := strings.Replace(applyDoc, "scopes: [carts]", "scopes: [carts, audit]", 1)
	out = e.mustRun("", "apply", "--config", e.config, "-f", writeDoc(t, docs, "shop.yaml", changed), "--yes")
	if !strings.Contains(out, "~ api shop v1 (changed)\n    operations[0].scopes[1]: (none) -> audit") {
		t.Fatalf("change output:\n%s", out)
	}
	retired := strings.Replace(changed, "state: published", "state: retired", 1)
	_, err := e.run("", "apply", "--config", e.config, "-f", writeDoc(t, docs, "shop.yaml", retired), "--yes")
	if err == nil || !strings.Contains(err.Error(), "deprecate a published version first") {
		t.Fatalf("retiring a published version: err = %v", err)
	}

	// A clash with the file names both sources.
	clash := strings.Replace(applyDoc, "/shop/v1", "/warehouse", 1)
	_, err = e.run("", "apply", "--config", e.config, "-f", writeDoc(t, docs, "shop.yaml", clash))
	if err == nil || !strings.Contains(err.Error(), `base path "/warehouse" is used in the configuration file (gateway.apis[0], API "warehouse") and in the stored catalog (shop v1)`) {
		t.Fatalf("clash: err = %v", err)
	}

	// Every write is in the audit trail.
	e.mustRun("", "audit", "verify", "--config", e.config)
	if out = e.mustRun("", "audit", "export", "--config", e.config); strings.Count(out, `"action":"catalog.apply"`) != 2 {
		t.Fatalf("audit export: want two catalog.apply records:\n%s", out)
	}
}
