package cli

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

// writeConfig writes body as dir/name and returns its path.
func writeConfig(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// tree lists every path under dir, to show that a command created nothing.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var paths []string
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		paths = append(paths, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

func TestConfigValidateValid(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data") // does not exist, and must not come to
	file := writeConfig(t, dir, "portcullis.yaml", `
issuer: https://auth.example.com
listen:
  authz: 0.0.0.0:8080
  admin: 0.0.0.0:8081
  gateway: 0.0.0.0:8000
data_dir: `+data+`
store:
  dsn: postgres://portcullis:secret-password@db.example:5432/portcullis
ratelimit:
  backend: redis
  redis:
    addr: redis.example:6379
`)
	before := tree(t, dir)
	rt, stdout, stderr := testRuntime("", nil)
	if err := Execute(t.Context(), []string{"config", "validate", file, "--roles", "gateway,admin"}, rt); err != nil {
		t.Fatalf("config validate: %v\nstderr: %s", err, stderr)
	}
	out := stdout.String()
	if strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, file+": OK (") {
		t.Errorf("output is not one OK line:\n%s", out)
	}
	for _, want := range []string{"roles gateway=0.0.0.0:8000,admin=0.0.0.0:8081", "store postgres", "ratelimit redis", "issuer https://auth.example.com"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q: %s", want, out)
		}
	}
	if strings.Contains(out, "secret-password") {
		t.Errorf("summary shows the DSN's password: %s", out)
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr: %s", stderr)
	}
	if after := tree(t, dir); !slices.Equal(before, after) {
		t.Errorf("config validate changed the directory:\nbefore %q\nafter  %q", before, after)
	}
}

// TestConfigValidateWarehouse checks the example every doc points at, with
// every role (the default).
func TestConfigValidateWarehouse(t *testing.T) {
	rt, stdout, stderr := testRuntime("", nil)
	file := filepath.Join("..", "..", "examples", "warehouse", "portcullis.yaml")
	if err := Execute(t.Context(), []string{"config", "validate", file}, rt); err != nil {
		t.Fatalf("config validate: %v\nstderr: %s", err, stderr)
	}
	if !strings.Contains(stdout.String(), "roles authz=127.0.0.1:8080,gateway=127.0.0.1:8000,admin=127.0.0.1:8081") {
		t.Errorf("summary: %s", stdout)
	}
	// Relative to the working directory, as serve reads it: nothing may
	// appear here either.
	if _, err := os.Stat("portcullis-data"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("portcullis-data appeared in the working directory: %v", err)
	}
}

func TestConfigValidateInvalid(t *testing.T) {
	tests := []struct {
		name string
		body string
		// want are lines stderr must hold (FILE: is prefixed).
		want []string
	}{
		{
			name: "syntax",
			body: "listen:\n  authz: [\n",
			want: []string{":2: did not find expected node content"},
		},
		{
			name: "unknown field",
			body: "issuer: https://auth.example.com\nlisten:\n  gatway: 0.0.0.0:8000\n",
			want: []string{":3: listen.gatway: unknown field (did you mean gateway?)"},
		},
		{
			name: "bad duration",
			body: "tokens:\n  access_ttl: soon\n",
			want: []string{":2: tokens.access_ttl: "},
		},
		{
			name: "out of bounds and bad value, each on its line",
			body: "issuer: https://auth.example.com\ntokens:\n  code_ttl: 1h\nkeys:\n  access_alg: HS256\n",
			want: []string{":3: tokens.code_ttl: ", ":5: keys.access_alg: "},
		},
		{
			name: "gateway API",
			body: "issuer: https://auth.example.com\ngateway:\n  apis:\n    - upstream: http://127.0.0.1:9000\n",
			want: []string{":4: gateway.apis[0]"},
		},
		{
			name: "two documents",
			body: "issuer: https://auth.example.com\n---\nissuer: https://other.example.com\n",
			want: []string{":2: a configuration file holds one YAML document"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			file := writeConfig(t, dir, "portcullis.yaml", tt.body)
			before := tree(t, dir)
			rt, stdout, stderr := testRuntime("", nil)
			err := Execute(t.Context(), []string{"config", "validate", file}, rt)
			var ic *invalidConfigError
			if !errors.As(err, &ic) {
				t.Fatalf("err = %v, want an invalid configuration", err)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout: %s", stdout)
			}
			lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
			if len(lines) != ic.problems {
				t.Errorf("%d lines for %d problems:\n%s", len(lines), ic.problems, stderr)
			}
			for _, w := range tt.want {
				if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, file+w) }) {
					t.Errorf("no line starts with %q:\n%s", file+w, stderr)
				}
			}
			if after := tree(t, dir); !slices.Equal(before, after) {
				t.Errorf("config validate changed the directory:\nbefore %q\nafter  %q", before, after)
			}
		})
	}
}

func TestConfigValidateMissingFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "nope.yaml")
	rt, _, stderr := testRuntime("", nil)
	err := Execute(t.Context(), []string{"config", "validate", file}, rt)
	var ic *invalidConfigError
	if !errors.As(err, &ic) || ic.problems != 1 {
		t.Fatalf("err = %v, want one problem", err)
	}
	if !strings.Contains(stderr.String(), file) || !strings.Contains(stderr.String(), "no such file") {
		t.Errorf("stderr does not name the missing file: %s", stderr)
	}
	if _, err := os.Stat(file); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the file was created: %v", err)
	}
}

func TestConfigValidateUsage(t *testing.T) {
	for _, args := range [][]string{
		{"config", "validate"},
		{"config", "validate", "a.yaml", "b.yaml"},
		{"config", "validate", "a.yaml", "--no-such-flag"},
	} {
		rt, _, _ := testRuntime("", nil)
		err := Execute(t.Context(), args, rt)
		var pe *kong.ParseError
		if !errors.As(err, &pe) || exitStatus(pe.ExitCode()) != ExitUsage {
			t.Errorf("%q: err = %v, want a usage error (exit status %d)", args, err, ExitUsage)
		}
	}
	rt, _, _ := testRuntime("", nil)
	err := Execute(t.Context(), []string{"config", "validate", "--roles", "nope", filepath.Join("..", "..", "examples", "warehouse", "portcullis.yaml")}, rt)
	if err == nil || !strings.Contains(err.Error(), `unknown role "nope"`) {
		t.Errorf("unknown role: err = %v", err)
	}
}
