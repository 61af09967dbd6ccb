package store

import (
	"context"
	"time"
)

// defaultPurgeBatch bounds one DELETE. On SQLite every write waits for the one
// writer, so a purge of a million expired tokens in one statement would
// stall the token endpoint; batches let other writes in between.
const defaultPurgeBatch = 1000

// purgeQueries delete one batch of expired rows each. "expires_at < ?"
// uses the expires_at index of each table; the key sub-select is how both
// dialects spell DELETE ... LIMIT.
var purgeQueries = []struct {
	table string
	q     query
}{
	{"tokens", newQuery(`DELETE FROM tokens WHERE digest IN
		(SELECT digest FROM tokens WHERE expires_at < ? LIMIT ?)`)},
	{"auth_codes", newQuery(`DELETE FROM auth_codes WHERE digest IN
		(SELECT digest FROM auth_codes WHERE expires_at < ? LIMIT ?)`)},
	{"sessions", newQuery(`DELETE FROM sessions WHERE digest IN
		(SELECT digest FROM sessions WHERE expires_at < ? LIMIT ?)`)},
	{"jtis", newQuery(`DELETE FROM jtis WHERE (issuer, jti) IN
		(SELECT issuer, jti FROM jtis WHERE expires_at < ? LIMIT ?)`)},
}

// PurgeExpired deletes tokens, codes, sessions and jti records that expired
// before now, and returns how many rows went. Each token goes by its own
// expiry: a refresh token's access tokens go when they expire, not with it.
// Rows deleted before an error stay deleted; the count includes them.
func (db *DB) PurgeExpired(ctx context.Context, now time.Time) (int64, error) {
	const op = "purge expired"
	// A zero now would compare against NULL and purge nothing, silently.
	if err := checkRequiredTime("now", now); err != nil {
		return 0, opErr(op, err)
	}
	cutoff := now.UnixNano()
	batch := db.purgeBatch
	if batch <= 0 {
		batch = defaultPurgeBatch
	}
	var total int64
	for _, p := range purgeQueries {
		for {
			if err := ctx.Err(); err != nil {
				return total, opErr(op, err)
			}
			n, err := db.exec(ctx, db.write, p.q, cutoff, batch)
			if err != nil {
				return total, opErr(op+" "+p.table, err)
			}
			total += n
			if n < int64(batch) {
				break
			}
		}
	}
	if total > 0 {
		db.logger.Debug("store purged expired rows", "rows", total)
	}
	return total, nil
}
