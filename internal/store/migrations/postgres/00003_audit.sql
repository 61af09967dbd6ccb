-- The audit trail (same tables, columns and rules as migrations/sqlite,
-- which explains them). An append locks the one audit_head row with
-- SELECT ... FOR UPDATE, so appends from every node queue on it.
--
-- The triggers run as the table owner's functions would for anyone: only
-- a schema change (DROP TRIGGER, ALTER TABLE ... DISABLE TRIGGER) gets
-- past them, which a deployment can keep from the application's role by
-- making another role own the tables.

-- +goose Up
CREATE TABLE audit_log (
    seq             BIGINT NOT NULL PRIMARY KEY,
    at              BIGINT NOT NULL,
    actor_kind      TEXT   NOT NULL,
    actor_subject   TEXT   NOT NULL,
    actor_client_id TEXT   NOT NULL,
    action          TEXT   NOT NULL,
    target_type     TEXT   NOT NULL,
    target_id       TEXT   NOT NULL,
    record          TEXT   NOT NULL,
    prev_hash       BYTEA  NOT NULL,
    hash            BYTEA  NOT NULL
);

CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_action ON audit_log (action);
CREATE INDEX audit_log_actor_subject ON audit_log (actor_subject);
CREATE INDEX audit_log_actor_client_id ON audit_log (actor_client_id);
CREATE INDEX audit_log_target ON audit_log (target_type, target_id);

CREATE TABLE audit_head (
    id   INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    seq  BIGINT  NOT NULL,
    hash BYTEA   NOT NULL
);

INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

-- +goose StatementBegin
CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION audit_log_check_append() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    head audit_head%ROWTYPE;
BEGIN
    SELECT * INTO head FROM audit_head WHERE id = 1;
    IF NOT FOUND OR NEW.seq IS DISTINCT FROM head.seq + 1 OR NEW.prev_hash IS DISTINCT FROM head.hash THEN
        RAISE EXCEPTION 'audit_log: a record must follow the chain head';
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION audit_head_check_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit_head is never deleted';
    END IF;
    IF NEW.id IS DISTINCT FROM OLD.id OR NEW.seq IS DISTINCT FROM OLD.seq + 1 OR NOT EXISTS (
        SELECT 1 FROM audit_log WHERE seq = NEW.seq AND hash = NEW.hash AND prev_hash = OLD.hash
    ) THEN
        RAISE EXCEPTION 'audit_head only moves forward onto the record appended';
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_append_at_head BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_check_append();
CREATE TRIGGER audit_head_forward BEFORE UPDATE OR DELETE ON audit_head
    FOR EACH ROW EXECUTE FUNCTION audit_head_check_move();
CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();

-- +goose Down
DROP TABLE audit_head;
DROP TABLE audit_log;
DROP FUNCTION audit_head_check_move();
DROP FUNCTION audit_log_check_append();
DROP FUNCTION audit_log_refuse_change();
