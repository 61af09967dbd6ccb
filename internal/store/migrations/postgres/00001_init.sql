-- Portcullis schema, PostgreSQL dialect.
--
-- Conventions (shared with migrations/sqlite):
--   * times are BIGINT Unix nanoseconds (UTC); NULL is the zero time;
--   * lists and maps are JSON text; NULL is a nil list or map;
--   * tokens, codes and sessions are keyed by the SHA-256 digest of what the
--     client holds, never the value itself;
--   * no foreign keys: a token's subject is a user id or, for client
--     credentials, a client id, and deletes cascade in DeleteClient and
--     DeleteUser inside one transaction instead.
-- Times are BIGINT rather than timestamptz so a round trip keeps every
-- nanosecond and both dialects share one code path; to read one by hand:
--   to_timestamp(expires_at / 1e9).

-- +goose Up
CREATE TABLE clients (
    id                  TEXT    NOT NULL PRIMARY KEY,
    name                TEXT    NOT NULL,
    secret_digest       BYTEA,
    auth_method         TEXT    NOT NULL,
    grant_types         TEXT,
    redirect_uris       TEXT,
    scopes              TEXT,
    audience            TEXT,
    access_token_format TEXT    NOT NULL,
    jwks                BYTEA,
    can_introspect      BOOLEAN NOT NULL,
    skip_consent        BOOLEAN NOT NULL,
    access_token_ttl    BIGINT  NOT NULL,
    refresh_token_ttl   BIGINT  NOT NULL,
    created_at          BIGINT,
    updated_at          BIGINT
);

CREATE TABLE users (
    id            TEXT    NOT NULL PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    roles         TEXT,
    attrs         TEXT,
    disabled      BOOLEAN NOT NULL,
    created_at    BIGINT,
    updated_at    BIGINT
);

CREATE TABLE signing_keys (
    kid            TEXT    NOT NULL PRIMARY KEY,
    alg            TEXT    NOT NULL,
    key_use        TEXT    NOT NULL,
    private_sealed BYTEA,
    public_jwk     BYTEA,
    created_at     BIGINT,
    activated_at   BIGINT,
    retired_at     BIGINT
);

CREATE INDEX signing_keys_created_at ON signing_keys (created_at);

CREATE TABLE tokens (
    digest     BYTEA   NOT NULL PRIMARY KEY,
    kind       TEXT    NOT NULL CHECK (kind IN ('access', 'refresh')),
    format     TEXT    NOT NULL,
    jti        TEXT    NOT NULL,
    client_id  TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    scope      TEXT    NOT NULL,
    audience   TEXT,
    claims     BYTEA,
    payload    TEXT    NOT NULL,
    grant_id   TEXT    NOT NULL,
    auth_time  BIGINT,
    issued_at  BIGINT,
    expires_at BIGINT  NOT NULL,
    used_at    BIGINT,
    revoked    BOOLEAN NOT NULL
);

CREATE INDEX tokens_grant_id ON tokens (grant_id);
CREATE INDEX tokens_expires_at ON tokens (expires_at);
CREATE INDEX tokens_client_id ON tokens (client_id);
CREATE INDEX tokens_subject ON tokens (subject);

CREATE TABLE auth_codes (
    digest                BYTEA   NOT NULL PRIMARY KEY,
    client_id             TEXT    NOT NULL,
    subject               TEXT    NOT NULL,
    redirect_uri          TEXT    NOT NULL,
    scope                 TEXT    NOT NULL,
    audience              TEXT,
    nonce                 TEXT    NOT NULL,
    code_challenge        TEXT    NOT NULL,
    code_challenge_method TEXT    NOT NULL,
    grant_id              TEXT    NOT NULL,
    auth_time             BIGINT,
    expires_at            BIGINT  NOT NULL,
    used_at               BIGINT
);

CREATE INDEX auth_codes_expires_at ON auth_codes (expires_at);
CREATE INDEX auth_codes_client_id ON auth_codes (client_id);
CREATE INDEX auth_codes_subject ON auth_codes (subject);

CREATE TABLE jtis (
    issuer     TEXT    NOT NULL,
    jti        TEXT    NOT NULL,
    expires_at BIGINT  NOT NULL,
    PRIMARY KEY (issuer, jti)
);

CREATE INDEX jtis_expires_at ON jtis (expires_at);

CREATE TABLE sessions (
    digest     BYTEA   NOT NULL PRIMARY KEY,
    subject    TEXT    NOT NULL,
    auth_time  BIGINT,
    expires_at BIGINT  NOT NULL
);

CREATE INDEX sessions_subject ON sessions (subject);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE consents (
    subject    TEXT    NOT NULL,
    client_id  TEXT    NOT NULL,
    scopes     TEXT,
    granted_at BIGINT,
    PRIMARY KEY (subject, client_id)
);

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
