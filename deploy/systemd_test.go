package deploy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

const unitFile = "systemd/portcullis.service"

// unit is a parsed systemd unit: section, then key, then its values in
// file order (a key may repeat, as SystemCallFilter does).
type unit map[string]map[string][]string

// parseUnit reads the INI syntax of systemd.syntax(7): [Section] lines,
// KEY=VALUE lines, # and ; comments, backslash continuations.
func parseUnit(file string) (unit, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	u := unit{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	var pending string
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if pending == "" && (line == "" || line[0] == '#' || line[0] == ';') {
			continue
		}
		if cont, ok := strings.CutSuffix(line, "\\"); ok {
			pending += cont + " "
			continue
		}
		line, pending = pending+line, ""
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = line[1 : len(line)-1]
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok || section == "" {
			return nil, fmt.Errorf("%s:%d: not KEY=VALUE inside a section", file, n)
		}
		key = strings.TrimSpace(key)
		u[section][key] = append(u[section][key], strings.TrimSpace(value))
	}
	return u, sc.Err()
}

// one returns the single value of key in [Service].
func (u unit) one(t *testing.T, key string) string {
	t.Helper()
	v := u["Service"][key]
	if len(v) != 1 {
		t.Errorf("[Service] %s is set %d times, want once", key, len(v))
		return ""
	}
	return v[0]
}

// command splits an Exec line into words; the unit uses no quoting.
func command(t *testing.T, line string) []string {
	t.Helper()
	if strings.ContainsAny(line, `"'\`) {
		t.Fatalf("%q: quoting is beyond this test's splitter", line)
	}
	return strings.Fields(strings.TrimLeft(line, "-@:+!"))
}

func TestSystemdUnit(t *testing.T) {
	u, err := parseUnit(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"DynamicUser":             "yes",
		"StateDirectory":          "portcullis",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"PrivateDevices":          "yes",
		"NoNewPrivileges":         "yes",
		"CapabilityBoundingSet":   "",
		"AmbientCapabilities":     "",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		"MemoryDenyWriteExecute":  "yes",
		"LockPersonality":         "yes",
		"RestrictNamespaces":      "yes",
		"RestrictSUIDSGID":        "yes",
		"SystemCallArchitectures": "native",
		"ProtectKernelTunables":   "yes",
		"ProtectKernelModules":    "yes",
		"ProtectControlGroups":    "yes",
		"KillSignal":              "SIGTERM",
		"ExecReload":              "/bin/kill -HUP $MAINPID",
	}
	for key, v := range want {
		if got := u.one(t, key); got != v {
			t.Errorf("[Service] %s=%s, want %s=%s", key, got, key, v)
		}
	}
	if f := u["Service"]["SystemCallFilter"]; len(f) == 0 || f[0] != "@system-service" {
		t.Errorf("SystemCallFilter=%q; want @system-service first", f)
	}
	if env := u.one(t, "EnvironmentFile"); env == "" || strings.HasPrefix(env, "-") {
		t.Errorf("EnvironmentFile=%q: want the master key file, required (no leading -)", env)
	}

	// Every command the unit runs parses with the binary's own parser.
	start := command(t, u.one(t, "ExecStart"))
	if filepath.Base(start[0]) != "portcullis" {
		t.Fatalf("ExecStart runs %s", start[0])
	}
	if cmd := parseArgs(t, start[1:]); cmd != "serve" {
		t.Errorf("ExecStart runs %q, want serve", cmd)
	}
	for _, pre := range u["Service"]["ExecStartPre"] {
		argv := command(t, pre)
		if filepath.Base(argv[0]) != "portcullis" {
			continue
		}
		if cmd := parseArgs(t, argv[1:]); cmd != "config validate <file>" {
			t.Errorf("ExecStartPre runs %q", cmd)
		}
	}
}

// TestSystemdAnalyze asks systemd itself about the unit, where this
// machine has systemd-analyze: the unit verifies, and its exposure score
// stays low.
func TestSystemdAnalyze(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (apt-get install systemd): the unit is checked by TestSystemdUnit alone")
	}
	bin := binary(t)
	// verify wants the executables to exist: point at the built binary.
	data, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(t.TempDir(), "portcullis.service")
	if err := os.WriteFile(local, bytes.ReplaceAll(data, []byte("/usr/local/bin/portcullis"), []byte(bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, sa, "verify", local).CombinedOutput(); err != nil {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	// Threshold 20 is an exposure level of 2.0 ("OK"); the unit scores
	// 1.4 with systemd 252.
	if out, err := exec.CommandContext(ctx, sa, "security", "--offline=true", "--threshold=20", local).CombinedOutput(); err != nil {
		t.Errorf("systemd-analyze security: %v\n%s", err, out)
	}
}

// TestSystemdRun starts the built binary as the unit does: its ExecStart
// flags, as an unprivileged user, a configuration it can only read, a
// state directory it owns, the master key from an environment file. It
// waits for /healthz on the admin listener, reloads with SIGHUP and stops
// with SIGTERM, which must end the process with status 0.
func TestSystemdRun(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the binary as another user (nobody), as DynamicUser does; run the tests as root to cover it")
	}
	bin := binary(t)
	u, err := parseUnit(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	const nobody = 65534

	// /etc/portcullis: root's, read-only to the service.
	// Not t.TempDir: its parent is private to root, and nobody must
	// reach the state directory.
	base, err := os.MkdirTemp("", "portcullis-systemd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(base) })
	etc := filepath.Join(base, "etc")
	state := filepath.Join(base, "state") // StateDirectory: the service's own
	for _, d := range []string{base, etc} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(state, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	authz, admin, gateway := freePort(t), freePort(t), freePort(t)
	cfgFile := filepath.Join(etc, "portcullis.yaml")
	cfg := fmt.Sprintf("issuer: http://%s\nlisten:\n  authz: %s\n  admin: %s\n  gateway: %s\ndata_dir: %s\nlog:\n  format: text\n",
		authz, authz, admin, gateway, state)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o444); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	envFile := filepath.Join(etc, "master.env")
	if err := os.WriteFile(envFile, []byte("PORTCULLIS_MASTER_KEY="+base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// systemd reads EnvironmentFile as root, before it drops to the user.
	env, err := readEnvFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	env = append(env, "PATH=/usr/bin:/bin", "HOME=/nonexistent")
	etcBefore := tree(t, etc)

	run := func(ctx context.Context, line string) *exec.Cmd {
		argv := command(t, line)
		for i, a := range argv {
			if strings.HasSuffix(a, "/portcullis.yaml") {
				argv[i] = cfgFile
			}
		}
		cmd := exec.CommandContext(ctx, bin, argv[1:]...)
		cmd.Dir = state // WorkingDirectory
		cmd.Env = env
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		return cmd
	}

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	for _, pre := range u["Service"]["ExecStartPre"] {
		if out, err := run(ctx, pre).CombinedOutput(); err != nil {
			t.Fatalf("ExecStartPre %s: %v\n%s", pre, err, out)
		}
	}

	cmd := run(ctx, u.one(t, "ExecStart"))
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			_ = cmd.Process.Kill()
			<-exited
		}
	}()

	healthz := "http://" + admin + "/healthz"
	if err := waitHealthy(ctx, healthz, exited); err != nil {
		t.Fatalf("%v\nlogs:\n%s", err, logs.Bytes())
	}
	// ExecReload: SIGHUP reloads, and the node keeps serving.
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if err := waitHealthy(ctx, healthz, exited); err != nil {
		t.Fatalf("after SIGHUP: %v\nlogs:\n%s", err, logs.Bytes())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("after SIGTERM: %v (want exit status 0)\nlogs:\n%s", err, logs.Bytes())
		}
	case <-time.After(45 * time.Second):
		t.Fatalf("still running 45s after SIGTERM\nlogs:\n%s", logs.Bytes())
	}

	// It wrote only where the unit lets it: the state directory.
	if after := tree(t, etc); !slices.Equal(etcBefore, after) {
		t.Errorf("the service changed its configuration directory:\nbefore %q\nafter  %q", etcBefore, after)
	}
	fi, err := os.Stat(filepath.Join(state, "portcullis.db"))
	if err != nil {
		t.Fatalf("no database in the state directory: %v", err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != nobody {
		t.Errorf("portcullis.db is owned by uid %d, want %d", st.Uid, nobody)
	}
}

// waitHealthy polls url until it answers 200, the process exits or ctx
// ends.
func waitHealthy(ctx context.Context, url string, exited <-chan error) error {
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-exited:
			return fmt.Errorf("the process exited before %s answered: %v", url, err)
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", url, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// freePort returns a loopback address whose port was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// readEnvFile reads KEY=VALUE lines as systemd's EnvironmentFile does
// (without its quoting, which the documented file does not use).
func readEnvFile(file string) ([]string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var env []string
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if !strings.Contains(line, "=") {
			return nil, errors.New(file + ": a line is not KEY=VALUE")
		}
		env = append(env, line)
	}
	return env, nil
}

// tree lists every path under dir with its mode.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		out = append(out, fmt.Sprintf("%s %v %d", p, fi.Mode(), fi.Size()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
