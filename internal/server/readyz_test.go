package server

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/internal/store"
)

// readyzOf calls /readyz on w and decodes its answer.
func readyzOf(t *testing.T, w *wiring) (int, readiness) {
	t.Helper()
	rec := httptest.NewRecorder()
	w.readyz(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var rd readiness
	if err := json.Unmarshal(rec.Body.Bytes(), &rd); err != nil {
		t.Fatalf("/readyz body %q: %v", rec.Body.String(), err)
	}
	return rec.Code, rd
}

func TestReadyzBeforeKeysLoad(t *testing.T) {
	t.Parallel()
	w := &wiring{logger: slog.New(slog.DiscardHandler), roles: AllRoles()}
	code, rd := readyzOf(t, w)
	if code != http.StatusServiceUnavailable || rd.Status != "not_ready" {
		t.Errorf("status %d %q, want 503 not_ready", code, rd.Status)
	}
	if c := rd.Checks["signing_keys"]; c.Status != checkFailed || c.Detail != "signing keys not loaded" {
		t.Errorf("signing_keys = %+v", c)
	}
	if c := rd.Checks["issuer_keys"]; c.Status != checkFailed {
		t.Errorf("issuer_keys = %+v, want failed (no gateway yet)", c)
	}
}

// closedStore is a store whose every call fails, as during an outage.
func closedStore(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "p.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestReadyzStoreOutage: without its store an authorization server is
// not ready; a gateway-only node is degraded but stays in rotation (it
// still serves cached tokens and its last route table).
func TestReadyzStoreOutage(t *testing.T) {
	t.Parallel()
	db := closedStore(t)
	for _, c := range []struct {
		roles  []Role
		code   int
		status string
	}{
		{[]Role{RoleAuthz}, http.StatusServiceUnavailable, checkFailed},
		{[]Role{RoleAdmin}, http.StatusOK, checkDegraded},
	} {
		w := &wiring{logger: slog.New(slog.DiscardHandler), roles: c.roles, db: db}
		w.keysReady.Store(true)
		code, rd := readyzOf(t, w)
		if code != c.code || rd.Checks["store"].Status != c.status || rd.Checks["store"].Detail != "store unreachable" {
			t.Errorf("roles %v: %d %+v, want %d and store %s", c.roles, code, rd, c.code, c.status)
		}
	}
}

// TestReadyzRedisOutage: an unreachable Redis is reported, degraded, and
// does not take the node out of rotation (limits follow their
// on_backend_error mode).
func TestReadyzRedisOutage(t *testing.T) {
	t.Parallel()
	// Port 1 on loopback: nothing listens, the dial is refused at once.
	rc := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { _ = rc.Close() })
	w := &wiring{logger: slog.New(slog.DiscardHandler), roles: []Role{RoleAdmin}, redis: rc}
	code, rd := readyzOf(t, w)
	if code != http.StatusOK || rd.Status != "ready" || rd.Checks["redis"].Status != checkDegraded {
		t.Errorf("/readyz = %d %+v, want 200 ready with redis degraded", code, rd)
	}
}

// TestReadyzAllGood: a started node answers 200 with every check ok.
func TestReadyzAllGood(t *testing.T) {
	t.Parallel()
	r := startTest(t, testConfig(t))
	code, body := get(t, r.AdminURL+"/readyz")
	var rd readiness
	if err := json.Unmarshal([]byte(body), &rd); err != nil {
		t.Fatalf("%q: %v", body, err)
	}
	if code != http.StatusOK || rd.Status != "ready" {
		t.Fatalf("/readyz = %d %q", code, body)
	}
	for _, name := range []string{"signing_keys", "store"} {
		if rd.Checks[name].Status != checkOK {
			t.Errorf("check %s = %+v, want ok", name, rd.Checks[name])
		}
	}
}
