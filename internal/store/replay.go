package store

import (
	"context"
	"time"
)

var qUseJTI = newQuery(`INSERT INTO jtis (issuer, jti, expires_at) VALUES (?, ?, ?)`)

// UseJTI records a one-time identifier of an issuer (a client id) until exp;
// ErrReplay if it was recorded before and has not been purged.
//
// The primary key (issuer, jti) does the check, so two nodes racing on the
// same assertion cannot both succeed (RFC 7523 §3, item 7).
func (db *DB) UseJTI(ctx context.Context, issuer, jti string, exp time.Time) error {
	const op = "use jti"
	if err := checkRequired("jti issuer", issuer); err != nil {
		return opErr(op, err)
	}
	if err := checkRequired("jti", jti); err != nil {
		return opErr(op, err)
	}
	// Without an expiry the record would never be purged.
	if err := checkRequiredTime("jti expires at", exp); err != nil {
		return opErr(op, err)
	}
	if _, err := db.write1(ctx, qUseJTI, issuer, jti, exp.UnixNano()); err != nil {
		return opErr(op, mapWriteErr(err, ErrReplay))
	}
	return nil
}
