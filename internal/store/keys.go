package store

import (
	"context"
	"database/sql/driver"
	"errors"
)

// keySetLockID is the PostgreSQL advisory lock held around the signing
// key set's initialisation (see WithKeySetLock). It differs from
// migrationLockID, which is held at the same stage of a start.
const keySetLockID int64 = 0x706f726b // "pork"

const keyCols = `kid, alg, key_use, private_sealed, public_jwk, created_at, activated_at, retired_at`

var (
	qCreateKey = newQuery(`INSERT INTO signing_keys (` + keyCols + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	// kid breaks ties so keys created in the same instant list stably.
	qListKeys  = newQuery(`SELECT ` + keyCols + ` FROM signing_keys ORDER BY created_at, kid`)
	qUpdateKey = newQuery(`UPDATE signing_keys SET activated_at = ?, retired_at = ? WHERE kid = ?`)
	qDeleteKey = newQuery(`DELETE FROM signing_keys WHERE kid = ?`)
)

func scanKey(r rowScanner) (SigningKey, error) {
	var k SigningKey
	err := r.Scan(&k.KID, &k.Alg, &k.Use, bytesCol{&k.PrivateSealed}, bytesCol{&k.PublicJWK},
		timeCol{&k.CreatedAt}, timeCol{&k.ActivatedAt}, timeCol{&k.RetiredAt})
	return k, err
}

// checkKeyTimes validates the timestamps of k.
func checkKeyTimes(k SigningKey) error {
	if err := checkTime("key created at", k.CreatedAt); err != nil {
		return err
	}
	if err := checkTime("key activated at", k.ActivatedAt); err != nil {
		return err
	}
	return checkTime("key retired at", k.RetiredAt)
}

// WithKeySetLock runs fn while holding the signing key set's lock, so
// authorization-server nodes starting together on an empty store do not
// each generate an active key: the second waits, then finds the first's.
// On PostgreSQL it is a session advisory lock on a connection of its own
// (fn's statements use the pools as usual), waited for until ctx ends.
// On SQLite it runs fn alone: the database is one node's file, and
// SQLite's single writer already serialises each write.
func (db *DB) WithKeySetLock(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	const op = "lock key set"
	if db.dialect != dialectPostgres {
		return fn(ctx)
	}
	if db.pgpool != nil && db.pgpool.Config().MaxConns < 2 {
		// The lock's session would hold the pool's only connection
		// and fn's statements would wait for it forever.
		db.logger.WarnContext(ctx, "pool_max_conns is 1: the signing key set is initialised without the cluster lock")
		return fn(ctx)
	}
	conn, err := db.write.Conn(ctx)
	if err != nil {
		return opErr(op, err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, keySetLockID); err != nil {
		return opErr(op, err)
	}
	defer func() {
		// The unlock runs even when ctx has ended. Should it fail, the
		// connection is marked bad (driver.ErrBadConn), so the pool
		// closes it rather than keep a session that holds the lock.
		_, uerr := conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, keySetLockID)
		if uerr != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			err = errors.Join(err, opErr(op, uerr))
		}
	}()
	return fn(ctx)
}

// CreateKey inserts a signing key; ErrConflict if the kid exists.
func (db *DB) CreateKey(ctx context.Context, k SigningKey) error {
	const op = "create key"
	if err := checkRequired("key id", k.KID); err != nil {
		return opErr(op, err)
	}
	if err := checkText("key algorithm", k.Alg); err != nil {
		return opErr(op, err)
	}
	if err := checkText("key use", k.Use); err != nil {
		return opErr(op, err)
	}
	if err := checkKeyTimes(k); err != nil {
		return opErr(op, err)
	}
	_, err := db.write1(ctx, qCreateKey, k.KID, k.Alg, k.Use,
		bytesArg(k.PrivateSealed), bytesArg(k.PublicJWK),
		timeArg(k.CreatedAt), timeArg(k.ActivatedAt), timeArg(k.RetiredAt))
	if err != nil {
		return opErr(op, mapWriteErr(err, ErrConflict))
	}
	return nil
}

// ListKeys returns every signing key ordered by creation time.
func (db *DB) ListKeys(ctx context.Context) ([]SigningKey, error) {
	rows, err := db.rows(ctx, db.read, qListKeys)
	if err != nil {
		return nil, opErr("list keys", err)
	}
	ks, err := scanAll(rows, scanKey)
	if err != nil {
		return nil, opErr("list keys", err)
	}
	return ks, nil
}

// UpdateKey replaces the timestamps (ActivatedAt, RetiredAt) of the key
// with k.KID; ErrNotFound if absent.
func (db *DB) UpdateKey(ctx context.Context, k SigningKey) error {
	const op = "update key"
	if err := checkKeyTimes(k); err != nil {
		return opErr(op, err)
	}
	if !validKey(k.KID) {
		return opErr(op, ErrNotFound)
	}
	n, err := db.write1(ctx, qUpdateKey, timeArg(k.ActivatedAt), timeArg(k.RetiredAt), k.KID)
	if err != nil {
		return opErr(op, err)
	}
	if n == 0 {
		return opErr(op, ErrNotFound)
	}
	return nil
}

// DeleteKey removes a signing key; ErrNotFound if absent.
func (db *DB) DeleteKey(ctx context.Context, kid string) error {
	if !validKey(kid) {
		return opErr("delete key", ErrNotFound)
	}
	n, err := db.write1(ctx, qDeleteKey, kid)
	if err != nil {
		return opErr("delete key", err)
	}
	if n == 0 {
		return opErr("delete key", ErrNotFound)
	}
	return nil
}
