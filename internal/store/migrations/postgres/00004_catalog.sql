-- The stored API catalog (same tables, columns and rules as
-- migrations/sqlite, which explains them).

-- +goose Up
CREATE TABLE catalog_api_versions (
    name          TEXT   NOT NULL,
    version       TEXT   NOT NULL,
    base_path     TEXT   NOT NULL UNIQUE,
    upstream      TEXT   NOT NULL,
    entry         TEXT   NOT NULL,
    description   TEXT   NOT NULL,
    owners        TEXT,
    tags          TEXT,
    state         TEXT   NOT NULL CHECK (state IN ('draft', 'published', 'deprecated', 'retired')),
    deprecated_at BIGINT,
    sunset        BIGINT,
    created_at    BIGINT,
    updated_at    BIGINT,
    PRIMARY KEY (name, version)
);

CREATE INDEX catalog_api_versions_state ON catalog_api_versions (state);

CREATE TABLE catalog_plans (
    name        TEXT   NOT NULL PRIMARY KEY,
    description TEXT   NOT NULL,
    limits      TEXT   NOT NULL,
    created_at  BIGINT,
    updated_at  BIGINT
);

CREATE TABLE catalog_revision (
    id       INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    revision BIGINT  NOT NULL
);

INSERT INTO catalog_revision (id, revision) VALUES (1, 0);

-- +goose Down
DROP TABLE catalog_revision;
DROP TABLE catalog_plans;
DROP TABLE catalog_api_versions;
