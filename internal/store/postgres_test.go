package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
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

// freshSchema creates a uniquely named schema, drops it when the test ends,
// and returns a DSN whose search_path points at it, so parallel and CI runs
// never see each other's tables.
func freshSchema(t testing.TB, dsn string) string {
	t.Helper()
	ctx := context.Background()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	schema := "portcullis_test_" + hex.EncodeToString(b[:])
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to %s: %v", postgresEnv, err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("connect to drop schema: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parse %s: %v", postgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

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
