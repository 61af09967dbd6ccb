package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/cli"
	"github.com/portcullis/portcullis/internal/config"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, ...
	args string
	line int
}

// stage is a FROM and the instructions after it.
type stage struct {
	from, name string
	body       []instruction
}

type dockerfile struct {
	stages []stage
}

// parseDockerfile reads the instructions of a Dockerfile: comments and
// blank lines dropped, backslash continuations joined.
func parseDockerfile(file string) (*dockerfile, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	df := &dockerfile{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	var pending strings.Builder
	start, n := 0, 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || line == "" && pending.Len() == 0 {
			continue
		}
		if pending.Len() == 0 {
			start = n
		}
		if cont, ok := strings.CutSuffix(line, "\\"); ok {
			pending.WriteString(cont)
			pending.WriteByte(' ')
			continue
		}
		pending.WriteString(line)
		text := pending.String()
		pending.Reset()
		cmd, args, _ := strings.Cut(text, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			st := stage{}
			for i := 0; i < len(f); i++ {
				switch {
				case strings.HasPrefix(f[i], "--"):
				case strings.EqualFold(f[i], "AS") && i+1 < len(f):
					st.name = f[i+1]
					i++
				default:
					st.from = f[i]
				}
			}
			df.stages = append(df.stages, st)
			continue
		}
		if len(df.stages) == 0 {
			continue // ARG before the first FROM
		}
		last := &df.stages[len(df.stages)-1]
		last.body = append(last.body, in)
	}
	if pending.Len() > 0 {
		return nil, errors.New("Dockerfile ends in a continuation line")
	}
	return df, sc.Err()
}

// all returns the instructions of s named cmd.
func (s stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.body {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// goBuild returns the RUN of the build stage that runs go build.
func (df *dockerfile) goBuild() (string, error) {
	var found []string
	for _, st := range df.stages {
		for _, in := range st.all("RUN") {
			if strings.Contains(in.args, "go build") {
				found = append(found, in.args)
			}
		}
	}
	if len(found) != 1 {
		return "", fmt.Errorf("want one RUN with go build in the Dockerfile, found %d", len(found))
	}
	return found[0], nil
}

// exec reads an exec-form (JSON array) ENTRYPOINT or CMD.
func execForm(t *testing.T, in instruction) []string {
	t.Helper()
	var argv []string
	if err := json.Unmarshal([]byte(in.args), &argv); err != nil {
		t.Fatalf("Dockerfile:%d: %s is not in exec form (a JSON array): distroless has no shell to run it", in.line, in.cmd)
	}
	return argv
}

func TestDockerfile(t *testing.T) {
	df, err := parseDockerfile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if len(df.stages) < 2 {
		t.Fatalf("%d stages; want a build stage and a minimal final one", len(df.stages))
	}
	final := df.stages[len(df.stages)-1]
	minimal := strings.HasPrefix(final.from, "gcr.io/distroless/static") || final.from == "scratch"
	if !minimal {
		t.Errorf("final stage FROM %s; want distroless static or scratch", final.from)
	}

	t.Run("build", func(t *testing.T) {
		run, err := df.goBuild()
		if err != nil {
			t.Fatal(err)
		}
		env, argv, err := commandWords(run, map[string]string{"TARGETOS": "linux", "TARGETARCH": "amd64", "VERSION": "", "COMMIT": "", "BUILD_TIME": ""})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(env, "CGO_ENABLED=0") {
			t.Errorf("go build runs without CGO_ENABLED=0 (env %q): the binary would not be static", env)
		}
		if !slices.Contains(argv, "-trimpath") {
			t.Errorf("go build lacks -trimpath: %q", argv)
		}
		target := argv[len(argv)-1]
		if target != "./cmd/portcullis" {
			t.Errorf("go build target %q, want ./cmd/portcullis", target)
		}
		if _, err := os.Stat(filepath.Join(root, target, "main.go")); err != nil {
			t.Errorf("build target: %v", err)
		}
		// The -X flags must name variables that exist, or the linker
		// ignores them silently.
		for _, w := range argv {
			for _, x := range strings.Fields(strings.TrimPrefix(w, "-ldflags=")) {
				if sym, ok := strings.CutPrefix(x, "github.com/portcullis/portcullis/internal/cli."); ok {
					name, _, _ := strings.Cut(sym, "=")
					src, err := os.ReadFile(filepath.Join(root, "internal", "cli", "version.go"))
					if err != nil || !bytes.Contains(src, []byte("\t"+name+" ")) {
						t.Errorf("-X sets internal/cli.%s, which version.go does not declare", name)
					}
				}
			}
		}
	})

	t.Run("user", func(t *testing.T) {
		users := final.all("USER")
		if len(users) == 0 {
			t.Fatal("final stage has no USER: it would run as root")
		}
		u := users[len(users)-1].args
		uid, gid, _ := strings.Cut(u, ":")
		n, err := strconv.Atoi(uid)
		if err != nil || n == 0 {
			t.Errorf("USER %s: want a numeric, non-zero uid (runAsNonRoot checks it without /etc/passwd)", u)
		}
		if gid != "" {
			if _, err := strconv.Atoi(gid); err != nil {
				t.Errorf("USER %s: the group is not numeric", u)
			}
		}
	})

	t.Run("ports", func(t *testing.T) {
		var exposed []string
		for _, in := range final.all("EXPOSE") {
			exposed = append(exposed, strings.Fields(in.args)...)
		}
		l := config.Default().Listen
		var want []string
		for _, addr := range []string{l.Authz, l.Gateway, l.Admin} {
			_, port, err := net.SplitHostPort(addr)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, port)
		}
		slices.Sort(exposed)
		slices.Sort(want)
		if !slices.Equal(exposed, want) {
			t.Errorf("EXPOSE %v; the default listen ports are %v", exposed, want)
		}
	})

	t.Run("volume and entrypoint", func(t *testing.T) {
		volumes := final.all("VOLUME")
		if len(volumes) != 1 || !strings.Contains(volumes[0].args, "/var/lib/portcullis") {
			t.Errorf("VOLUME %v; want the data directory /var/lib/portcullis", volumes)
		}
		eps, cmds := final.all("ENTRYPOINT"), final.all("CMD")
		if len(eps) != 1 || len(cmds) != 1 {
			t.Fatalf("want one ENTRYPOINT and one CMD, have %d and %d", len(eps), len(cmds))
		}
		ep, args := execForm(t, eps[0]), execForm(t, cmds[0])
		if len(ep) != 1 || path.Base(ep[0]) != "portcullis" {
			t.Errorf("ENTRYPOINT %q: want the binary alone", ep)
		}
		copied := false
		for _, in := range final.all("COPY") {
			if strings.Contains(in.args, "--from=") && strings.HasSuffix(in.args, " "+ep[0]) {
				copied = true
			}
		}
		if !copied {
			t.Errorf("no COPY --from=... puts the binary at %s", ep[0])
		}
		if cmd := parseArgs(t, args); cmd != "serve" {
			t.Errorf("CMD %q runs %q, want serve", args, cmd)
		}
		if len(final.all("HEALTHCHECK")) > 0 && minimal {
			t.Error("HEALTHCHECK in a shell-less image cannot run; document probes instead")
		}
	})
}

// TestDockerignore checks that the build context keeps every file the
// binary is built from: the packages it links and the files they embed.
func TestDockerignore(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list; skipped with -short")
	}
	data, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "!") {
			t.Fatalf(".dockerignore: exceptions (%s) are beyond this test's matcher", line)
		}
		patterns = append(patterns, line)
	}
	for _, p := range []string{".git", "**/master.key", "**/*.db"} {
		if !slices.Contains(patterns, p) {
			t.Errorf(".dockerignore lacks %s", p)
		}
	}
	list := exec.Command("go", "list", "-deps", "-f", `{{if not .Standard}}{{.Dir}}{{range .GoFiles}} {{.}}{{end}}{{range .EmbedFiles}} {{.}}{{end}}{{end}}`, "./cmd/portcullis")
	list.Dir = root
	var stderr bytes.Buffer
	list.Stderr = &stderr
	out, err := list.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	files := []string{"go.mod", "go.sum"}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		rel, err := filepath.Rel(abs, f[0])
		if err != nil || strings.HasPrefix(rel, "..") {
			continue // a module dependency, downloaded in the image
		}
		for _, name := range f[1:] {
			files = append(files, filepath.ToSlash(filepath.Join(rel, name)))
		}
	}
	if len(files) < 50 {
		t.Fatalf("go list found only %d files of the module", len(files))
	}
	for _, f := range files {
		for _, p := range patterns {
			if ignored(p, f) {
				t.Errorf(".dockerignore pattern %s leaves out %s, which the binary is built from", p, f)
			}
		}
	}
}

// ignored reports whether a .dockerignore pattern excludes file: the
// pattern matches the file or one of its parent directories; "**/"
// matches any number of directories.
func ignored(pattern, file string) bool {
	parts := strings.Split(file, "/")
	for i := 1; i <= len(parts); i++ {
		prefix := strings.Join(parts[:i], "/")
		if rest, ok := strings.CutPrefix(pattern, "**/"); ok {
			if m, _ := path.Match(rest, parts[i-1]); m {
				return true
			}
			continue
		}
		if m, _ := path.Match(pattern, prefix); m {
			return true
		}
	}
	return false
}

func TestIgnored(t *testing.T) {
	for _, tt := range []struct {
		pattern, file string
		want          bool
	}{
		{".git", ".git/config", true},
		{"docs", "docs/operations.md", true},
		{"docs", "internal/docs/x.go", false},
		{"**/master.key", "a/b/master.key", true},
		{"**/*.db", "portcullis.db", true},
		{"bench/*.sh", "bench/authz.sh", true},
		{"bench/*.sh", "bench/baseline/main.go", false},
	} {
		if got := ignored(tt.pattern, tt.file); got != tt.want {
			t.Errorf("ignored(%q, %q) = %v, want %v", tt.pattern, tt.file, got, tt.want)
		}
	}
}

// TestDockerBuild builds the binary with the Dockerfile's go build line
// and checks what the image depends on: a static executable (distroless
// static and scratch have no C library or loader) that reports the
// version it was given.
func TestDockerBuild(t *testing.T) {
	bin := binary(t)
	why, err := isStatic(bin)
	if err != nil {
		t.Fatal(err)
	}
	if why != "" {
		t.Errorf("the binary is not static: %s", why)
	}
	out, err := exec.Command(bin, "version", "--json").Output()
	if err != nil {
		t.Fatalf("portcullis version: %v", err)
	}
	var got cli.BuildInfo
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("version --json: %v\n%s", err, out)
	}
	if got.Version != testVersion || got.Commit != "0123456789abcdef" || got.BuildTime == "" {
		t.Errorf("version --json = %s; want the build arguments back", out)
	}
	if got.CGO == nil || *got.CGO {
		t.Errorf("version --json reports cgo %v; want false", got.CGO)
	}
}
