package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// DB is the store, backed by SQLite or PostgreSQL. It is safe for
// concurrent use.
type DB struct {
	logger *slog.Logger

	dialect string
	// location names the database without credentials: the SQLite file
	// path (":memory:" for a private in-memory database) or PostgreSQL's
	// host:port/database.
	location string
	// write takes every statement that changes data. On SQLite it holds a
	// single connection: SQLite runs one writer at a time anyway, and
	// queueing writers in database/sql is far cheaper than having them
	// spin on SQLITE_BUSY.
	write *sql.DB
	// read takes plain reads. On SQLite it is a separate pool of
	// query_only connections, which WAL lets run alongside the writer; on
	// PostgreSQL and for ":memory:" it is the same pool as write.
	read *sql.DB
	// pgpool backs both pools on PostgreSQL; nil on SQLite.
	pgpool *pgxpool.Pool
	// stmts caches prepared statements (SQLite only), by stmtKey.
	stmts sync.Map
	// migrateMu keeps two Migrate calls of one process apart (goose's
	// SQLite store has no lock of its own).
	migrateMu sync.Mutex
	// purgeBatch is how many rows one PurgeExpired DELETE takes; zero
	// means defaultPurgeBatch. Tests lower it.
	purgeBatch int
	// revokeBatch is how many tokens one RevokeTokensOf UPDATE takes;
	// zero means defaultRevokeBatch. Tests lower it.
	revokeBatch int
	// group commits concurrent single-statement writes together.
	group *groupWriter
}

// SQLite connection settings, applied to every pooled connection.
const (
	// busy_timeout covers other processes on the same file (the CLI while
	// the server runs); inside one process the single write connection
	// means writers queue in database/sql instead.
	sqliteBusyTimeout = "busy_timeout(5000)"
	// cache_size is per connection, in KiB when negative.
	sqliteCacheSize = "cache_size(-16384)"
	// mmap_size lets a connection read pages straight from the mapped
	// file instead of a pread system call per page; it made GetToken
	// use about 40% less CPU. Writes still go through the WAL.
	sqliteMmapSize = "mmap_size(268435456)"
	// wal_autocheckpoint: a checkpoint every 10,000 pages (about 40 MiB
	// of WAL) rather than SQLite's 1,000 writes each hot page (the tails
	// of the token indexes) back once instead of ten times, and cut the
	// token insert's CPU cost by about a sixth.
	sqliteAutoCheckpoint = "wal_autocheckpoint(10000)"
)

// Open connects to the database named by dsn: "postgres://..." or
// "postgresql://..." selects PostgreSQL; "sqlite:PATH", "file:PATH" or a
// plain path selects SQLite (WAL mode). It does not migrate; call Migrate.
func Open(ctx context.Context, dsn string, logger *slog.Logger) (*DB, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := parseDSN(dsn)
	if err != nil {
		return nil, opErr("open", err)
	}
	var db *DB
	if cfg.dialect == dialectPostgres {
		db, err = openPostgres(ctx, cfg, logger)
	} else {
		db, err = openSQLite(ctx, cfg, logger)
	}
	if err != nil {
		return nil, opErr("open", err)
	}
	return db, nil
}

// openSQLite opens the write pool first, so the file exists and is in WAL
// mode before any query_only reader connects.
func openSQLite(ctx context.Context, cfg dsnConfig, logger *slog.Logger) (*DB, error) {
	if !cfg.memory {
		if err := prepareSQLiteFile(cfg.path); err != nil {
			return nil, err
		}
	}
	writePragmas := []string{
		sqliteBusyTimeout,
		"foreign_keys(ON)",
		// In WAL mode NORMAL loses no integrity on a crash, only the
		// last commits on power loss, and saves an fsync per commit.
		"synchronous(NORMAL)",
		sqliteAutoCheckpoint,
		sqliteMmapSize,
		sqliteCacheSize,
	}
	if !cfg.memory {
		writePragmas = append(writePragmas, "journal_mode(WAL)")
	}
	// BEGIN IMMEDIATE takes the write lock when a transaction starts, so a
	// transaction never fails half-way upgrading a read lock to a write
	// lock against another process.
	writeDSN := cfg.sqliteDSN(writePragmas, url.Values{"_txlock": {"immediate"}})
	write, err := sql.Open("sqlite", writeDSN)
	if err != nil {
		return nil, fmt.Errorf("sqlite write pool: %w", err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	// An in-memory database dies with its connection: never recycle it.
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	if err := write.PingContext(ctx); err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("sqlite write pool: %w", err)
	}
	db := &DB{logger: logger, dialect: dialectSQLite, location: cfg.path, write: write, read: write}
	if cfg.memory {
		db.location = ":memory:"
		db.group = newGroupWriter(db)
		logger.Debug("store opened", "dialect", dialectSQLite, "path", ":memory:")
		return db, nil
	}

	readPragmas := []string{
		sqliteBusyTimeout,
		"foreign_keys(ON)",
		sqliteCacheSize,
		sqliteMmapSize,
		// A reader that tried to write would be a bug; make it an error.
		"query_only(1)",
	}
	read, err := sql.Open("sqlite", cfg.sqliteDSN(readPragmas, nil))
	if err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("sqlite read pool: %w", err)
	}
	n := max(4, 2*runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	read.SetConnMaxLifetime(0)
	read.SetConnMaxIdleTime(0)
	if err := read.PingContext(ctx); err != nil {
		_ = read.Close()
		_ = write.Close()
		return nil, fmt.Errorf("sqlite read pool: %w", err)
	}
	db.read = read
	db.group = newGroupWriter(db)
	logger.Debug("store opened", "dialect", dialectSQLite, "path", cfg.path, "read_conns", n)
	return db, nil
}

// prepareSQLiteFile creates the parent directory (0700) and an empty
// database file readable by the owner only: the file holds token digests
// and sealed keys, and SQLite gives its -wal and -shm files the mode of
// the main file.
func prepareSQLiteFile(path string) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create sqlite directory: %w", err)
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		return f.Close()
	case errors.Is(err, fs.ErrExist):
		return nil
	default:
		return fmt.Errorf("create sqlite file: %w", err)
	}
}

// defaultPoolConns is the PostgreSQL pool size when the DSN does not set
// pool_max_conns: 8, or 2 per core on larger machines. pgxpool's own
// default (4, or 1 per core) is what limited issuance before token writes
// were group-committed: every insert held a connection through its own
// commit, and pool_max_conns=32 doubled the token endpoint's rate. Group
// commit needs one connection per batch, and the pool sizes measured
// since (4 to 32, docs/performance.md) issue and look up tokens at the
// same rate within the noise; 8 keeps connections free for the reads and
// transactions running beside a batch, while a few nodes together stay
// well inside PostgreSQL's default max_connections of 100.
func defaultPoolConns() int32 {
	return int32(max(8, 2*runtime.GOMAXPROCS(0)))
}

// openPostgres opens a pgxpool (so pool_max_conns and the other pgxpool
// DSN parameters work; a pool_max_conns in the DSN always wins over
// defaultPoolConns) and puts database/sql in front of it, giving both
// dialects, and goose, one code path.
func openPostgres(ctx context.Context, cfg dsnConfig, logger *slog.Logger) (*DB, error) {
	pcfg, err := pgxpool.ParseConfig(cfg.postgres)
	if err != nil {
		// pgconn redacts the password in its parse errors.
		return nil, fmt.Errorf("postgres dsn: %w", err)
	}
	if !setsPoolSize(cfg.postgres) {
		pcfg.MaxConns = defaultPoolConns()
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("postgres pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres ping: %w", err)
	}
	sqldb := stdlib.OpenDBFromPool(pool)
	logger.Debug("store opened", "dialect", dialectPostgres,
		"host", pcfg.ConnConfig.Host, "database", pcfg.ConnConfig.Database,
		"max_conns", pcfg.MaxConns)
	db := &DB{logger: logger, dialect: dialectPostgres, write: sqldb, read: sqldb, pgpool: pool,
		location: fmt.Sprintf("%s:%d/%s", pcfg.ConnConfig.Host, pcfg.ConnConfig.Port, pcfg.ConnConfig.Database)}
	db.group = newGroupWriter(db)
	return db, nil
}

// Dialect is "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.dialect }

// Location names the database for messages, never with credentials: the
// SQLite file path, or host:port/database for PostgreSQL (the user and
// password of the DSN are left out).
func (db *DB) Location() string { return db.location }

// Ping checks the connection (for /readyz).
func (db *DB) Ping(ctx context.Context) error {
	if err := db.write.PingContext(ctx); err != nil {
		return opErr("ping", err)
	}
	if db.read != db.write {
		if err := db.read.PingContext(ctx); err != nil {
			return opErr("ping", err)
		}
	}
	return nil
}

// Close releases the connections.
func (db *DB) Close() error {
	if db.group != nil {
		// Writes arriving from now on fail; the batch in flight finishes.
		db.group.close()
	}
	var errs []error
	db.stmts.Range(func(k, v any) bool {
		errs = append(errs, v.(*sql.Stmt).Close())
		db.stmts.Delete(k)
		return true
	})
	if db.read != db.write {
		errs = append(errs, db.read.Close())
	}
	errs = append(errs, db.write.Close())
	if db.pgpool != nil {
		db.pgpool.Close()
	}
	if err := errors.Join(errs...); err != nil {
		return opErr("close", err)
	}
	return nil
}
