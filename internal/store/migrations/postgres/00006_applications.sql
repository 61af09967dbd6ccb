-- Applications and their subscriptions (same tables, columns and rules as
-- migrations/sqlite, which explains them).

-- +goose Up
CREATE TABLE applications (
    id          TEXT   NOT NULL PRIMARY KEY,
    name        TEXT   NOT NULL,
    client_id   TEXT   NOT NULL UNIQUE REFERENCES clients (id) ON DELETE CASCADE,
    owner       TEXT   NOT NULL,
    team        TEXT   NOT NULL,
    environment TEXT   NOT NULL CHECK (environment IN ('sandbox', 'production')),
    description TEXT   NOT NULL,
    created_at  BIGINT,
    updated_at  BIGINT
);

CREATE INDEX applications_owner ON applications (owner);

CREATE TABLE subscriptions (
    id             TEXT   NOT NULL PRIMARY KEY,
    application_id TEXT   NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    api_name       TEXT   NOT NULL,
    api_version    TEXT   NOT NULL,
    plan           TEXT   NOT NULL,
    state          TEXT   NOT NULL CHECK (state IN ('active', 'suspended', 'cancelled')),
    created_at     BIGINT,
    updated_at     BIGINT
);

CREATE INDEX subscriptions_application ON subscriptions (application_id);
CREATE INDEX subscriptions_api ON subscriptions (api_name, api_version);
CREATE UNIQUE INDEX subscriptions_live ON subscriptions (application_id, api_name, api_version)
    WHERE state <> 'cancelled';

-- +goose Down
DROP TABLE subscriptions;
DROP TABLE applications;
