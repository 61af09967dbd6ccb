package store

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/portcullis/portcullis/internal/store/storetest"
)

// postgresEnv names the DSN of a PostgreSQL server the tests may create
// schemas in, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const postgresEnv = "PORTCULLIS_TEST_POSTGRES"

// postgresDSN returns the server DSN or skips the test.
func postgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(postgresEnv)
	if dsn == "" {
		t.Skip("set PORTCULLIS_TEST_POSTGRES=postgres://... to run the PostgreSQL store tests")
	}
	return dsn
}

// freshSchema is a PostgreSQL schema of the test's own.
func freshSchema(t testing.TB, dsn string) string { return storetest.FreshSchema(t, dsn) }

func TestPostgres(t *testing.T) {
	server := postgresDSN(t)
	runContract(t, func(t *testing.T) *DB {
		db := openMigrated(t, freshSchema(t, server))
		if got := db.Dialect(); got != "postgres" {
			t.Fatalf("Dialect() = %q, want postgres", got)
		}
		return db
	})
}

// TestPostgresMigrateConcurrently starts several nodes on one empty schema
// at once: goose's advisory lock must let each migration run exactly once.
func TestPostgresMigrateConcurrently(t *testing.T) {
	dsn := freshSchema(t, postgresDSN(t))
	ctx := context.Background()
	const nodes = 4
	dbs := make([]*DB, nodes)
	for i := range dbs {
		db, err := Open(ctx, dsn, testLogger(t))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { _ = db.Close() })
		dbs[i] = db
	}
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i, db := range dbs {
		wg.Go(func() { errs[i] = db.Migrate(ctx) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("node %d: Migrate: %v", i, err)
		}
	}
	for i, db := range dbs {
		if err := db.CreateClient(ctx, Client{ID: string(rune('a' + i))}); err != nil {
			t.Errorf("node %d: CreateClient: %v", i, err)
		}
	}
	got, err := dbs[0].ListClients(ctx)
	if err != nil {
		t.Fatalf("ListClients: %v", err)
	}
	if len(got) != nodes {
		t.Errorf("ListClients = %d clients, want %d (one per node)", len(got), nodes)
	}
}

func TestPostgresOpenErrorsHideThePassword(t *testing.T) {
	ctx := context.Background()
	// Nothing listens on port 1, so this fails fast without a server.
	const secret = "s3cret-pa55word"
	_, err := Open(ctx, "postgres://portcullis:"+secret+"@127.0.0.1:1/db?connect_timeout=2", testLogger(t))
	if err == nil {
		t.Fatal("Open of an unreachable server succeeded")
	}
	if got := err.Error(); strings.Contains(got, secret) {
		t.Errorf("Open error %q reveals the password", got)
	}
	_, err = Open(ctx, "postgres://portcullis:"+secret+"@127.0.0.1:1/db?sslmode=bogus", testLogger(t))
	if err == nil {
		t.Fatal("Open with a bad sslmode succeeded")
	}
	if got := err.Error(); strings.Contains(got, secret) {
		t.Errorf("Open error %q reveals the password", got)
	}
}
