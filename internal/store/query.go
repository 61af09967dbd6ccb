package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// query is one SQL statement in both dialects. Statements are written once
// with "?" placeholders; the PostgreSQL form with $1, $2, ... is derived
// when the package loads, so no request pays for the rewrite.
type query struct {
	sqlite   string
	postgres string
}

// newQuery builds a query from SQL that uses "?" placeholders. The SQL must
// not contain a literal "?" (none of ours do; values are always bound).
func newQuery(s string) query {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return query{sqlite: s, postgres: b.String()}
}

// rowScanner is what *sql.Row and *sql.Rows have in common.
type rowScanner interface {
	Scan(dest ...any) error
}

// errRow is a rowScanner that reports err, for a statement that could not
// be prepared.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// stmtKey names a prepared statement of one pool.
type stmtKey struct {
	pool *sql.DB
	sql  string
}

// prepared returns the statement for q on pool, preparing it once. Only
// SQLite uses this: parsing a statement costs about as much as running a
// point query, and modernc.org/sqlite keeps no cache of its own. pgx
// already caches prepared statements per connection, and preparing on
// PostgreSQL before Migrate would pin stale plans.
func (db *DB) prepared(ctx context.Context, pool *sql.DB, q query) (*sql.Stmt, error) {
	key := stmtKey{pool: pool, sql: q.sqlite}
	if s, ok := db.stmts.Load(key); ok {
		return s.(*sql.Stmt), nil
	}
	s, err := pool.PrepareContext(ctx, q.sqlite)
	if err != nil {
		return nil, err
	}
	if prev, loaded := db.stmts.LoadOrStore(key, s); loaded {
		// Another goroutine prepared it first; keep one.
		_ = s.Close()
		return prev.(*sql.Stmt), nil
	}
	return s, nil
}

// exec runs a statement that returns no rows and reports the rows it
// changed.
func (db *DB) exec(ctx context.Context, pool *sql.DB, q query, args ...any) (int64, error) {
	var res sql.Result
	var err error
	if db.dialect == dialectSQLite {
		var s *sql.Stmt
		if s, err = db.prepared(ctx, pool, q); err != nil {
			return 0, err
		}
		res, err = s.ExecContext(ctx, args...)
	} else {
		res, err = pool.ExecContext(ctx, q.postgres, args...)
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// write1 runs a single-statement write through the group-commit writer.
func (db *DB) write1(ctx context.Context, q query, args ...any) (int64, error) {
	if db.group != nil {
		return db.group.exec(ctx, q, args)
	}
	return db.exec(ctx, db.write, q, args...)
}

// row runs a statement that returns at most one row.
func (db *DB) row(ctx context.Context, pool *sql.DB, q query, args ...any) rowScanner {
	if db.dialect == dialectSQLite {
		s, err := db.prepared(ctx, pool, q)
		if err != nil {
			return errRow{err}
		}
		return s.QueryRowContext(ctx, args...)
	}
	return pool.QueryRowContext(ctx, q.postgres, args...)
}

// rows runs a statement that returns rows; the caller closes them.
func (db *DB) rows(ctx context.Context, pool *sql.DB, q query, args ...any) (*sql.Rows, error) {
	if db.dialect == dialectSQLite {
		s, err := db.prepared(ctx, pool, q)
		if err != nil {
			return nil, err
		}
		return s.QueryContext(ctx, args...)
	}
	return pool.QueryContext(ctx, q.postgres, args...)
}

// txExec runs q inside tx (not cached: transactions are the rare path).
func (db *DB) txExec(ctx context.Context, tx *sql.Tx, q query, args ...any) (int64, error) {
	res, err := tx.ExecContext(ctx, db.text(q), args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// text returns the SQL of q in the dialect of db.
func (db *DB) text(q query) string {
	if db.dialect == dialectPostgres {
		return q.postgres
	}
	return q.sqlite
}

// isUniqueViolation reports whether err is a primary-key or unique
// constraint failure, by the drivers' typed codes rather than messages.
func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			return true
		}
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// SQLSTATE 23505 unique_violation (PostgreSQL appendix A).
		return pe.Code == "23505"
	}
	return false
}

// mapWriteErr turns a unique violation into conflict (ErrConflict or
// ErrReplay) and leaves other errors as they are.
func mapWriteErr(err, conflict error) error {
	if isUniqueViolation(err) {
		return conflict
	}
	return err
}

// mapReadErr turns sql.ErrNoRows into ErrNotFound.
func mapReadErr(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// scanAll reads every row with scan and closes rows.
func scanAll[T any](rows *sql.Rows, scan func(rowScanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
