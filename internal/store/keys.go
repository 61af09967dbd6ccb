package store

import "context"

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
