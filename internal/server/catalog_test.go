package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/store"
)

const shopDoc = `apis:
  - name: shop
    version: v1
    base_path: /shop
    upstream: %s
    public: true
    operations:
      - {method: GET, path: /hello}
    state: %s
`

// applyDoc applies a catalog document through a management installation
// of cfg, as `portcullis apply --yes` does.
func applyDoc(t *testing.T, cfg *config.Config, doc string) {
	t.Helper()
	in, err := OpenInstallation(t.Context(), cfg, noEnv, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	d, err := catalog.ParseDocument("apply.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	svc := in.Catalog()
	plan, err := svc.Plan(t.Context(), d)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	if err := svc.Apply(t.Context(), plan); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

// eventually retries check until it returns nil or within passes.
func eventually(t *testing.T, within time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %v", within, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestGatewayFollowsTheCatalog(t *testing.T) {
	t.Parallel()
	upstream := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(rw, "hello from "+r.URL.Path)
	}))
	t.Cleanup(upstream.Close)
	cfg := testConfig(t)
	const poll = 100 * time.Millisecond
	cfg.Gateway.CatalogPoll = config.Duration(poll)
	r := startTest(t, cfg)

	if code, _ := get(t, r.GatewayURL+"/shop/hello"); code != http.StatusNotFound {
		t.Fatalf("before apply: GET /shop/hello = %d, want 404", code)
	}
	applyDoc(t, cfg, fmt.Sprintf(shopDoc, upstream.URL, "published"))
	// Within the poll interval, plus the time a rebuild takes.
	eventually(t, 10*poll, func() error {
		code, body := get(t, r.GatewayURL+"/shop/hello")
		if code != http.StatusOK || body != "hello from /hello" {
			return fmt.Errorf("GET /shop/hello = %d %q", code, body)
		}
		return nil
	})

	// Deprecated with a sunset: still served, announcing both (RFC 9745,
	// RFC 8594).
	applyDoc(t, cfg, strings.Replace(fmt.Sprintf(shopDoc, upstream.URL, "deprecated"),
		"state: deprecated", "state: deprecated\n    sunset: 2030-01-02T03:04:05Z", 1))
	eventually(t, 10*poll, func() error {
		resp, err := http.Get(r.GatewayURL + "/shop/hello")
		if err != nil {
			return err
		}
		resp.Body.Close()
		dep, sunset := resp.Header.Get("Deprecation"), resp.Header.Get("Sunset")
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(dep, "@") || sunset != "Wed, 02 Jan 2030 03:04:05 GMT" {
			return fmt.Errorf("GET /shop/hello = %d, Deprecation %q, Sunset %q", resp.StatusCode, dep, sunset)
		}
		return nil
	})

	// Retired: gone from the table.
	applyDoc(t, cfg, strings.Replace(fmt.Sprintf(shopDoc, upstream.URL, "retired"),
		"state: retired", "state: retired\n    sunset: 2030-01-02T03:04:05Z", 1))
	eventually(t, 10*poll, func() error {
		if code, _ := get(t, r.GatewayURL+"/shop/hello"); code != http.StatusNotFound {
			return fmt.Errorf("GET /shop/hello = %d after retiring, want 404", code)
		}
		return nil
	})

	code, body := get(t, r.AdminURL+"/metrics")
	if code != http.StatusOK || !strings.Contains(body, "portcullis_gateway_catalog_sync_age_seconds") {
		t.Errorf("/metrics lacks portcullis_gateway_catalog_sync_age_seconds")
	}
	if code, body := get(t, r.AdminURL+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz = %d %q, want 200", code, body)
	}
}

// flakyStore is a catalog store whose reads fail while down is set.
type flakyStore struct {
	mu   sync.Mutex
	down bool
	rev  int64
}

var errDown = errors.New("connection refused")

func (s *flakyStore) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return errDown
	}
	return nil
}

func (s *flakyStore) CatalogRevision(context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return 0, errDown
	}
	return s.rev, nil
}

func (s *flakyStore) ListAPIVersions(context.Context) ([]store.APIVersion, error) {
	return nil, s.err()
}

func (s *flakyStore) ListPlans(context.Context) ([]store.Plan, error)   { return nil, s.err() }
func (s *flakyStore) ListGroups(context.Context) ([]store.Group, error) { return nil, s.err() }

// countingReloader counts the route tables swapped in.
type countingReloader struct{ n int }

func (c *countingReloader) Reload(context.Context, catalog.Snapshot) error {
	c.n++
	return nil
}

func TestCatalogSyncOutageKeepsTheTable(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	st := &flakyStore{rev: 1}
	g := &countingReloader{}
	cs := newCatalogSync(st, newStoreSource(st, catalog.Snapshot{}, discardLogger()), g, clock, discardLogger())
	cs.initial(t.Context())
	ctx := t.Context()

	// Same revision: no rebuild.
	if err := cs.sync(ctx); err != nil || g.n != 0 {
		t.Fatalf("sync at the same revision: %v, %d reloads; want none", err, g.n)
	}
	st.rev = 2
	if err := cs.sync(ctx); err != nil || g.n != 1 {
		t.Fatalf("sync after a write: %v, %d reloads; want 1", err, g.n)
	}

	st.down = true
	now = now.Add(7 * time.Second)
	if err := cs.sync(ctx); !errors.Is(err, errDown) || g.n != 1 {
		t.Fatalf("sync during an outage: %v, %d reloads; want the error and no reload", err, g.n)
	}
	ok, detail := cs.status()
	if ok || detail != "gateway: catalog unreadable (last synced 7s ago); serving catalog revision 2" {
		t.Fatalf("status() = %v, %q", ok, detail)
	}
	w := &wiring{catalog: cs}
	rec := httptest.NewRecorder()
	w.readyz(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"catalog_sync":{"status":"degraded","detail":"`+detail+`"}`) {
		t.Errorf("/readyz = %d %q, want 200 with the detail", rec.Code, rec.Body.String())
	}
	if age := cs.age(now); age != 7 {
		t.Errorf("age = %v, want 7", age)
	}

	// Back: caught up at once, even at the same revision.
	st.down = false
	if err := cs.sync(ctx); err != nil || g.n != 2 {
		t.Fatalf("sync after the outage: %v, %d reloads; want a rebuild", err, g.n)
	}
	if ok, _ := cs.status(); !ok || cs.age(now) != 0 {
		t.Errorf("after recovery: status ok %v, age %v", ok, cs.age(now))
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
