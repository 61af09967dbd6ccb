-- The master key of record, and which master key made each client-secret
-- digest (same tables and columns as migrations/postgres).
--
-- master_key_check holds one row: the id of the master key the store was
-- initialised with and a MAC of a fixed label under a key derived from it,
-- so a node given another key refuses to start instead of sealing new
-- signing keys over the old ones. Created by the first start or
-- management command that uses the key, not here: a migration never sees
-- the key.
--
-- clients.secret_key_id is that id for the key a client's secret digest
-- was made under, so a master-key rotation can tell which digests still
-- need the previous key; '' until the first start fills it in for rows
-- that predate this migration.

-- +goose Up
CREATE TABLE master_key_check (
    id          INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    key_id      TEXT    NOT NULL,
    check_value BLOB    NOT NULL,
    created_at  INTEGER,
    updated_at  INTEGER
) STRICT;

ALTER TABLE clients ADD COLUMN secret_key_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE clients DROP COLUMN secret_key_id;
DROP TABLE master_key_check;
