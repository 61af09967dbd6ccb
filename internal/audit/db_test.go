package audit

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/store/storetest"
)

// postgresEnv names the DSN of a PostgreSQL server the tests may create
// schemas in, as for the store's own tests.
const postgresEnv = "PORTCULLIS_TEST_POSTGRES"

// testDB is a migrated store and a raw connection to the same database,
// for changing it behind the store's back.
type testDB struct {
	db      *store.DB
	dsn     string
	raw     *sql.DB
	dialect string
}

// forEachDialect runs f against a fresh SQLite file and, when
// PORTCULLIS_TEST_POSTGRES is set, a fresh PostgreSQL schema.
func forEachDialect(t *testing.T, f func(t *testing.T, tdb *testDB)) {
	t.Run("sqlite", func(t *testing.T) {
		f(t, openTestDB(t, filepath.Join(t.TempDir(), "portcullis.db"), "sqlite"))
	})
	t.Run("postgres", func(t *testing.T) {
		server := os.Getenv(postgresEnv)
		if server == "" {
			t.Skip("set PORTCULLIS_TEST_POSTGRES=postgres://... to run the PostgreSQL tests")
		}
		f(t, openTestDB(t, freshSchema(t, server), "pgx"))
	})
}

func openTestDB(t *testing.T, dsn, driver string) *testDB {
	t.Helper()
	ctx := context.Background()
	db := openStore(t, dsn)
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	raw, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatalf("open raw connection: %v", err)
	}
	t.Cleanup(func() { _ = raw.Close() })
	return &testDB{db: db, dsn: dsn, raw: raw, dialect: db.Dialect()}
}

// openStore opens another node's handle on dsn.
func openStore(t *testing.T, dsn string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), dsn, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

// exec runs raw SQL (with $n placeholders on PostgreSQL, ? on SQLite).
func (tdb *testDB) exec(t *testing.T, query string, args ...any) {
	t.Helper()
	if _, err := tdb.raw.ExecContext(context.Background(), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// dropGuards removes the append-only triggers, as someone with the
// database's owner rights could.
func (tdb *testDB) dropGuards(t *testing.T) {
	t.Helper()
	if tdb.dialect == "postgres" {
		tdb.exec(t, `ALTER TABLE audit_log DISABLE TRIGGER USER`)
		tdb.exec(t, `ALTER TABLE audit_head DISABLE TRIGGER USER`)
		return
	}
	for _, tr := range []string{"audit_log_no_update", "audit_log_no_delete", "audit_log_append_at_head",
		"audit_head_forward", "audit_head_no_delete"} {
		tdb.exec(t, `DROP TRIGGER `+tr)
	}
}

// ph is the n-th placeholder of the dialect.
func (tdb *testDB) ph(n int) string {
	if tdb.dialect == "postgres" {
		return "$" + string(rune('0'+n))
	}
	return "?"
}

// freshSchema is a PostgreSQL schema of the test's own.
func freshSchema(t testing.TB, dsn string) string { return storetest.FreshSchema(t, dsn) }
