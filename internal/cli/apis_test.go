package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

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
