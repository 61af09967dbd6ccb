package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
)

var (
	qGetMasterKeyCheck = newQuery(`SELECT key_id, check_value, created_at, updated_at
		FROM master_key_check WHERE id = 1`)
	qCreateMasterKeyCheck = newQuery(`INSERT INTO master_key_check (id, key_id, check_value, created_at, updated_at)
		VALUES (1, ?, ?, ?, ?)`)
	qUpdateMasterKeyCheck = newQuery(`UPDATE master_key_check SET key_id = ?, check_value = ?, updated_at = ?
		WHERE id = 1 AND key_id = ? AND check_value = ?`)
	// A digest of zero length is no secret (checkClient allows one), so it
	// has no key either.
	qFillClientSecretKeyIDs = newQuery(`UPDATE clients SET secret_key_id = ?
		WHERE secret_key_id = '' AND secret_digest IS NOT NULL AND length(secret_digest) > 0`)
	qRedigestClientSecret = newQuery(`UPDATE clients SET secret_digest = ?, secret_key_id = ?
		WHERE id = ? AND secret_digest = ?`)
	qCountClientSecretsByKey = newQuery(`SELECT secret_key_id, COUNT(*) FROM clients
		WHERE secret_digest IS NOT NULL AND length(secret_digest) > 0
		GROUP BY secret_key_id ORDER BY secret_key_id`)
	qListSealedKeys = newQuery(`SELECT kid, private_sealed FROM signing_keys`)
	qResealKey      = newQuery(`UPDATE signing_keys SET private_sealed = ? WHERE kid = ? AND private_sealed = ?`)
	// SQLite's BEGIN IMMEDIATE already keeps every other writer out of a
	// rekey; PostgreSQL needs the row and the table locked, so a node
	// cannot insert a key sealed under the old master key between the
	// rekey's read of the keys and its commit.
	qLockMasterKeyCheck = query{
		sqlite:   `SELECT key_id, check_value FROM master_key_check WHERE id = 1`,
		postgres: `SELECT key_id, check_value FROM master_key_check WHERE id = 1 FOR UPDATE`,
	}
	qLockSigningKeys = query{postgres: `LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE`}
)

// checkMasterKeyCheck validates c before a write.
func checkMasterKeyCheck(c MasterKeyCheck) error {
	if err := checkRequired("master key id", c.KeyID); err != nil {
		return err
	}
	if err := checkDigest("master key check value", c.Value); err != nil {
		return err
	}
	if err := checkTime("master key check created at", c.CreatedAt); err != nil {
		return err
	}
	return checkTime("master key check updated at", c.UpdatedAt)
}

// GetMasterKeyCheck returns the check value of the master key of record,
// or ErrNotFound when the store has none yet.
func (db *DB) GetMasterKeyCheck(ctx context.Context) (MasterKeyCheck, error) {
	var c MasterKeyCheck
	err := db.row(ctx, db.read, qGetMasterKeyCheck).Scan(&c.KeyID, bytesCol{&c.Value},
		timeCol{&c.CreatedAt}, timeCol{&c.UpdatedAt})
	if err != nil {
		return MasterKeyCheck{}, opErr("get master key check", mapReadErr(err))
	}
	return c, nil
}

// CreateMasterKeyCheck records c as the master key of record; ErrConflict
// when the store has one already (another node got there first: read it
// and compare).
func (db *DB) CreateMasterKeyCheck(ctx context.Context, c MasterKeyCheck) error {
	const op = "create master key check"
	if err := checkMasterKeyCheck(c); err != nil {
		return opErr(op, err)
	}
	_, err := db.write1(ctx, qCreateMasterKeyCheck, c.KeyID, bytesArg(c.Value),
		timeArg(c.CreatedAt), timeArg(c.UpdatedAt))
	if err != nil {
		return opErr(op, mapWriteErr(err, ErrConflict))
	}
	return nil
}

// FillClientSecretKeyIDs records keyID as the key of every client secret
// digest whose key is not recorded (rows written before key ids were), and
// reports how many it changed. Call it only once keyID is known to be the
// master key of record.
func (db *DB) FillClientSecretKeyIDs(ctx context.Context, keyID string) (int64, error) {
	const op = "fill client secret key ids"
	if err := checkRequired("master key id", keyID); err != nil {
		return 0, opErr(op, err)
	}
	n, err := db.write1(ctx, qFillClientSecretKeyIDs, keyID)
	if err != nil {
		return 0, opErr(op, err)
	}
	return n, nil
}

// RedigestClientSecret replaces the secret digest old of client id with
// digest, made under the master key keyID. It is a compare-and-swap: when
// the client no longer holds old (its secret was rotated, the client was
// deleted, or another node re-digested it first) nothing changes and the
// error wraps ErrChanged.
// The client's other fields, UpdatedAt included, stay as they are: the
// secret is the same, only its digest moved to the current key.
func (db *DB) RedigestClientSecret(ctx context.Context, id string, old, digest []byte, keyID string) error {
	const op = "redigest client secret"
	if !validKey(id) {
		return opErr(op, ErrChanged)
	}
	if err := checkDigest("client secret digest", digest); err != nil {
		return opErr(op, err)
	}
	if err := checkDigest("old client secret digest", old); err != nil {
		return opErr(op, err)
	}
	if err := checkRequired("master key id", keyID); err != nil {
		return opErr(op, err)
	}
	n, err := db.write1(ctx, qRedigestClientSecret, digest, keyID, id, old)
	if err != nil {
		return opErr(op, err)
	}
	if n == 0 {
		return opErr(op, ErrChanged)
	}
	return nil
}

// CountClientSecretsByKey returns how many client secret digests each
// master key id made; "" counts digests whose key is not recorded.
func (db *DB) CountClientSecretsByKey(ctx context.Context) (map[string]int, error) {
	const op = "count client secrets by key"
	rows, err := db.rows(ctx, db.read, qCountClientSecretsByKey)
	if err != nil {
		return nil, opErr(op, err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var n int64
		if err := rows.Scan(&id, &n); err != nil {
			return nil, opErr(op, err)
		}
		out[id] = int(n)
	}
	if err := rows.Err(); err != nil {
		return nil, opErr(op, err)
	}
	return out, nil
}

// Rekey moves the store from the master key of record from to the key to,
// in one transaction: every signing key's private half is replaced as
// keys say, client secret digests without a recorded key are recorded as
// from's (they were made under it), and to becomes the key of record.
//
// keys must name every stored signing key with the sealed value it holds
// now. When the key of record is not from, or the signing keys differ from
// keys (a node rotated, purged or added one meanwhile), nothing changes
// and the error wraps ErrChanged: read again and retry.
func (db *DB) Rekey(ctx context.Context, from, to MasterKeyCheck, keys []Reseal) error {
	const op = "rekey"
	if err := checkMasterKeyCheck(from); err != nil {
		return opErr(op, err)
	}
	if err := checkMasterKeyCheck(to); err != nil {
		return opErr(op, err)
	}
	want := make(map[string]Reseal, len(keys))
	for _, k := range keys {
		if !validKey(k.KID) {
			return opErr(op, invalid("key id is not valid UTF-8 text"))
		}
		if len(k.New) == 0 {
			return opErr(op, invalid("key %s: new sealed value is empty", k.KID))
		}
		if _, dup := want[k.KID]; dup {
			return opErr(op, invalid("key %s listed twice", k.KID))
		}
		want[k.KID] = k
	}
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		var cur MasterKeyCheck
		err := tx.QueryRowContext(ctx, db.text(qLockMasterKeyCheck)).Scan(&cur.KeyID, bytesCol{&cur.Value})
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: the store has no master key of record", ErrChanged)
		}
		if err != nil {
			return err
		}
		if cur.KeyID != from.KeyID || !bytes.Equal(cur.Value, from.Value) {
			return fmt.Errorf("%w: the master key of record changed", ErrChanged)
		}
		if db.dialect == dialectPostgres {
			if _, err := db.txExec(ctx, tx, qLockSigningKeys); err != nil {
				return err
			}
		}
		if err := db.sameSealedKeys(ctx, tx, want); err != nil {
			return err
		}
		for _, k := range keys {
			n, err := db.txExec(ctx, tx, qResealKey, k.New, k.KID, k.Old)
			if err != nil {
				return err
			}
			if n != 1 {
				return fmt.Errorf("%w: signing key %s changed", ErrChanged, k.KID)
			}
		}
		if _, err := db.txExec(ctx, tx, qFillClientSecretKeyIDs, from.KeyID); err != nil {
			return err
		}
		n, err := db.txExec(ctx, tx, qUpdateMasterKeyCheck, to.KeyID, to.Value, timeArg(to.UpdatedAt),
			from.KeyID, from.Value)
		if err != nil {
			return err
		}
		if n != 1 {
			return fmt.Errorf("%w: the master key of record changed", ErrChanged)
		}
		return nil
	})
	return opErr(op, err)
}

// sameSealedKeys checks, inside tx, that the stored signing keys are
// exactly want, each still holding its Old sealed value.
func (db *DB) sameSealedKeys(ctx context.Context, tx *sql.Tx, want map[string]Reseal) error {
	rows, err := tx.QueryContext(ctx, db.text(qListSealedKeys))
	if err != nil {
		return err
	}
	defer rows.Close()
	seen := 0
	for rows.Next() {
		var kid string
		var sealed []byte
		if err := rows.Scan(&kid, bytesCol{&sealed}); err != nil {
			return err
		}
		k, ok := want[kid]
		if !ok || !bytes.Equal(k.Old, sealed) {
			return fmt.Errorf("%w: the signing keys changed", ErrChanged)
		}
		seen++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if seen != len(want) {
		return fmt.Errorf("%w: the signing keys changed", ErrChanged)
	}
	return nil
}
