package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/portcullis/portcullis/internal/config"
)

// importDoc writes an OpenAPI document whose servers are servers (YAML,
// may be empty) and returns its path.
func importDoc(t *testing.T, servers string) string {
	t.Helper()
	doc := "openapi: 3.0.3\ninfo: {title: Warehouse, version: 1.0.0}\n" + servers +
		"paths:\n  /items:\n    get:\n      security: []\n      responses: {'200': {description: ok}}\n"
	path := filepath.Join(t.TempDir(), "openapi.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCLIAPIsImportUpstream: the upstream is --upstream, else the
// document's first server URL when it is absolute; otherwise the import
// is refused rather than pointed at a guess.
func TestCLIAPIsImportUpstream(t *testing.T) {
	tests := []struct {
		name    string
		servers string
		flags   []string
		want    string // upstream; "" when the import must fail
		wantErr string
	}{
		{"absolute server", "servers: [{url: 'https://api.example.com/warehouse/'}]\n", nil, "https://api.example.com/warehouse", ""},
		{"flag wins", "servers: [{url: 'https://api.example.com/warehouse'}]\n", []string{"--upstream", "http://10.0.0.7:9000"}, "http://10.0.0.7:9000", ""},
		{"relative server", "servers: [{url: /warehouse}]\n", nil, "", "pass --upstream"},
		{"relative server with flag", "servers: [{url: /warehouse}]\n", []string{"--upstream", "http://10.0.0.7:9000"}, "http://10.0.0.7:9000", ""},
		{"no server", "", nil, "", "pass --upstream"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt, stdout, _ := testRuntime("", nil)
			args := append([]string{"apis", "import", importDoc(t, tc.servers)}, tc.flags...)
			err := Execute(t.Context(), args, rt)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("apis import: err = %v, want one saying %q (output %q)", err, tc.wantErr, stdout)
				}
				if strings.Contains(stdout.String(), "127.0.0.1:9000") {
					t.Errorf("output points at the demo backend:\n%s", stdout)
				}
				return
			}
			if err != nil {
				t.Fatalf("apis import: %v", err)
			}
			var apis []struct {
				Upstream string `yaml:"upstream"`
				BasePath string `yaml:"base_path"`
			}
			if err := yaml.Unmarshal(stdout.Bytes(), &apis); err != nil || len(apis) != 1 {
				t.Fatalf("output is not one API entry (%v):\n%s", err, stdout)
			}
			if apis[0].Upstream != tc.want {
				t.Errorf("upstream = %q, want %q", apis[0].Upstream, tc.want)
			}
			if apis[0].BasePath != "/warehouse" {
				t.Errorf("base_path = %q, want /warehouse", apis[0].BasePath)
			}
		})
	}
}

// TestCLIAPIsImportIsValidConfig: what the import prints, pasted under
// gateway.apis, passes the configuration's validation as it is, audiences
// included (the catalog refuses a token-taking API without them).
func TestCLIAPIsImportIsValidConfig(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags []string
		want  string
	}{
		{"default audience", nil, "urn:portcullis:api:warehouse"},
		{"audience flag", []string{"--audience", "https://api.example.com/warehouse"}, "https://api.example.com/warehouse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt, stdout, _ := testRuntime("", nil)
			args := append([]string{"apis", "import", "../../examples/warehouse/openapi.yaml", "--upstream", "http://10.0.0.7:9000"}, tc.flags...)
			if err := Execute(t.Context(), args, rt); err != nil {
				t.Fatalf("apis import: %v", err)
			}
			if !strings.Contains(stdout.String(), tc.want) {
				t.Errorf("output lacks the audience %s:\n%s", tc.want, stdout)
			}
			var entry []map[string]any
			if err := yaml.Unmarshal(stdout.Bytes(), &entry); err != nil {
				t.Fatal(err)
			}
			doc := map[string]any{"gateway": map[string]any{
				"issuers": []map[string]any{{"issuer": "https://auth.example.com", "client_id": "gateway", "client_secret_env": "GATEWAY_SECRET"}},
				"apis":    entry,
			}}
			b, err := yaml.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := config.Parse("imported.yaml", b); err != nil {
				t.Errorf("the imported entry does not validate: %v\n%s", err, b)
			}
		})
	}
}

// extensionsDoc is an OpenAPI document whose operations carry
// x-portcullis-* extensions, one set on the path item.
const extensionsDoc = `openapi: 3.1.0
info: {title: Clinic, version: 1.0.0}
servers: [{url: 'https://api.example.com/clinic'}]
paths:
  /patients:
    x-portcullis-policy: claims.office == "head"
    get:
      security: [{auth: [patients:read]}]
      x-portcullis-response:
        fields:
          - {select: '$.patients[*].ssn', action: remove, unless: '"ssn:read" in claims.scope.split(" ")'}
      x-portcullis-limits: [{name: patient-reads, quota: 100/hour, key: [sub]}]
      responses: {'200': {description: ok}}
  /health:
    get:
      security: []
      responses: {'200': {description: ok}}
components:
  securitySchemes:
    auth: {type: oauth2, flows: {}}
`

// TestCLIAPIsImportExtensions: the extensions become the settings of the
// printed operations, and the entry passes the configuration's
// validation with them.
func TestCLIAPIsImportExtensions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clinic.yaml")
	if err := os.WriteFile(path, []byte(extensionsDoc), 0o600); err != nil {
		t.Fatal(err)
	}
	rt, stdout, _ := testRuntime("", nil)
	if err := Execute(t.Context(), []string{"apis", "import", path}, rt); err != nil {
		t.Fatalf("apis import: %v", err)
	}
	var entry []map[string]any
	if err := yaml.Unmarshal(stdout.Bytes(), &entry); err != nil || len(entry) != 1 {
		t.Fatalf("output is not one API entry (%v):\n%s", err, stdout)
	}
	want := []any{
		map[string]any{
			"method": "GET", "path": "/patients", "scopes": []any{"patients:read"},
			"policy": `claims.office == "head"`,
			"limits": []any{map[string]any{"name": "patient-reads", "quota": "100/hour", "key": []any{"sub"}}},
			"response": map[string]any{"fields": []any{map[string]any{
				"select": "$.patients[*].ssn", "action": "remove", "unless": `"ssn:read" in claims.scope.split(" ")`}}},
		},
		map[string]any{"method": "GET", "path": "/health", "public": true},
	}
	if diff := cmp.Diff(want, entry[0]["operations"]); diff != "" {
		t.Errorf("operations mismatch (-want +got):\n%s", diff)
	}
	doc := map[string]any{"gateway": map[string]any{
		"issuers": []map[string]any{{"issuer": "https://auth.example.com", "client_id": "gateway", "client_secret_env": "GATEWAY_SECRET"}},
		"apis":    entry,
	}}
	b, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := config.Parse("imported.yaml", b); err != nil {
		t.Errorf("the imported entry does not validate: %v\n%s", err, b)
	}
}

// TestCLIAPIsImportRefusesExtensions: an extension the catalog cannot
// read stops the import, naming the file, where in it, and the line.
func TestCLIAPIsImportRefusesExtensions(t *testing.T) {
	for _, tc := range []struct{ name, ext, want string }{
		{"unknown", "x-portcullis-ratelimit: []", "paths./a.get.x-portcullis-ratelimit: unknown extension"},
		{"scopes", "x-portcullis-scopes: [admin]", "scopes come from the operation's security requirement"},
		{"unknown field", "x-portcullis-waf: {of: true}", "paths./a.get.x-portcullis-waf.of: unknown field (line 6)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.yaml")
			doc := "openapi: 3.1.0\ninfo: {title: T, version: v}\npaths:\n  /a:\n    get:\n      " + tc.ext + "\n"
			if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
				t.Fatal(err)
			}
			rt, stdout, _ := testRuntime("", nil)
			err := Execute(t.Context(), []string{"apis", "import", path, "--upstream", "http://10.0.0.7:9000"}, rt)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("apis import: err = %v, want one naming %s and saying %q", err, path, tc.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("printed %q for a refused document", stdout)
			}
		})
	}
}
