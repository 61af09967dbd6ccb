package keys

import (
	"context"
	"crypto/rand"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/storetest"
)

// TestInitConcurrentNodesPostgres starts the key managers of several
// nodes at once on one empty PostgreSQL store: the key set lock lets the
// first generate the keys and the others find them, so each use ends up
// with one active key and one next key, not one of each per node.
func TestInitConcurrentNodesPostgres(t *testing.T) {
	dsn := os.Getenv(storetest.PostgresEnv)
	if dsn == "" {
		t.Skip("set " + storetest.PostgresEnv + "=postgres://... to run the PostgreSQL key tests")
	}
	dsn = storetest.FreshSchema(t, dsn)
	ctx := context.Background()
	master := make([]byte, 32)
	if _, err := rand.Read(master); err != nil {
		t.Fatal(err)
	}
	const nodes = 4
	managers := make([]*Manager, nodes)
	var first *store.DB
	for i := range managers {
		db, err := store.Open(ctx, dsn, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = db
		}
		if managers[i], err = NewManager(db, master, Config{}, slog.New(slog.DiscardHandler), time.Now); err != nil {
			t.Fatal(err)
		}
	}
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i, m := range managers {
		wg.Go(func() { errs[i] = m.Init(ctx) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: Init: %v", i, err)
		}
	}
	rows, err := first.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	count := map[Use]map[string]int{}
	for _, k := range rows {
		if count[Use(k.Use)] == nil {
			count[Use(k.Use)] = map[string]int{}
		}
		count[Use(k.Use)][stateOf(k)]++
	}
	for _, use := range uses {
		if got := count[use]; got[StateActive] != 1 || got[StateNext] != 1 || len(rows) != 2*len(uses) {
			t.Errorf("%s keys after %d concurrent starts: %v (of %d rows), want one active and one next", use, nodes, got, len(rows))
		}
	}
	// Every node signs with the same key.
	for i, m := range managers[1:] {
		a, b := managers[0].snap.Load().active[UseAccess], m.snap.Load().active[UseAccess]
		if a == nil || b == nil || a.row.KID != b.row.KID {
			t.Errorf("node %d signs access tokens with another key than node 0", i+1)
		}
	}
}
