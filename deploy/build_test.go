package deploy

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alecthomas/kong"

	"github.com/portcullis/portcullis/internal/cli"
)

// root is the repository root, relative to this package.
const root = ".."

// testVersion is the VERSION build argument the tests build with, so
// they can read it back from `portcullis version`.
const testVersion = "v0.0.0-deploytest"

var built struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// binary builds ./cmd/portcullis once per test run, with the Dockerfile's
// own go build command (dockerBuild), and returns its path.
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "portcullis-deploy-")
		if built.err != nil {
			return
		}
		// Others must reach the binary: the systemd test runs it as nobody.
		if built.err = os.Chmod(built.dir, 0o755); built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "portcullis")
		built.err = dockerBuild(built.path)
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

// dockerBuild runs the Dockerfile's go build instruction on this machine,
// its build arguments set to test values and its output path replaced
// by out.
func dockerBuild(out string) error {
	df, err := parseDockerfile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		return err
	}
	run, err := df.goBuild()
	if err != nil {
		return err
	}
	args := map[string]string{
		"TARGETOS": runtime.GOOS, "TARGETARCH": runtime.GOARCH,
		"VERSION": testVersion, "COMMIT": "0123456789abcdef", "BUILD_TIME": "2026-01-02T03:04:05Z",
	}
	env, argv, err := commandWords(run, args)
	if err != nil {
		return err
	}
	for i := range argv {
		if argv[i] == "-o" && i+1 < len(argv) {
			argv[i+1] = out
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w\n%s", strings.Join(append(env, argv...), " "), err, stderr.Bytes())
	}
	return nil
}

// commandWords splits a RUN line into its leading NAME=value assignments
// and the command, expanding ${NAME} from args. It knows the shell
// syntax the Dockerfile uses (words, double quotes, ${NAME}) and refuses
// anything else rather than guess.
func commandWords(line string, args map[string]string) (env, argv []string, err error) {
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '"':
			quoted = !quoted
			inWord = true
		case c == '$' && i+1 < len(line) && line[i+1] == '{':
			end := strings.IndexByte(line[i:], '}')
			if end < 0 {
				return nil, nil, fmt.Errorf("RUN %q: unterminated ${", line)
			}
			name := line[i+2 : i+end]
			v, ok := args[name]
			if !ok {
				return nil, nil, fmt.Errorf("RUN %q: no test value for ${%s}", line, name)
			}
			cur.WriteString(v)
			inWord = true
			i += end
		case (c == ' ' || c == '\t') && !quoted:
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case strings.IndexByte("'`\\;|&<>$*?", c) >= 0:
			return nil, nil, fmt.Errorf("RUN %q: %q is beyond this test's shell", line, c)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quoted {
		return nil, nil, fmt.Errorf("RUN %q: unterminated quote", line)
	}
	if inWord {
		words = append(words, cur.String())
	}
	for len(words) > 0 && strings.Contains(words[0], "=") && !strings.HasPrefix(words[0], "-") {
		env = append(env, words[0])
		words = words[1:]
	}
	if len(words) == 0 {
		return nil, nil, errors.New("RUN has no command")
	}
	return env, words, nil
}

// parseArgs runs the real command-line parser on args (without running
// the command) and returns the command it selected. The files args name
// are the deployment's, not this machine's: an absolute path that does
// not exist here is replaced by an empty file (serve --config wants one
// that exists).
func parseArgs(t *testing.T, args []string) string {
	t.Helper()
	args = slices.Clone(args)
	for i, a := range args {
		if !filepath.IsAbs(a) {
			continue
		}
		if _, err := os.Stat(a); err == nil {
			continue
		}
		stand := filepath.Join(t.TempDir(), filepath.Base(a))
		if err := os.WriteFile(stand, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		args[i] = stand
	}
	var c cli.CLI
	var stdout, stderr bytes.Buffer
	rt := &cli.Runtime{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
	parser, err := kong.New(&c, append(cli.KongOptions(t.Context(), rt), kong.Exit(func(code int) {
		t.Fatalf("portcullis %s: the parser exited with %d: %s", strings.Join(args, " "), code, stderr.Bytes())
	}))...)
	if err != nil {
		t.Fatal(err)
	}
	kctx, err := parser.Parse(args)
	if err != nil {
		t.Fatalf("portcullis %s: %v", strings.Join(args, " "), err)
	}
	return kctx.Command()
}

// validateConfig runs `portcullis config validate FILE --roles ROLES`
// through the real command line.
func validateConfig(t *testing.T, file string, roles string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	rt := &cli.Runtime{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Getenv: func(string) string { return "" }}
	args := []string{"config", "validate", file}
	if roles != "" {
		args = append(args, "--roles", roles)
	}
	if err := cli.Execute(t.Context(), args, rt); err != nil {
		t.Errorf("portcullis %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
}

// isStatic reports why the ELF file at path is not a static executable,
// or "" when it is: no program interpreter (PT_INTERP), no dynamic
// section, no shared libraries.
func isStatic(path string) (string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_INTERP:
			return "it has a program interpreter (PT_INTERP)", nil
		case elf.PT_DYNAMIC:
			return "it has a dynamic section (PT_DYNAMIC)", nil
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		return "", err
	}
	if len(libs) > 0 {
		return fmt.Sprintf("it links %v", libs), nil
	}
	return "", nil
}
