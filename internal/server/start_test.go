package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/logtest"
	"github.com/portcullis/portcullis/internal/server/servertest"
)

// testConfig is a configuration on loopback port 0 with its data in a
// fresh directory.
func testConfig(t *testing.T) *config.Config { return servertest.Config(t) }

// startTest starts the server and stops it when the test ends.
func startTest(t *testing.T, cfg *config.Config, opts ...Option) *Running {
	t.Helper()
	opts = append([]Option{WithGetenv(noEnv)}, opts...)
	r, err := Start(t.Context(), cfg, slog.New(slog.DiscardHandler), opts...)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { closeRunning(t, r) })
	return r
}

func closeRunning(t *testing.T, r *Running) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

func TestStartServesProbesAndMetrics(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	r := startTest(t, cfg)

	if !strings.HasPrefix(r.AuthzURL, "http://127.0.0.1:") || strings.HasSuffix(r.AuthzURL, ":0") {
		t.Fatalf("AuthzURL = %q, want a bound loopback address", r.AuthzURL)
	}
	if r.Issuer != r.AuthzURL {
		t.Errorf("Issuer = %q, want it derived from the bound address %q", r.Issuer, r.AuthzURL)
	}
	if r.AdminURL == "" || r.AdminURL == r.AuthzURL {
		t.Errorf("AdminURL = %q, want its own listener", r.AdminURL)
	}

	tests := []struct {
		name       string
		url        string
		wantStatus int
		wantIn     []string
	}{
		{"admin healthz", r.AdminURL + "/healthz", http.StatusOK, []string{"ok"}},
		{"admin readyz", r.AdminURL + "/readyz", http.StatusOK, []string{"ok"}},
		{"authz healthz", r.AuthzURL + "/healthz", http.StatusOK, []string{"ok"}},
		{"discovery", r.AuthzURL + "/.well-known/openid-configuration", http.StatusOK, []string{`"issuer":"` + r.Issuer + `"`}},
		{"metrics", r.AdminURL + "/metrics", http.StatusOK, []string{"go_goroutines", "process_start_time_seconds", "promhttp_metric_handler_requests_total"}},
		{"no metrics on the issuer", r.AuthzURL + "/metrics", http.StatusNotFound, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := get(t, tt.url)
			if status != tt.wantStatus {
				t.Fatalf("GET %s: status %d, want %d: %s", tt.url, status, tt.wantStatus, body)
			}
			compact := strings.ReplaceAll(body, `": "`, `":"`)
			for _, want := range tt.wantIn {
				if !strings.Contains(compact, want) {
					t.Errorf("GET %s: body lacks %q:\n%.2000s", tt.url, want, body)
				}
			}
		})
	}

	info, err := os.Stat(filepath.Join(cfg.DataDir, "master.key"))
	if err != nil {
		t.Fatalf("master key file: %v", err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("master key file mode %o, want 600", perm)
	}
}

func TestStartRolesAndShutdown(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	r, err := Start(ctx, cfg, slog.New(slog.DiscardHandler), WithGetenv(noEnv), WithRoles(RoleAdmin))
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if r.AuthzURL != "" {
		t.Errorf("AuthzURL = %q with only the admin role, want empty", r.AuthzURL)
	}
	if status, body := get(t, r.AdminURL+"/readyz"); status != http.StatusOK {
		t.Errorf("readyz: status %d: %s", status, body)
	}

	// Cancelling the context is how SIGINT/SIGTERM stop the server.
	cancel()
	select {
	case <-r.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("server did not stop after its context was cancelled")
	}
	if err := r.Wait(); err != nil {
		t.Errorf("Wait after a requested shutdown = %v, want nil", err)
	}
	if _, err := http.Get(r.AdminURL + "/healthz"); err == nil {
		t.Error("admin listener still answers after shutdown")
	}
}

func TestStartPortConflict(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := testConfig(t)
	cfg.Listen.Admin = ln.Addr().String()
	_, err = Start(t.Context(), cfg, slog.New(slog.DiscardHandler), WithGetenv(noEnv))
	if err == nil || !strings.Contains(err.Error(), "listen on "+ln.Addr().String()+" for the admin role") {
		t.Fatalf("Start on a busy port: error %v, want a listen error naming the address and role", err)
	}
	// Nothing was opened: the data directory holds no database yet.
	if _, err := os.Stat(cfg.Store.DSN); err == nil {
		t.Error("a failed start created the database")
	}
}

func TestStartRefusesUnknownRole(t *testing.T) {
	t.Parallel()
	_, err := Start(t.Context(), testConfig(t), nil, WithRoles("portal"))
	if err == nil || !strings.Contains(err.Error(), `unknown role "portal"`) {
		t.Fatalf("Start error = %v, want an unknown role error", err)
	}
}

func TestStartDiscoveryIsJSON(t *testing.T) {
	t.Parallel()
	r := startTest(t, testConfig(t))
	_, body := get(t, r.Issuer+"/.well-known/openid-configuration")
	var doc map[string]any
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("discovery is not JSON: %v", err)
	}
	if got, want := doc["token_endpoint"], r.Issuer+"/oauth2/token"; got != want {
		t.Errorf("token_endpoint = %v, want %q", got, want)
	}
}

// syncBuffer is the buffer the server's goroutines log to in tests.
type syncBuffer = logtest.Buffer

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStartLoopsRunAndStopWithoutLeaks(t *testing.T) {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	before := runtime.NumGoroutine()

	cfg := testConfig(t)
	cfg.PurgeInterval = config.Duration(time.Second) // the smallest interval config allows
	cfg.Keys.ReloadInterval = config.Duration(time.Second)
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r, err := Start(t.Context(), cfg, logger, WithGetenv(noEnv))
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	resp, err := client.Get(r.AdminURL + "/readyz")
	if err != nil {
		t.Fatalf("readyz: %v", err)
	}
	resp.Body.Close()

	waitFor(t, "a purge pass", 10*time.Second, func() bool { return strings.Contains(logs.String(), "msg=purged") })
	closeRunning(t, r)
	select {
	case <-r.Done():
	default:
		t.Fatal("Done is open after Close returned")
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("errors logged:\n%s", logs.String())
	}
	waitFor(t, "the server's goroutines to end", 10*time.Second, func() bool { return runtime.NumGoroutine() <= before })
}

// noEnv is an empty environment: no master key variable, no admin token.
func noEnv(string) string { return "" }
