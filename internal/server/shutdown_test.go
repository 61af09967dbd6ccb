package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/config"
)

// TestGracefulDrain: told to stop, a node with shutdown.drain_delay keeps
// serving while /readyz fails, then stops accepting and lets the request
// in flight finish within shutdown.grace; Close reports a clean stop.
func TestGracefulDrain(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			started <- struct{}{}
			<-release
		}
		_, _ = io.WriteString(w, "done")
	}))
	t.Cleanup(backend.Close)

	cfg := testConfig(t)
	cfg.Gateway.APIs = []catalog.API{{Name: "slow", BasePath: "/slow-api", Upstream: backend.URL, Public: true,
		Operations: []catalog.Operation{{Method: "GET", Path: "/slow"}, {Method: "GET", Path: "/fast"}}}}
	const drainDelay = 1500 * time.Millisecond
	cfg.Shutdown = config.Shutdown{DrainDelay: config.Duration(drainDelay), Grace: config.Duration(10 * time.Second)}
	r, err := Start(t.Context(), cfg, nil, WithGetenv(noEnv))
	if err != nil {
		t.Fatal(err)
	}

	// A request in flight when the stop comes.
	inflight := make(chan error, 1)
	go func() {
		// Not get: t.Fatal belongs to the test's goroutine.
		resp, err := http.Get(r.GatewayURL + "/slow-api/slow")
		if err != nil {
			inflight <- err
			return
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != "done" {
			inflight <- &unexpected{resp.StatusCode, string(body)}
			return
		}
		inflight <- nil
	}()
	<-started

	closed := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		closed <- r.Close(ctx)
	}()

	// While draining: /readyz fails with the reason, requests still pass.
	deadline := time.Now().Add(drainDelay)
	var sawDraining bool
	for time.Now().Before(deadline) && !sawDraining {
		code, body := get(t, r.AdminURL+"/readyz")
		var rd readiness
		_ = json.Unmarshal([]byte(body), &rd)
		if code == http.StatusServiceUnavailable && rd.Checks["shutdown"].Detail == "draining before shutdown" {
			sawDraining = true
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !sawDraining {
		t.Fatal("/readyz never reported draining")
	}
	if code, body := get(t, r.GatewayURL+"/slow-api/fast"); code != http.StatusOK {
		t.Fatalf("a request while draining: %d %q, want 200", code, body)
	}

	// Past the drain the listener stops accepting; the slow request is
	// still owed its answer.
	time.Sleep(drainDelay)
	close(release)
	if err := <-inflight; err != nil {
		t.Fatalf("the request in flight: %v", err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := http.Get(r.GatewayURL + "/slow-api/fast"); err == nil {
		t.Fatal("the stopped node still accepts connections")
	}
}

type unexpected struct {
	code int
	body string
}

func (u *unexpected) Error() string { return http.StatusText(u.code) + ": " + u.body }
