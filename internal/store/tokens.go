package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
)

const tokenCols = `digest, kind, format, jti, client_id, subject, scope, audience,
	claims, payload, grant_id, auth_time, issued_at, expires_at, used_at, revoked`

var (
	qCreateToken = newQuery(`INSERT INTO tokens (` + tokenCols + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	qGetToken = newQuery(`SELECT ` + tokenCols + ` FROM tokens WHERE digest = ?`)
	// Matching rows count as changed even when already revoked, so only a
	// missing token reports zero rows.
	qRevokeToken = newQuery(`UPDATE tokens SET revoked = TRUE WHERE digest = ?`)
	qRevokeGrant = newQuery(`UPDATE tokens SET revoked = TRUE WHERE grant_id = ? AND revoked = FALSE`)
	// The single statement is the atomic step: of two concurrent callers
	// the database lets exactly one match "used_at IS NULL" (SQLite runs
	// one writer at a time; PostgreSQL re-checks the WHERE clause on the
	// row the first caller updated).
	// The client is part of the condition (RFC 6749 §6: a refresh token is
	// bound to its client), so another client's attempt leaves it unused.
	qUseRefreshToken = newQuery(`UPDATE tokens SET used_at = ?
		WHERE digest = ? AND kind = 'refresh' AND client_id = ? AND used_at IS NULL
		RETURNING ` + tokenCols)
	qGetRefreshToken = newQuery(`SELECT ` + tokenCols + ` FROM tokens
		WHERE digest = ? AND kind = 'refresh'`)
)

// checkToken validates t before it is inserted.
func checkToken(t Token) error {
	if err := checkDigest("token digest", t.Digest); err != nil {
		return err
	}
	if t.Kind != KindAccess && t.Kind != KindRefresh {
		return invalid("token kind must be %q or %q", KindAccess, KindRefresh)
	}
	for _, f := range []struct{ name, v string }{
		{"token format", t.Format},
		{"token jti", t.JTI},
		{"token client id", t.ClientID},
		{"token subject", t.Subject},
		{"token scope", t.Scope},
		{"token payload", t.Payload},
		{"token grant id", t.GrantID},
	} {
		if err := checkText(f.name, f.v); err != nil {
			return err
		}
	}
	if err := checkList("token audience", t.Audience); err != nil {
		return err
	}
	if err := checkTime("token auth time", t.AuthTime); err != nil {
		return err
	}
	if err := checkTime("token issued at", t.IssuedAt); err != nil {
		return err
	}
	if err := checkTime("token used at", t.UsedAt); err != nil {
		return err
	}
	// A token without an expiry would never be purged.
	return checkRequiredTime("token expires at", t.ExpiresAt)
}

func scanToken(r rowScanner) (Token, error) {
	var t Token
	err := r.Scan(&t.Digest, &t.Kind, &t.Format, &t.JTI, &t.ClientID, &t.Subject,
		&t.Scope, jsonCol[[]string]{&t.Audience}, bytesCol{&t.Claims}, &t.Payload,
		&t.GrantID, timeCol{&t.AuthTime}, timeCol{&t.IssuedAt},
		timeCol{&t.ExpiresAt}, timeCol{&t.UsedAt}, &t.Revoked)
	return t, err
}

// CreateToken inserts t; ErrConflict if the digest exists.
func (db *DB) CreateToken(ctx context.Context, t Token) error {
	const op = "create token"
	if err := checkToken(t); err != nil {
		return opErr(op, err)
	}
	_, err := db.write1(ctx, qCreateToken,
		t.Digest, t.Kind, t.Format, t.JTI, t.ClientID, t.Subject, t.Scope,
		listArg(t.Audience), bytesArg(t.Claims), t.Payload, t.GrantID,
		timeArg(t.AuthTime), timeArg(t.IssuedAt), t.ExpiresAt.UnixNano(),
		timeArg(t.UsedAt), t.Revoked)
	if err != nil {
		return opErr(op, mapWriteErr(err, ErrConflict))
	}
	return nil
}

// GetToken returns the token stored under digest, or ErrNotFound. Expired
// and revoked tokens are returned as stored; the caller decides.
func (db *DB) GetToken(ctx context.Context, digest []byte) (Token, error) {
	if len(digest) == 0 {
		return Token{}, opErr("get token", ErrNotFound)
	}
	t, err := scanToken(db.row(ctx, db.read, qGetToken, digest))
	if err != nil {
		return Token{}, opErr("get token", mapReadErr(err))
	}
	return t, nil
}

// RevokeToken marks one token revoked; ErrNotFound if absent.
func (db *DB) RevokeToken(ctx context.Context, digest []byte) error {
	const op = "revoke token"
	if len(digest) == 0 {
		return opErr(op, ErrNotFound)
	}
	n, err := db.write1(ctx, qRevokeToken, digest)
	if err != nil {
		return opErr(op, err)
	}
	if n == 0 {
		return opErr(op, ErrNotFound)
	}
	return nil
}

// RevokeGrant marks every token of the grant revoked and returns how many
// changed. An empty grant id is refused with ErrInvalid: tokens issued
// outside any grant (client credentials) share it, and revoking all of
// them would be a mistake no caller means.
func (db *DB) RevokeGrant(ctx context.Context, grantID string) (int64, error) {
	const op = "revoke grant"
	if grantID == "" {
		return 0, opErr(op, invalid("grant id is empty"))
	}
	if !validKey(grantID) {
		return 0, nil
	}
	n, err := db.write1(ctx, qRevokeGrant, grantID)
	if err != nil {
		return 0, opErr(op, err)
	}
	return n, nil
}

// RevokeTokensOf marks revoked every token (access and refresh) issued to
// clientID, or only those of subject when it is non-empty, and returns how
// many changed. The holder must authenticate again.
//
// A client may hold millions of live tokens, and one UPDATE of them all
// would hold SQLite's only writer (and stall the token endpoint) for as
// long as it runs. So the digests are read first, and revoked by primary
// key in batches of defaultRevokeBatch, each its own short transaction, as
// PurgeExpired does; other writes go in between. Tokens issued after the
// read began are not revoked, as they would not have been by a single
// UPDATE that began at that moment. If ctx ends or a batch fails, the
// batches done stay done and the count includes them.
func (db *DB) RevokeTokensOf(ctx context.Context, clientID, subject string) (int64, error) {
	return db.RevokeTokensOfEach(ctx, clientID, subject, nil)
}

// RevokeTokensOfEach is RevokeTokensOf, calling revoked (when not nil)
// with the digests of each batch once it is committed, so gateways can be
// told which tokens to drop from their caches.
func (db *DB) RevokeTokensOfEach(ctx context.Context, clientID, subject string, revoked func(ctx context.Context, digests [][]byte)) (int64, error) {
	const op = "revoke tokens of"
	if clientID == "" {
		return 0, opErr(op, invalid("client id is empty"))
	}
	if !validKey(clientID) || (subject != "" && !validKey(subject)) {
		return 0, nil
	}
	sel, args := qTokensOfClient, []any{clientID}
	if subject != "" {
		sel, args = qTokensOfSubject, []any{clientID, subject}
	}
	batch := db.revokeBatch
	if batch <= 0 {
		batch = defaultRevokeBatch
	}
	r := bulkRevoke{db: db, upd: revokeDigestsQuery(batch), args: make([]any, batch), revoked: revoked}
	if err := db.eachDigest(ctx, sel, args, batch, r.revoke); err != nil {
		return r.total, opErr(op, err)
	}
	return r.total, nil
}

// defaultRevokeBatch bounds one UPDATE of RevokeTokensOf.
const defaultRevokeBatch = 1000

// GrantTokenDigests returns the digests of the grant's tokens not revoked
// yet: read before RevokeGrant, they name the tokens a revocation notice
// must tell gateways to drop.
func (db *DB) GrantTokenDigests(ctx context.Context, grantID string) ([][]byte, error) {
	const op = "grant token digests"
	if grantID == "" || !validKey(grantID) {
		return nil, nil
	}
	var out [][]byte
	err := db.eachDigest(ctx, qTokensOfGrant, []any{grantID}, defaultRevokeBatch, func(_ context.Context, ds [][]byte) error {
		out = append(out, slices.Clone(ds)...)
		return nil
	})
	if err != nil {
		return nil, opErr(op, err)
	}
	return out, nil
}

var (
	qTokensOfGrant   = newQuery(`SELECT digest FROM tokens WHERE grant_id = ? AND revoked = FALSE`)
	qTokensOfClient  = newQuery(`SELECT digest FROM tokens WHERE client_id = ? AND revoked = FALSE`)
	qTokensOfSubject = newQuery(`SELECT digest FROM tokens WHERE client_id = ? AND subject = ? AND revoked = FALSE`)
)

// revokeDigestsQuery revokes up to n tokens by digest. "revoked = FALSE"
// keeps a token revoked meanwhile by someone else out of the count.
func revokeDigestsQuery(n int) query {
	return newQuery(`UPDATE tokens SET revoked = TRUE WHERE revoked = FALSE AND digest IN (?` +
		strings.Repeat(", ?", n-1) + `)`)
}

// bulkRevoke revokes tokens batch by batch and counts them.
type bulkRevoke struct {
	db      *DB
	upd     query
	args    []any
	total   int64
	revoked func(context.Context, [][]byte)
}

// revoke revokes digests (at most len(r.args)) in one statement. A short
// batch repeats its last digest, so every batch is the same statement and
// SQLite prepares it once.
func (r *bulkRevoke) revoke(ctx context.Context, digests [][]byte) error {
	for i := range r.args {
		r.args[i] = digests[min(i, len(digests)-1)]
	}
	n, err := r.db.exec(ctx, r.db.write, r.upd, r.args...)
	if err != nil {
		return err
	}
	r.total += n
	if r.revoked != nil {
		// A streamed batch's slice is reused for the next one.
		r.revoked(ctx, slices.Clone(digests))
	}
	return nil
}

// eachDigest calls fn with the digests sel finds, batch at a time. With a
// separate read pool (a SQLite file) it streams them: the WAL reader does
// not hold up the writer fn uses. Where reads and writes share a pool
// (PostgreSQL, whose pool may be a single connection, and in-memory
// SQLite, which is one) it reads them all before the first call, so the
// open cursor never waits for a connection of its own.
func (db *DB) eachDigest(ctx context.Context, sel query, args []any, batch int, fn func(context.Context, [][]byte) error) error {
	rows, err := db.rows(ctx, db.read, sel, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	stream := db.read != db.write
	var pending [][]byte
	for rows.Next() {
		var d []byte
		if err := rows.Scan(&d); err != nil {
			return err
		}
		pending = append(pending, d)
		if stream && len(pending) == batch {
			if err := fn(ctx, pending); err != nil {
				return err
			}
			pending = pending[:0]
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if err := rows.Close(); err != nil {
		return err
	}
	for len(pending) > 0 {
		n := min(batch, len(pending))
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(ctx, pending[:n]); err != nil {
			return err
		}
		pending = pending[n:]
	}
	return nil
}

// UseRefreshToken atomically sets UsedAt=now on the refresh token if it was
// unused and belongs to clientID. It returns the token as it was before the
// call (so UsedAt is zero when this call was the first use) or ErrNotFound.
// An access token's digest gives ErrNotFound: it cannot be exchanged. A
// refresh token of another client gives ErrWrongClient and stays as it
// was, so a client that learns another's token cannot make the rightful
// client's next refresh look like reuse.
func (db *DB) UseRefreshToken(ctx context.Context, digest []byte, clientID string, now time.Time) (Token, error) {
	const op = "use refresh token"
	// A zero now would store NULL and leave the token reusable.
	if err := checkRequiredTime("now", now); err != nil {
		return Token{}, opErr(op, err)
	}
	if len(digest) == 0 {
		return Token{}, opErr(op, ErrNotFound)
	}
	t, err := scanToken(db.row(ctx, db.write, qUseRefreshToken, now.UnixNano(), digest, clientID))
	if err == nil {
		// RETURNING shows the row after the update; report it as it was.
		t.UsedAt = time.Time{}
		return t, nil
	}
	if err = mapReadErr(err); !errors.Is(err, ErrNotFound) {
		return Token{}, opErr(op, err)
	}
	// Either unknown or used before: the stored row tells which. Reading
	// after the failed update is safe because used_at, once set, never
	// changes back.
	t, err = scanToken(db.row(ctx, db.read, qGetRefreshToken, digest))
	if err != nil {
		return Token{}, opErr(op, mapReadErr(err))
	}
	if t.ClientID != clientID {
		return Token{}, opErr(op, ErrWrongClient)
	}
	return t, nil
}
