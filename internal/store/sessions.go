package store

import "context"

var (
	qCreateSession = newQuery(`INSERT INTO sessions (digest, subject, auth_time, expires_at)
		VALUES (?, ?, ?, ?)`)
	qGetSession    = newQuery(`SELECT digest, subject, auth_time, expires_at FROM sessions WHERE digest = ?`)
	qDeleteSession = newQuery(`DELETE FROM sessions WHERE digest = ?`)
)

// CreateSession inserts a login session; ErrConflict if the digest exists.
func (db *DB) CreateSession(ctx context.Context, s Session) error {
	const op = "create session"
	if err := checkDigest("session digest", s.Digest); err != nil {
		return opErr(op, err)
	}
	if err := checkText("session subject", s.Subject); err != nil {
		return opErr(op, err)
	}
	if err := checkTime("session auth time", s.AuthTime); err != nil {
		return opErr(op, err)
	}
	if err := checkRequiredTime("session expires at", s.ExpiresAt); err != nil {
		return opErr(op, err)
	}
	_, err := db.write1(ctx, qCreateSession, s.Digest, s.Subject,
		timeArg(s.AuthTime), s.ExpiresAt.UnixNano())
	if err != nil {
		return opErr(op, mapWriteErr(err, ErrConflict))
	}
	return nil
}

// GetSession returns the session stored under digest, or ErrNotFound.
// Expired sessions are returned as stored; the caller decides.
func (db *DB) GetSession(ctx context.Context, digest []byte) (Session, error) {
	if len(digest) == 0 {
		return Session{}, opErr("get session", ErrNotFound)
	}
	var s Session
	err := db.row(ctx, db.read, qGetSession, digest).
		Scan(&s.Digest, &s.Subject, timeCol{&s.AuthTime}, timeCol{&s.ExpiresAt})
	if err != nil {
		return Session{}, opErr("get session", mapReadErr(err))
	}
	return s, nil
}

// DeleteSession removes a session; no error if absent.
func (db *DB) DeleteSession(ctx context.Context, digest []byte) error {
	if len(digest) == 0 {
		return nil
	}
	if _, err := db.write1(ctx, qDeleteSession, digest); err != nil {
		return opErr("delete session", err)
	}
	return nil
}
