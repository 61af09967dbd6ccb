-- API groups and gateway groups of the stored catalog, and the gateway
-- groups serving each API version (same tables, columns and rules as
-- migrations/postgres).
--
-- catalog_groups holds both kinds of group, keyed by kind and name:
-- kind 'api' groups name APIs (members: a JSON array of API names),
-- kind 'gateway' groups name the sets of gateways a version is served on
-- (a gateway belongs to the group its gateway.group names; members is
-- NULL). Every write bumps catalog_revision like any catalog write.
--
-- catalog_api_versions.gateways is a JSON array of gateway group names,
-- NULL for the default group only.

-- +goose Up
ALTER TABLE catalog_api_versions ADD COLUMN gateways TEXT;

CREATE TABLE catalog_groups (
    kind        TEXT   NOT NULL CHECK (kind IN ('api', 'gateway')),
    name        TEXT   NOT NULL,
    description TEXT   NOT NULL,
    members     TEXT,
    created_at  BIGINT,
    updated_at  BIGINT,
    PRIMARY KEY (kind, name)
);

-- +goose Down
DROP TABLE catalog_groups;
ALTER TABLE catalog_api_versions DROP COLUMN gateways;
