package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"strings"
	"time"
)

// The audit trail is append-only: the store has no method that updates or
// deletes a record, and the migrations add triggers that refuse it in both
// dialects. What a record means, its canonical JSON and its hash belong to
// internal/audit; the store keeps the rows, serialises appends and checks
// that each one extends the chain head.

const auditCols = `seq, at, actor_kind, actor_subject, actor_client_id, action,
	target_type, target_id, record, prev_hash, hash`

var (
	// FOR UPDATE queues concurrent appends from every node on the one
	// head row. SQLite needs no lock clause: the write transaction
	// (BEGIN IMMEDIATE) holds the database's single write lock already.
	qLockAuditHead = query{
		sqlite:   `SELECT seq, hash FROM audit_head WHERE id = 1`,
		postgres: `SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE`,
	}
	qGetAuditHead     = newQuery(`SELECT seq, hash FROM audit_head WHERE id = 1`)
	qInsertAuditEntry = newQuery(`INSERT INTO audit_log (` + auditCols + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	qMoveAuditHead = newQuery(`UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1 AND seq = ?`)
	qWalkAudit     = newQuery(`SELECT ` + auditCols + ` FROM audit_log ORDER BY seq`)
)

// AuditHashSize is the length of an audit hash (SHA-256).
const AuditHashSize = sha256.Size

// DefaultAuditPage and MaxAuditPage bound the records one ListAudit call
// returns.
const (
	DefaultAuditPage = 100
	MaxAuditPage     = 1000
)

// AuditEntry is one stored record of the audit trail.
type AuditEntry struct {
	// Seq is the record's place in the chain: 1, 2, 3, ... without gaps.
	Seq  int64
	Time time.Time
	// The actor, action and target repeat fields of Record so that
	// ListAudit can filter on them.
	ActorKind     string
	ActorSubject  string
	ActorClientID string
	Action        string
	TargetType    string
	TargetID      string
	// Record is the canonical JSON of the record without its hash, made by
	// internal/audit; Hash covers exactly these bytes.
	Record []byte
	// PrevHash is the Hash of record Seq-1 (32 zero bytes for the first);
	// Hash is SHA-256(PrevHash || Record).
	PrevHash []byte
	Hash     []byte
}

// AuditHead is the end of the chain: the Seq and Hash of the last record
// (0 and 32 zero bytes before the first).
type AuditHead struct {
	Seq  int64
	Hash []byte
}

// AuditSeal makes the entry that follows head. AppendAudit calls it inside
// its transaction, with the head locked, so the entry it returns must have
// Seq head.Seq+1 and PrevHash head.Hash; it must not call the store.
type AuditSeal func(head AuditHead) (AuditEntry, error)

// AuditFilter selects audit entries for ListAudit; zero fields select
// everything. Entries come in Seq order.
type AuditFilter struct {
	// Actor matches the actor's subject or client id.
	Actor string
	// Action matches the action exactly; ActionPrefix matches actions that
	// start with it ("client." for every client action).
	Action       string
	ActionPrefix string
	// TargetType and TargetID match the target.
	TargetType string
	TargetID   string
	// Since and Until bound the time: Since <= Time < Until.
	Since time.Time
	Until time.Time
	// AfterSeq pages: only entries with a greater Seq.
	AfterSeq int64
	// Limit is the most entries returned: DefaultAuditPage when zero,
	// never more than MaxAuditPage.
	Limit int
}

// checkAuditEntry validates e as the successor of head.
func checkAuditEntry(e AuditEntry, head AuditHead) error {
	if e.Seq != head.Seq+1 {
		return invalid("audit entry does not follow the chain head")
	}
	if !bytes.Equal(e.PrevHash, head.Hash) {
		return invalid("audit entry does not link to the chain head")
	}
	if len(e.Hash) != AuditHashSize {
		return invalid("audit hash is not %d bytes", AuditHashSize)
	}
	if err := checkRequiredTime("audit time", e.Time); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{
		{"audit actor kind", e.ActorKind},
		{"audit action", e.Action},
		{"audit record", string(e.Record)},
	} {
		if err := checkRequired(f.name, f.v); err != nil {
			return err
		}
	}
	for _, f := range []struct{ name, v string }{
		{"audit actor subject", e.ActorSubject},
		{"audit actor client id", e.ActorClientID},
		{"audit target type", e.TargetType},
		{"audit target id", e.TargetID},
	} {
		if err := checkText(f.name, f.v); err != nil {
			return err
		}
	}
	return nil
}

// AppendAudit appends the entry seal makes to the chain and applies
// changes, in one transaction: either the changes and their record are
// committed together, or neither is. It returns the entry stored.
//
// Appends are serialised in the database, so nodes appending at once
// never fork the chain: the head row is locked (PostgreSQL SELECT ... FOR
// UPDATE; SQLite's write transaction), read, the entry inserted as its
// successor and the head moved, before the commit releases the lock. The
// changes run first, so the head is held only for the append itself, and
// every transaction takes row locks before the head lock, never after.
//
// A change that fails returns the error of its method (ErrConflict,
// ErrNotFound, ErrInvalid) and nothing is appended.
func (db *DB) AppendAudit(ctx context.Context, seal AuditSeal, changes ...Change) (AuditEntry, error) {
	const op = "append audit record"
	for _, c := range changes {
		if err := c.check(); err != nil {
			return AuditEntry{}, opErr(c.name(), err)
		}
	}
	var entry AuditEntry
	var failed string // the change that failed, for the error
	err := db.inTx(ctx, func(tx *sql.Tx) error {
		for _, c := range changes {
			if err := c.apply(ctx, db, tx); err != nil {
				failed = c.name()
				return err
			}
		}
		var head AuditHead
		if err := tx.QueryRowContext(ctx, db.text(qLockAuditHead)).Scan(&head.Seq, &head.Hash); err != nil {
			// No head row: the migration did not run, or the table was
			// tampered with. Refuse rather than start a new chain.
			return mapReadErr(err)
		}
		e, err := seal(AuditHead{Seq: head.Seq, Hash: bytes.Clone(head.Hash)})
		if err != nil {
			return err
		}
		if err := checkAuditEntry(e, head); err != nil {
			return err
		}
		if _, err := db.txExec(ctx, tx, qInsertAuditEntry, e.Seq, timeArg(e.Time),
			e.ActorKind, e.ActorSubject, e.ActorClientID, e.Action, e.TargetType, e.TargetID,
			string(e.Record), e.PrevHash, e.Hash); err != nil {
			return err
		}
		n, err := db.txExec(ctx, tx, qMoveAuditHead, e.Seq, e.Hash, head.Seq)
		if err != nil {
			return err
		}
		if n != 1 {
			return errors.New("audit chain head moved during the append")
		}
		entry = e
		return nil
	})
	if err != nil {
		if failed != "" {
			return AuditEntry{}, opErr(failed, err)
		}
		return AuditEntry{}, opErr(op, err)
	}
	entry.Time = entry.Time.UTC()
	return entry, nil
}

// GetAuditHead returns the end of the chain.
func (db *DB) GetAuditHead(ctx context.Context) (AuditHead, error) {
	var h AuditHead
	if err := db.row(ctx, db.read, qGetAuditHead).Scan(&h.Seq, &h.Hash); err != nil {
		return AuditHead{}, opErr("get audit head", mapReadErr(err))
	}
	return h, nil
}

func scanAuditEntry(r rowScanner) (AuditEntry, error) {
	var e AuditEntry
	var record string
	err := r.Scan(&e.Seq, timeCol{&e.Time}, &e.ActorKind, &e.ActorSubject, &e.ActorClientID,
		&e.Action, &e.TargetType, &e.TargetID, &record, bytesCol{&e.PrevHash}, bytesCol{&e.Hash})
	e.Record = []byte(record)
	return e, err
}

// ListAudit returns the entries f selects, in Seq order, at most f.Limit
// of them; page on with AfterSeq set to the last Seq returned.
func (db *DB) ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	const op = "list audit records"
	limit := f.Limit
	switch {
	case limit <= 0:
		limit = DefaultAuditPage
	case limit > MaxAuditPage:
		limit = MaxAuditPage
	}
	for _, s := range []string{f.Actor, f.Action, f.ActionPrefix, f.TargetType, f.TargetID} {
		if !validKey(s) {
			return nil, nil // no entry can match text no entry can hold
		}
	}
	var where strings.Builder
	args := []any{f.AfterSeq}
	where.WriteString(`seq > ?`)
	and := func(cond string, a ...any) {
		where.WriteString(" AND " + cond)
		args = append(args, a...)
	}
	if f.Actor != "" {
		and(`(actor_subject = ? OR actor_client_id = ?)`, f.Actor, f.Actor)
	}
	if f.Action != "" {
		and(`action = ?`, f.Action)
	}
	if f.ActionPrefix != "" {
		// A range rather than LIKE: exact in both dialects (SQLite's LIKE
		// ignores case) and it needs no escaping of % and _.
		if upper, ok := prefixEnd(f.ActionPrefix); ok {
			and(`action >= ? AND action < ?`, f.ActionPrefix, upper)
		} else {
			and(`action >= ?`, f.ActionPrefix)
		}
	}
	if f.TargetType != "" {
		and(`target_type = ?`, f.TargetType)
	}
	if f.TargetID != "" {
		and(`target_id = ?`, f.TargetID)
	}
	if !f.Since.IsZero() {
		if err := checkTime("audit since", f.Since); err != nil {
			return nil, opErr(op, err)
		}
		and(`at >= ?`, timeArg(f.Since))
	}
	if !f.Until.IsZero() {
		if err := checkTime("audit until", f.Until); err != nil {
			return nil, opErr(op, err)
		}
		and(`at < ?`, timeArg(f.Until))
	}
	args = append(args, limit)
	q := newQuery(`SELECT ` + auditCols + ` FROM audit_log WHERE ` + where.String() + ` ORDER BY seq LIMIT ?`)
	rows, err := db.rows(ctx, db.read, q, args...)
	if err != nil {
		return nil, opErr(op, err)
	}
	list, err := scanAll(rows, scanAuditEntry)
	if err != nil {
		return nil, opErr(op, err)
	}
	return list, nil
}

// prefixEnd returns the least string greater than every string starting
// with p, or false when there is none (p is all 0xff bytes).
func prefixEnd(p string) (string, bool) {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

// WalkAudit calls visit with every entry in Seq order and returns the
// chain head, all read from one consistent snapshot, so entries appended
// meanwhile are neither half seen nor mistaken for forgeries. An error
// from visit stops the walk and is returned as it is.
func (db *DB) WalkAudit(ctx context.Context, visit func(AuditEntry) error) (AuditHead, error) {
	const op = "walk audit records"
	var opts *sql.TxOptions
	if db.dialect == dialectPostgres {
		// One snapshot for the head and every row.
		opts = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	}
	// On SQLite a read transaction on a WAL reader is a snapshot already.
	tx, err := db.read.BeginTx(ctx, opts)
	if err != nil {
		return AuditHead{}, opErr(op, err)
	}
	defer func() { _ = tx.Rollback() }() // read-only: nothing to commit

	var head AuditHead
	if err := tx.QueryRowContext(ctx, db.text(qGetAuditHead)).Scan(&head.Seq, &head.Hash); err != nil {
		return AuditHead{}, opErr(op, mapReadErr(err))
	}
	rows, err := tx.QueryContext(ctx, db.text(qWalkAudit))
	if err != nil {
		return AuditHead{}, opErr(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanAuditEntry(rows)
		if err != nil {
			return AuditHead{}, opErr(op, err)
		}
		if err := visit(e); err != nil {
			return head, err
		}
	}
	if err := rows.Err(); err != nil {
		return AuditHead{}, opErr(op, err)
	}
	return head, nil
}
