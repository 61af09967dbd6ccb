-- Portcullis schema, SQLite dialect.
--
-- Conventions (shared with migrations/postgres):
--   * times are INTEGER Unix nanoseconds (UTC); NULL is the zero time;
--   * lists and maps are JSON text; NULL is a nil list or map;
--   * tokens, codes and sessions are keyed by the SHA-256 digest of what the
--     client holds, never the value itself;
--   * no foreign keys: a token's subject is a user id or, for client
--     credentials, a client id, and deletes cascade in DeleteClient and
--     DeleteUser inside one transaction instead.
-- STRICT tables make SQLite refuse a value of the wrong type instead of
-- storing it anyway.

-- +goose Up
CREATE TABLE clients (
    id                  TEXT    NOT NULL PRIMARY KEY,
    name                TEXT    NOT NULL,
    secret_digest       BLOB,
    auth_method         TEXT    NOT NULL,
    grant_types         TEXT,
    redirect_uris       TEXT,
    scopes              TEXT,
    audience            TEXT,
    access_token_format TEXT    NOT NULL,
    jwks                BLOB,
    can_introspect      INTEGER NOT NULL CHECK (can_introspect IN (0, 1)),
    skip_consent        INTEGER NOT NULL CHECK (skip_consent IN (0, 1)),
    access_token_ttl    INTEGER NOT NULL,
    refresh_token_ttl   INTEGER NOT NULL,
    created_at          INTEGER,
    updated_at          INTEGER
) STRICT;

CREATE TABLE users (
    id            TEXT    NOT NULL PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    roles         TEXT,
    attrs         TEXT,
    disabled      INTEGER NOT NULL CHECK (disabled IN (0, 1)),
    created_at    INTEGER,
    updated_at    INTEGER
) STRICT;

CREATE TABLE signing_keys (
    kid            TEXT    NOT NULL PRIMARY KEY,
    alg            TEXT    NOT NULL,
    key_use        TEXT    NOT NULL,
    private_sealed BLOB,
    public_jwk     BLOB,
    created_at     INTEGER,
    activated_at   INTEGER,
    retired_at     INTEGER
) STRICT;

CREATE INDEX signing_keys_created_at ON signing_keys (created_at);

CREATE TABLE tokens (
    digest     BLOB    NOT NULL PRIMARY KEY,
    kind       TEXT    NOT NULL CHECK (kind IN ('access', 'refresh')),
    format     TEXT    NOT NULL,
    jti        TEXT    NOT NULL,
    client_id  TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    scope      TEXT    NOT NULL,
    audience   TEXT,
    claims     BLOB,
    payload    TEXT    NOT NULL,
    grant_id   TEXT    NOT NULL,
    auth_time  INTEGER,
    issued_at  INTEGER,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    revoked    INTEGER NOT NULL CHECK (revoked IN (0, 1))
) STRICT;

CREATE INDEX tokens_grant_id ON tokens (grant_id);
CREATE INDEX tokens_expires_at ON tokens (expires_at);
CREATE INDEX tokens_client_id ON tokens (client_id);
CREATE INDEX tokens_subject ON tokens (subject);

CREATE TABLE auth_codes (
    digest                BLOB    NOT NULL PRIMARY KEY,
    client_id             TEXT    NOT NULL,
    subject               TEXT    NOT NULL,
    redirect_uri          TEXT    NOT NULL,
    scope                 TEXT    NOT NULL,
    audience              TEXT,
    nonce                 TEXT    NOT NULL,
    code_challenge        TEXT    NOT NULL,
    code_challenge_method TEXT    NOT NULL,
    grant_id              TEXT    NOT NULL,
    auth_time             INTEGER,
    expires_at            INTEGER NOT NULL,
    used_at               INTEGER
) STRICT;

CREATE INDEX auth_codes_expires_at ON auth_codes (expires_at);
CREATE INDEX auth_codes_client_id ON auth_codes (client_id);
CREATE INDEX auth_codes_subject ON auth_codes (subject);

CREATE TABLE jtis (
    issuer     TEXT    NOT NULL,
    jti        TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (issuer, jti)
) STRICT;

CREATE INDEX jtis_expires_at ON jtis (expires_at);

CREATE TABLE sessions (
    digest     BLOB    NOT NULL PRIMARY KEY,
    subject    TEXT    NOT NULL,
    auth_time  INTEGER,
    expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX sessions_subject ON sessions (subject);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE consents (
    subject    TEXT    NOT NULL,
    client_id  TEXT    NOT NULL,
    scopes     TEXT,
    granted_at INTEGER,
    PRIMARY KEY (subject, client_id)
) STRICT;

CREATE INDEX consents_client_id ON consents (client_id);

-- +goose Down
DROP TABLE consents;
DROP TABLE sessions;
DROP TABLE jtis;
DROP TABLE auth_codes;
DROP TABLE tokens;
DROP TABLE signing_keys;
DROP TABLE users;
DROP TABLE clients;
