-- The stored API catalog (same tables, columns and rules as
-- migrations/postgres).
--
-- catalog_api_versions holds one row per version of an API managed
-- through `portcullis apply` (and later the admin API): the columns a
-- listing filters on, and entry, the whole catalog.API as JSON, which is
-- what a gateway builds its route for the version from. base_path is
-- unique: two versions never share one. state is the lifecycle state
-- (internal/catalog decides which moves are allowed); deprecated_at and
-- sunset are Unix nanoseconds or NULL.
--
-- catalog_plans holds named bundles of limits (limits is a JSON array of
-- catalog.Limit).
--
-- catalog_revision holds one row: a counter every catalog write bumps in
-- its own transaction, so a gateway polls one integer to learn whether
-- its route table is stale.

-- +goose Up
CREATE TABLE catalog_api_versions (
    name          TEXT    NOT NULL,
    version       TEXT    NOT NULL,
    base_path     TEXT    NOT NULL UNIQUE,
    upstream      TEXT    NOT NULL,
    entry         TEXT    NOT NULL,
    description   TEXT    NOT NULL,
    owners        TEXT,
    tags          TEXT,
    state         TEXT    NOT NULL CHECK (state IN ('draft', 'published', 'deprecated', 'retired')),
    deprecated_at INTEGER,
    sunset        INTEGER,
    created_at    INTEGER,
    updated_at    INTEGER,
    PRIMARY KEY (name, version)
) STRICT;

CREATE INDEX catalog_api_versions_state ON catalog_api_versions (state);

CREATE TABLE catalog_plans (
    name        TEXT    NOT NULL PRIMARY KEY,
    description TEXT    NOT NULL,
    limits      TEXT    NOT NULL,
    created_at  INTEGER,
    updated_at  INTEGER
) STRICT;

CREATE TABLE catalog_revision (
    id       INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    revision INTEGER NOT NULL
) STRICT;

INSERT INTO catalog_revision (id, revision) VALUES (1, 0);

-- +goose Down
DROP TABLE catalog_revision;
DROP TABLE catalog_plans;
DROP TABLE catalog_api_versions;
