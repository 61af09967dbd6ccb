// Package store persists Portcullis state: clients, users, signing keys,
// tokens, authorization codes, sessions, consents and replay-protection
// records. One schema, two dialects: SQLite (modernc.org/sqlite, the
// embedded default) and PostgreSQL (pgx/v5), chosen by the DSN.
//
// The store never sees a secret in the clear: tokens, codes and session ids
// arrive as SHA-256 digests, client secrets as keyed digests, passwords as
// argon2id hashes and private keys sealed by the keys package. It must never
// import another internal package; domain packages declare the small
// interfaces they need and *DB satisfies them. No error or log line it
// produces names a digest, a hash or a DSN password.
//
// # Encoding
//
// Both dialects store the same columns, so a record reads back the same
// from either:
//
//   - Times are 64-bit Unix nanoseconds (UTC) and the zero time.Time is
//     NULL, so a round trip is exact, comes back in UTC, and the Unix
//     epoch stays distinct from "unset". Times outside the years 1678 to
//     2262 are refused with ErrInvalid.
//   - Lists and maps are JSON text; a nil list or map is NULL, an empty
//     one stays empty. Byte slices likewise keep nil apart from empty.
//   - Text must be valid UTF-8 without NUL bytes (PostgreSQL's rule, kept
//     on SQLite too); anything else is refused with ErrInvalid. A lookup
//     by such a key simply finds nothing (ErrNotFound).
//   - Tokens, codes, sessions and jti records must carry an expiry, so
//     PurgeExpired can remove them; a zero expiry is ErrInvalid.
//
// # SQLite
//
// A SQLite database runs in WAL mode with two pools on the same file: one
// write connection (SQLite has one writer at a time anyway) and several
// query_only read connections that WAL lets run beside it. Single-statement
// writes are group-committed: concurrent callers share one transaction,
// each still returning only after its own row is committed. ":memory:"
// uses a single connection, since each connection would otherwise see its
// own empty database.
//
// # PostgreSQL
//
// PostgreSQL is reached through a pgxpool behind database/sql, so both
// dialects share one code path; pgxpool DSN parameters (pool_max_conns,
// search_path, ...) apply. Migrate holds a PostgreSQL advisory lock, so
// several nodes may start, and migrate, at once.
package store
