package store

import (
	"context"
	"embed"
	"io/fs"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// migrations holds one directory of goose SQL files per dialect. The two
// schemas are the same tables and columns; they differ only in types
// (BLOB/BYTEA, INTEGER/BIGINT/BOOLEAN) and SQLite's STRICT tables.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

// migrationLockID is the PostgreSQL advisory lock goose takes while it
// migrates, so nodes starting together apply each migration once. It is
// ours rather than goose's default so another goose-managed schema in the
// same database does not queue behind us.
const migrationLockID int64 = 0x706f7274 // "port"

// Migrate applies the embedded migrations (idempotent, safe to run from
// several nodes at once).
func (db *DB) Migrate(ctx context.Context) error {
	db.migrateMu.Lock()
	defer db.migrateMu.Unlock()
	start := time.Now()

	dir := "migrations/" + db.dialect
	fsys, err := fs.Sub(migrations, dir)
	if err != nil {
		return opErr("migrate", err)
	}
	opts := []goose.ProviderOption{
		goose.WithDisableGlobalRegistry(true),
		// db.logger names the store component already; one component key a line.
		goose.WithSlog(db.logger.With("part", "migrations")),
	}
	dialect := goose.DialectSQLite3
	if db.dialect == dialectPostgres {
		dialect = goose.DialectPostgres
		// Session-level advisory lock: retried every second for up to
		// five minutes while another node migrates.
		locker, err := lock.NewPostgresSessionLocker(
			lock.WithLockID(migrationLockID),
			lock.WithLockTimeout(1, 300),
		)
		if err != nil {
			return opErr("migrate", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	provider, err := goose.NewProvider(dialect, db.write, fsys, opts...)
	if err != nil {
		return opErr("migrate", err)
	}
	results, err := provider.Up(ctx)
	if err != nil {
		return opErr("migrate", err)
	}
	version, err := provider.GetDBVersion(ctx)
	if err != nil {
		return opErr("migrate", err)
	}
	db.logger.Info("store migrated", "dialect", db.dialect, "applied", len(results),
		"version", version, "duration", time.Since(start))
	return nil
}
