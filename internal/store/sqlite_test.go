package store

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// testLogger discards output unless -v, where it writes through t.Log.
func testLogger(t testing.TB) *slog.Logger {
	if !testing.Verbose() {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// openMigrated opens dsn, migrates it and closes it when the test ends.
func openMigrated(t testing.TB, dsn string) *DB {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, dsn, testLogger(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return db
}

func TestSQLite(t *testing.T) {
	runContract(t, func(t *testing.T) *DB {
		// A directory that does not exist yet: Open creates it.
		db := openMigrated(t, filepath.Join(t.TempDir(), "data", "portcullis.db"))
		if got := db.Dialect(); got != "sqlite" {
			t.Fatalf("Dialect() = %q, want sqlite", got)
		}
		return db
	})
}

func TestSQLiteMemory(t *testing.T) {
	runContract(t, func(t *testing.T) *DB {
		return openMigrated(t, ":memory:")
	})
}

func TestSQLiteFileLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "data")
	path := filepath.Join(dir, "portcullis.db")
	db := openMigrated(t, "sqlite:"+path)

	for _, tc := range []struct {
		path string
		want os.FileMode
	}{
		{dir, 0o700 | os.ModeDir},
		{path, 0o600},
	} {
		fi, err := os.Stat(tc.path)
		if err != nil {
			t.Fatalf("stat: %v", err)
		}
		if got := fi.Mode(); got != tc.want {
			t.Errorf("mode of %s = %v, want %v", tc.path, got, tc.want)
		}
	}

	ctx := context.Background()
	for _, tc := range []struct {
		pool   string
		pragma string
		want   string
	}{
		{"write", "journal_mode", "wal"},
		{"write", "synchronous", "1"},
		{"write", "foreign_keys", "1"},
		{"write", "busy_timeout", "5000"},
		{"read", "journal_mode", "wal"},
		{"read", "foreign_keys", "1"},
		{"read", "busy_timeout", "5000"},
		{"read", "query_only", "1"},
		{"write", "query_only", "0"},
	} {
		t.Run(tc.pool+"/"+tc.pragma, func(t *testing.T) {
			pool := db.write
			if tc.pool == "read" {
				pool = db.read
			}
			var got string
			if err := pool.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
				t.Fatalf("PRAGMA %s: %v", tc.pragma, err)
			}
			if got != tc.want {
				t.Errorf("PRAGMA %s on the %s pool = %q, want %q", tc.pragma, tc.pool, got, tc.want)
			}
		})
	}
	if db.read == db.write {
		t.Errorf("a file database should have separate read and write pools")
	}
	if got := db.write.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("write pool MaxOpenConnections = %d, want 1", got)
	}
}

// TestSQLiteReopen shows data survives Close and a second Open of the file,
// and that migrating an up-to-date file is a no-op.
func TestSQLiteReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "portcullis.db")
	for _, dsn := range []string{path, "file:" + path + "?cache=private", "sqlite://" + path} {
		db, err := Open(ctx, dsn, testLogger(t))
		if err != nil {
			t.Fatalf("Open(%q): %v", dsn, err)
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		if err := db.CreateClient(ctx, Client{ID: dsn}); err != nil {
			t.Fatalf("CreateClient: %v", err)
		}
		got, err := db.ListClients(ctx)
		if err != nil {
			t.Fatalf("ListClients: %v", err)
		}
		if err := db.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if len(got) == 0 || got[len(got)-1].ID == "" {
			t.Fatalf("ListClients after reopen = %v", got)
		}
	}
}
