-- The audit trail (same tables, columns and rules as migrations/postgres).
--
-- audit_log holds one row per record, append-only: seq is the record's
-- place in the hash chain (1, 2, 3, ... without gaps), record is its
-- canonical JSON without the hash (internal/audit makes it; the hash
-- covers exactly these bytes), prev_hash and hash are the chain links:
-- hash = SHA-256(prev_hash || record), and the first record's prev_hash
-- is 32 zero bytes. The other columns repeat fields of record so List and
-- export can filter by them; Verify checks they agree with record.
--
-- audit_head holds one row: the seq and hash of the last record. An
-- append locks it (on SQLite, BEGIN IMMEDIATE takes the database's single
-- write lock), reads it, inserts seq+1 and moves it, in one transaction,
-- so two nodes appending at once can never fork the chain; and Verify
-- compares it with the last record, so records removed from the end are
-- seen as well.
--
-- Triggers keep both tables honest against anything but a schema change:
-- a record is never updated or deleted, is inserted only as the head's
-- successor, and the head only moves forward onto the record just
-- inserted and is never deleted.

-- +goose Up
CREATE TABLE audit_log (
    seq             INTEGER NOT NULL PRIMARY KEY,
    at              INTEGER NOT NULL,
    actor_kind      TEXT    NOT NULL,
    actor_subject   TEXT    NOT NULL,
    actor_client_id TEXT    NOT NULL,
    action          TEXT    NOT NULL,
    target_type     TEXT    NOT NULL,
    target_id       TEXT    NOT NULL,
    record          TEXT    NOT NULL,
    prev_hash       BLOB    NOT NULL,
    hash            BLOB    NOT NULL
) STRICT;

CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_action ON audit_log (action);
CREATE INDEX audit_log_actor_subject ON audit_log (actor_subject);
CREATE INDEX audit_log_actor_client_id ON audit_log (actor_client_id);
CREATE INDEX audit_log_target ON audit_log (target_type, target_id);

CREATE TABLE audit_head (
    id   INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash BLOB    NOT NULL
) STRICT;

INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, zeroblob(32));

-- +goose StatementBegin
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER audit_log_append_at_head BEFORE INSERT ON audit_log
WHEN NEW.seq IS NOT (SELECT seq + 1 FROM audit_head WHERE id = 1)
  OR NEW.prev_hash IS NOT (SELECT hash FROM audit_head WHERE id = 1)
BEGIN
    SELECT RAISE(ABORT, 'audit_log: a record must follow the chain head');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER audit_head_forward BEFORE UPDATE ON audit_head
WHEN NEW.id IS NOT OLD.id
  OR NEW.seq IS NOT OLD.seq + 1
  OR NOT EXISTS (SELECT 1 FROM audit_log
                 WHERE seq = NEW.seq AND hash = NEW.hash AND prev_hash = OLD.hash)
BEGIN
    SELECT RAISE(ABORT, 'audit_head only moves forward onto the record appended');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
BEGIN
    SELECT RAISE(ABORT, 'audit_head is never deleted');
END;
-- +goose StatementEnd

-- +goose Down
DROP TABLE audit_head;
DROP TABLE audit_log;
