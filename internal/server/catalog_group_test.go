package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/store"
)

// groupDoc stores three versions of one API: v1 for the default group
// (it names none), v2 for the edge group only, v3 (deprecated) for both.
const groupDoc = `gateway_groups:
  - name: edge
apis:
  - name: shop
    version: v1
    base_path: /shop/v1
    upstream: %[1]s
    public: true
    operations:
      - {method: GET, path: /hello}
    state: published
  - name: shop
    version: v2
    base_path: /shop/v2
    upstream: %[1]s
    public: true
    operations:
      - {method: GET, path: /hello}
    state: published
    gateways: [edge]
  - name: shop
    version: v3
    base_path: /shop/v3
    upstream: %[1]s
    public: true
    operations:
      - {method: GET, path: /hello}
    state: deprecated
    gateways: [default, edge]
`

// Two gateways on one store, one of the default group and one of the
// edge group, serve each their own versions of one API, and both the
// version the two groups share.
func TestGatewayGroupsServeTheirVersions(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			testGatewayGroups(t, backend)
		})
	}
}

func testGatewayGroups(t *testing.T, backend string) {
	upstream := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(rw, "hello from "+r.URL.Path)
	}))
	t.Cleanup(upstream.Close)
	// The management installation migrates the store, as `portcullis
	// migrate` would: nodes without the authorization server never do.
	admin := testConfig(t)
	if backend == "postgres" {
		admin.Store.DSN = testPostgres(t)
	}
	in, err := OpenInstallation(t.Context(), admin, noEnv, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	in.Close()

	const poll = 100 * time.Millisecond
	node := func(group string) *Running {
		cfg := testConfig(t)
		cfg.Store.DSN = admin.Store.DSN
		cfg.Gateway.CatalogPoll = config.Duration(poll)
		cfg.Gateway.Group = group
		return startTest(t, cfg, WithRoles(RoleGateway, RoleAdmin))
	}
	gateways := map[string]*Running{"default": node(""), "edge": node("edge")}

	applyDoc(t, admin, fmt.Sprintf(groupDoc, upstream.URL))
	want := map[string]map[string]int{
		"default": {"/shop/v1/hello": http.StatusOK, "/shop/v2/hello": http.StatusNotFound, "/shop/v3/hello": http.StatusOK},
		"edge":    {"/shop/v1/hello": http.StatusNotFound, "/shop/v2/hello": http.StatusOK, "/shop/v3/hello": http.StatusOK},
	}
	for group, paths := range want {
		r := gateways[group]
		// Within the poll interval, plus the time a rebuild takes.
		eventually(t, 50*poll, func() error {
			for path, code := range paths {
				if got, _ := get(t, r.GatewayURL+path); got != code {
					return fmt.Errorf("gateway group %s: GET %s = %d, want %d", group, path, got, code)
				}
			}
			return nil
		})
		// The shared deprecated version announces itself on both.
		resp, err := http.Get(r.GatewayURL + "/shop/v3/hello")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if dep := resp.Header.Get("Deprecation"); !strings.HasPrefix(dep, "@") {
			t.Errorf("gateway group %s: GET /shop/v3/hello Deprecation = %q, want @<unix>", group, dep)
		}
		_, metrics := get(t, r.AdminURL+"/metrics")
		if label := `portcullis_gateway_catalog_sync_age_seconds{gateway_group="` + group + `"}`; !strings.Contains(metrics, label) {
			t.Errorf("gateway group %s: /metrics lacks %s", group, label)
		}
	}
}

// The sync loop's lines and its /readyz detail name the gateway group.
func TestCatalogSyncNamesTheGroup(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	st := &downStore{rev: 1}
	cs := newCatalogSync(st, newGroupSource(st, catalog.Snapshot{}, "edge", logger), &countingReloader{}, clock, logger)
	cs.initial(t.Context())
	st.rev = 2
	if err := cs.sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	st.down = true
	_ = cs.sync(t.Context())
	for _, msg := range []string{"route table rebuilt from the catalog", "catalog sync failed"} {
		line := lineWith(logs.String(), msg)
		if !strings.Contains(line, "gateway_group=edge") {
			t.Errorf("log line %q lacks gateway_group=edge", line)
		}
	}
	if _, detail := cs.status(); !strings.HasSuffix(detail, "serving catalog revision 2 (gateway group edge)") {
		t.Errorf("status detail = %q, want it to name the gateway group", detail)
	}

	// An empty group is the default one, never "every group".
	if src := newGroupSource(st, catalog.Snapshot{}, "", logger); src.group != catalog.DefaultGatewayGroup {
		t.Errorf("newGroupSource(\"\").group = %q, want %q", src.group, catalog.DefaultGatewayGroup)
	}
}

// downStore is an empty catalog store at revision rev whose revision
// cannot be read while down is set.
type downStore struct {
	rev  int64
	down bool
}

var _ catalogStore = (*downStore)(nil)

func (s *downStore) CatalogRevision(context.Context) (int64, error) {
	if s.down {
		return 0, errors.New("connection refused")
	}
	return s.rev, nil
}

func (s *downStore) ListAPIVersions(context.Context) ([]store.APIVersion, error) { return nil, nil }
func (s *downStore) ListPlans(context.Context) ([]store.Plan, error)             { return nil, nil }
func (s *downStore) ListGroups(context.Context) ([]store.Group, error)           { return nil, nil }

// lineWith returns the first line of logs holding msg.
func lineWith(logs, msg string) string {
	for line := range strings.SplitSeq(logs, "\n") {
		if strings.Contains(line, msg) {
			return line
		}
	}
	return ""
}
