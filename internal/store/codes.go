package store

import (
	"context"
	"errors"
	"time"
)

const codeCols = `digest, client_id, subject, redirect_uri, scope, audience, nonce,
	code_challenge, code_challenge_method, grant_id, auth_time, expires_at, used_at,
	dpop_jkt`

var (
	qCreateCode = newQuery(`INSERT INTO auth_codes (` + codeCols + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	// See qUseRefreshToken for why one conditional UPDATE is atomic. The
	// client is part of the condition: RFC 6749 §4.1.3 binds a code to its
	// client, so another client's attempt must not burn it.
	qConsumeCode = newQuery(`UPDATE auth_codes SET used_at = ?
		WHERE digest = ? AND client_id = ? AND used_at IS NULL
		RETURNING ` + codeCols)
	qGetCode = newQuery(`SELECT ` + codeCols + ` FROM auth_codes WHERE digest = ?`)
)

// checkCode validates c before it is inserted.
func checkCode(c AuthCode) error {
	if err := checkDigest("code digest", c.Digest); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{
		{"code client id", c.ClientID},
		{"code subject", c.Subject},
		{"code redirect uri", c.RedirectURI},
		{"code scope", c.Scope},
		{"code nonce", c.Nonce},
		{"code challenge", c.CodeChallenge},
		{"code challenge method", c.CodeChallengeMethod},
		{"code grant id", c.GrantID},
		{"code dpop jkt", c.DPoPJKT},
	} {
		if err := checkText(f.name, f.v); err != nil {
			return err
		}
	}
	if err := checkList("code audience", c.Audience); err != nil {
		return err
	}
	if err := checkTime("code auth time", c.AuthTime); err != nil {
		return err
	}
	if err := checkTime("code used at", c.UsedAt); err != nil {
		return err
	}
	return checkRequiredTime("code expires at", c.ExpiresAt)
}

func scanCode(r rowScanner) (AuthCode, error) {
	var c AuthCode
	err := r.Scan(&c.Digest, &c.ClientID, &c.Subject, &c.RedirectURI, &c.Scope,
		jsonCol[[]string]{&c.Audience}, &c.Nonce, &c.CodeChallenge,
		&c.CodeChallengeMethod, &c.GrantID, timeCol{&c.AuthTime},
		timeCol{&c.ExpiresAt}, timeCol{&c.UsedAt}, &c.DPoPJKT)
	return c, err
}

// CreateCode inserts an authorization code; ErrConflict if it exists.
func (db *DB) CreateCode(ctx context.Context, c AuthCode) error {
	const op = "create code"
	if err := checkCode(c); err != nil {
		return opErr(op, err)
	}
	_, err := db.write1(ctx, qCreateCode,
		c.Digest, c.ClientID, c.Subject, c.RedirectURI, c.Scope,
		listArg(c.Audience), c.Nonce, c.CodeChallenge, c.CodeChallengeMethod,
		c.GrantID, timeArg(c.AuthTime), c.ExpiresAt.UnixNano(), timeArg(c.UsedAt),
		c.DPoPJKT)
	if err != nil {
		return opErr(op, mapWriteErr(err, ErrConflict))
	}
	return nil
}

// ConsumeCode atomically marks the code used and returns it. A code used
// before is returned together with ErrAlreadyUsed (so the caller can revoke
// its grant); an unknown code gives ErrNotFound. Expiry is the caller's
// check.
//
// On first use the returned code carries UsedAt=now; on reuse it carries
// the time of the first use (RFC 6749 §4.1.2: a code used twice should
// revoke what it issued).
//
// Only clientID may consume the code (RFC 6749 §4.1.3: the code is bound
// to the client it was issued to, checked before it is used). A code of
// another client gives ErrWrongClient and is left as it was, used or not.
func (db *DB) ConsumeCode(ctx context.Context, digest []byte, clientID string, now time.Time) (AuthCode, error) {
	const op = "consume code"
	// A zero now would store NULL and leave the code redeemable.
	if err := checkRequiredTime("now", now); err != nil {
		return AuthCode{}, opErr(op, err)
	}
	if len(digest) == 0 {
		return AuthCode{}, opErr(op, ErrNotFound)
	}
	c, err := scanCode(db.row(ctx, db.write, qConsumeCode, now.UnixNano(), digest, clientID))
	if err == nil {
		return c, nil
	}
	if err = mapReadErr(err); !errors.Is(err, ErrNotFound) {
		return AuthCode{}, opErr(op, err)
	}
	c, err = scanCode(db.row(ctx, db.read, qGetCode, digest))
	if err != nil {
		return AuthCode{}, opErr(op, mapReadErr(err))
	}
	if c.ClientID != clientID {
		// Nothing of the code goes back to a client it is not bound to.
		return AuthCode{}, opErr(op, ErrWrongClient)
	}
	// The update matched nothing yet the code exists for this client, so
	// it was used before (used_at is never cleared).
	return c, opErr(op, ErrAlreadyUsed)
}
