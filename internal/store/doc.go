// Package store persists Portcullis state: clients, users, signing keys,
// tokens, authorization codes, sessions, consents and replay-protection
// records. One schema, two dialects: SQLite (modernc.org/sqlite, the
// embedded default) and PostgreSQL (pgx/v5), chosen by the DSN.
//
// The store never sees a secret in the clear: tokens, codes and session ids
// arrive as SHA-256 digests, client secrets as keyed digests, passwords as
// argon2id hashes and private keys sealed by the keys package. It must never
// import another internal package; domain packages declare the small
// interfaces they need and *DB satisfies them.
package store
