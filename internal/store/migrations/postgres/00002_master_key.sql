-- The master key of record, and which master key made each client-secret
-- digest (same tables and columns as migrations/sqlite, which explains
-- them).

-- +goose Up
CREATE TABLE master_key_check (
    id          INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    key_id      TEXT    NOT NULL,
    check_value BYTEA   NOT NULL,
    created_at  BIGINT,
    updated_at  BIGINT
);

ALTER TABLE clients ADD COLUMN secret_key_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE clients DROP COLUMN secret_key_id;
DROP TABLE master_key_check;
