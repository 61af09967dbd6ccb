package store

import (
	"context"
	"log/slog"
	"time"
)

// DB is the store, backed by SQLite or PostgreSQL. It is safe for
// concurrent use.
type DB struct {
	logger *slog.Logger
}

// Open connects to the database named by dsn: "postgres://..." or
// "postgresql://..." selects PostgreSQL; "sqlite:PATH", "file:PATH" or a
// plain path selects SQLite (WAL mode). It does not migrate; call Migrate.
func Open(ctx context.Context, dsn string, logger *slog.Logger) (*DB, error) { panic("todo") }

// Migrate applies the embedded migrations (idempotent, safe to run from
// several nodes at once).
func (db *DB) Migrate(ctx context.Context) error { panic("todo") }

// Dialect is "sqlite" or "postgres".
func (db *DB) Dialect() string { panic("todo") }

// Ping checks the connection (for /readyz).
func (db *DB) Ping(ctx context.Context) error { panic("todo") }

// Close releases the connections.
func (db *DB) Close() error { panic("todo") }

// CreateClient inserts c; ErrConflict if the id exists.
func (db *DB) CreateClient(ctx context.Context, c Client) error { panic("todo") }

// GetClient returns the client with id, or ErrNotFound.
func (db *DB) GetClient(ctx context.Context, id string) (Client, error) { panic("todo") }

// ListClients returns every client ordered by id.
func (db *DB) ListClients(ctx context.Context) ([]Client, error) { panic("todo") }

// UpdateClient replaces every field of the client with c.ID; ErrNotFound if
// absent.
func (db *DB) UpdateClient(ctx context.Context, c Client) error { panic("todo") }

// DeleteClient removes the client and every token, code and consent of it;
// ErrNotFound if absent.
func (db *DB) DeleteClient(ctx context.Context, id string) error { panic("todo") }

// CreateUser inserts u; ErrConflict if the id or username exists.
func (db *DB) CreateUser(ctx context.Context, u User) error { panic("todo") }

// GetUser returns the user with id, or ErrNotFound.
func (db *DB) GetUser(ctx context.Context, id string) (User, error) { panic("todo") }

// GetUserByUsername returns the user with that username, or ErrNotFound.
func (db *DB) GetUserByUsername(ctx context.Context, username string) (User, error) { panic("todo") }

// ListUsers returns every user ordered by username.
func (db *DB) ListUsers(ctx context.Context) ([]User, error) { panic("todo") }

// UpdateUser replaces every field of the user with u.ID; ErrNotFound if
// absent.
func (db *DB) UpdateUser(ctx context.Context, u User) error { panic("todo") }

// DeleteUser removes the user, its sessions, consents and tokens;
// ErrNotFound if absent.
func (db *DB) DeleteUser(ctx context.Context, id string) error { panic("todo") }

// CreateKey inserts a signing key; ErrConflict if the kid exists.
func (db *DB) CreateKey(ctx context.Context, k SigningKey) error { panic("todo") }

// ListKeys returns every signing key ordered by creation time.
func (db *DB) ListKeys(ctx context.Context) ([]SigningKey, error) { panic("todo") }

// UpdateKey replaces the timestamps (ActivatedAt, RetiredAt) of the key
// with k.KID; ErrNotFound if absent.
func (db *DB) UpdateKey(ctx context.Context, k SigningKey) error { panic("todo") }

// DeleteKey removes a signing key; ErrNotFound if absent.
func (db *DB) DeleteKey(ctx context.Context, kid string) error { panic("todo") }

// CreateToken inserts t; ErrConflict if the digest exists.
func (db *DB) CreateToken(ctx context.Context, t Token) error { panic("todo") }

// GetToken returns the token stored under digest, or ErrNotFound. Expired
// and revoked tokens are returned as stored; the caller decides.
func (db *DB) GetToken(ctx context.Context, digest []byte) (Token, error) { panic("todo") }

// RevokeToken marks one token revoked; ErrNotFound if absent.
func (db *DB) RevokeToken(ctx context.Context, digest []byte) error { panic("todo") }

// RevokeGrant marks every token of the grant revoked and returns how many
// changed.
func (db *DB) RevokeGrant(ctx context.Context, grantID string) (int64, error) { panic("todo") }

// UseRefreshToken atomically sets UsedAt=now on the refresh token if it was
// unused. It returns the token as it was before the call (so UsedAt is zero
// when this call was the first use) or ErrNotFound.
func (db *DB) UseRefreshToken(ctx context.Context, digest []byte, now time.Time) (Token, error) {
	panic("todo")
}

// CreateCode inserts an authorization code; ErrConflict if it exists.
func (db *DB) CreateCode(ctx context.Context, c AuthCode) error { panic("todo") }

// ConsumeCode atomically marks the code used and returns it. A code used
// before is returned together with ErrAlreadyUsed (so the caller can revoke
// its grant); an unknown code gives ErrNotFound. Expiry is the caller's
// check.
func (db *DB) ConsumeCode(ctx context.Context, digest []byte, now time.Time) (AuthCode, error) {
	panic("todo")
}

// UseJTI records a one-time identifier of an issuer (a client id) until exp;
// ErrReplay if it was recorded before and has not been purged.
func (db *DB) UseJTI(ctx context.Context, issuer, jti string, exp time.Time) error { panic("todo") }

// CreateSession inserts a login session.
func (db *DB) CreateSession(ctx context.Context, s Session) error { panic("todo") }

// GetSession returns the session stored under digest, or ErrNotFound.
func (db *DB) GetSession(ctx context.Context, digest []byte) (Session, error) { panic("todo") }

// DeleteSession removes a session; no error if absent.
func (db *DB) DeleteSession(ctx context.Context, digest []byte) error { panic("todo") }

// GetConsent returns what the subject granted the client, or ErrNotFound.
func (db *DB) GetConsent(ctx context.Context, subject, clientID string) (Consent, error) {
	panic("todo")
}

// SaveConsent inserts or replaces a consent.
func (db *DB) SaveConsent(ctx context.Context, c Consent) error { panic("todo") }

// PurgeExpired deletes tokens, codes, sessions and jti records that expired
// before now, and returns how many rows went.
func (db *DB) PurgeExpired(ctx context.Context, now time.Time) (int64, error) { panic("todo") }
