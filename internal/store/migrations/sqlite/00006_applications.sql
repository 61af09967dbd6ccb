-- Applications and their subscriptions (same tables, columns and rules as
-- migrations/postgres).
--
-- applications holds one row per application: an OAuth client (client_id,
-- one application per client) owned by a subject (owner, the developer
-- who made it) and optionally a team, in the sandbox or production
-- environment. id is server-generated ("app_" and random text). Deleting
-- the client deletes its application in the same statement (ON DELETE
-- CASCADE): a client id registered again later must not inherit an old
-- owner's application and subscriptions.
--
-- subscriptions holds one row per subscription of an application to an
-- API version (api_name, api_version) under a plan, with its state.
-- Deleting the application deletes them. An application has at most one
-- subscription to a version that is not cancelled (the partial unique
-- index); cancelled ones stay as history.
--
-- Times are Unix nanoseconds, as everywhere in the store; updated_at also
-- serves as the row's version for conditional writes.

-- +goose Up
CREATE TABLE applications (
    id          TEXT    NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL,
    client_id   TEXT    NOT NULL UNIQUE REFERENCES clients (id) ON DELETE CASCADE,
    owner       TEXT    NOT NULL,
    team        TEXT    NOT NULL,
    environment TEXT    NOT NULL CHECK (environment IN ('sandbox', 'production')),
    description TEXT    NOT NULL,
    created_at  INTEGER,
    updated_at  INTEGER
) STRICT;

CREATE INDEX applications_owner ON applications (owner);

CREATE TABLE subscriptions (
    id             TEXT    NOT NULL PRIMARY KEY,
    application_id TEXT    NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    api_name       TEXT    NOT NULL,
    api_version    TEXT    NOT NULL,
    plan           TEXT    NOT NULL,
    state          TEXT    NOT NULL CHECK (state IN ('active', 'suspended', 'cancelled')),
    created_at     INTEGER,
    updated_at     INTEGER
) STRICT;

CREATE INDEX subscriptions_application ON subscriptions (application_id);
CREATE INDEX subscriptions_api ON subscriptions (api_name, api_version);
CREATE UNIQUE INDEX subscriptions_live ON subscriptions (application_id, api_name, api_version)
    WHERE state <> 'cancelled';

-- +goose Down
DROP TABLE subscriptions;
DROP TABLE applications;
