package server

import (
	"database/sql"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/config"
)

// TestEveryRoleSubsetRuns starts each combination of roles with the
// background loops ticking every second and lets several ticks pass: a
// loop of a role the node does not run (key reload or purge on a
// gateway-only node) would panic on its first tick and end the test binary.
func TestEveryRoleSubsetRuns(t *testing.T) {
	all := AllRoles()
	for mask := 1; mask < 1<<len(all); mask++ {
		var roles []Role
		for i, r := range all {
			if mask&(1<<i) != 0 {
				roles = append(roles, r)
			}
		}
		name := strings.Join(rolesToStrings(roles), "+")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t)
			cfg.PurgeInterval = config.Duration(time.Second)
			cfg.Keys.ReloadInterval = config.Duration(time.Second)
			var logs syncBuffer
			logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			r, err := Start(t.Context(), cfg, logger, WithGetenv(noEnv), WithRoles(roles...))
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			time.Sleep(3500 * time.Millisecond) // three ticks of each loop
			if slices.Contains(roles, RoleAdmin) {
				if status, body := get(t, r.AdminURL+"/readyz"); status != http.StatusOK {
					t.Errorf("readyz: status %d: %s", status, body)
				}
			}
			closeRunning(t, r)
			if slices.Contains(roles, RoleAuthz) && !strings.Contains(logs.String(), "msg=purged") {
				t.Errorf("the authz role ran no purge in three seconds:\n%s", logs.String())
			}
			if strings.Contains(logs.String(), "level=ERROR") {
				t.Errorf("errors logged:\n%s", logs.String())
			}
		})
	}
}

// TestGatewayOnlyNodeDoesNotMigrate: migrations belong to `migrate` and
// the authorization server; a gateway node only reads the store.
func TestGatewayOnlyNodeDoesNotMigrate(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	r := startTest(t, cfg, WithRoles(RoleGateway))
	closeRunning(t, r)
	db, err := sql.Open("sqlite", filepath.Join(cfg.DataDir, "portcullis.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'table'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("a gateway-only node created %d tables, want none", n)
	}
}

// TestAdminServesOnlyFinishedParts polls /readyz and the admin API from
// before Start returns: under -race, a handler that read the gateway
// while Start was still building it would be reported.
func TestAdminServesOnlyFinishedParts(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := testConfig(t)
	cfg.Listen.Admin = addr
	client := &http.Client{Timeout: 5 * time.Second}
	t.Cleanup(client.CloseIdleConnections)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, path := range []string{"/readyz", "/admin/v1/blocks", "/admin/v1/quotas/x"} {
				if resp, err := client.Get("http://" + addr + path); err == nil {
					resp.Body.Close()
				}
			}
		}
	})
	r := startTest(t, cfg)
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	if status, body := get(t, r.AdminURL+"/readyz"); status != http.StatusOK {
		t.Errorf("readyz: status %d: %s", status, body)
	}
}
