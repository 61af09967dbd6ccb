package audit

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/portcullis/portcullis/internal/store"
)

// Problem says how the chain was found broken.
type Problem string

// The problems Verify tells apart. The chain proves where it breaks, not
// always how: a record edited and re-hashed shows as the next record not
// linking to it (Unlinked).
const (
	// Edited: the record's content no longer matches its hash, is not a
	// canonical record, or its indexed columns disagree with it.
	Edited Problem = "edited"
	// Deleted: the record is missing (the sequence jumps, or the chain
	// ends before its head).
	Deleted Problem = "deleted"
	// Reordered: the place holds a later record's content: records were
	// moved, or deleted and the rest renumbered.
	Reordered Problem = "reordered"
	// Inserted: the place holds an earlier record's content, or a record
	// lies beyond the chain head or before its start.
	Inserted Problem = "inserted"
	// Unlinked: the record's previous hash is not the hash of the record
	// before it (that one was replaced, or this one altered).
	Unlinked Problem = "unlinked"
)

// Break names the first broken record.
type Break struct {
	// Seq is the place in the chain where it breaks.
	Seq     int64
	Problem Problem
	// Detail says what was found, for an operator.
	Detail string
}

// VerifyReport is the outcome of Verify.
type VerifyReport struct {
	// Records counts the records checked and found sound.
	Records int64
	// HeadSeq and HeadHash (lowercase hex) are the chain head the store
	// holds. Kept somewhere the database's administrators cannot write,
	// they let a later Verify prove the chain was not rewritten
	// wholesale from an earlier point.
	HeadSeq  int64
	HeadHash string
	// Broken is the first broken record; nil when the chain is sound.
	Broken *Break
}

// OK reports whether the chain is sound.
func (r VerifyReport) OK() bool { return r.Broken == nil }

// String is the one-line summary the CLI prints.
func (r VerifyReport) String() string {
	if r.Broken == nil {
		return fmt.Sprintf("audit trail OK: %d records, head %d %s", r.Records, r.HeadSeq, r.HeadHash)
	}
	return fmt.Sprintf("audit trail BROKEN at record %d (%s): %s", r.Broken.Seq, r.Broken.Problem, r.Broken.Detail)
}

// errStop ends the walk at the first break.
var errStop = errors.New("stop")

// Verify walks the whole chain from one consistent snapshot and reports
// the first broken record. A broken chain is a report, not an error; the
// error is for a store that could not be read.
func (a *Auditor) Verify(ctx context.Context) (VerifyReport, error) {
	var rep VerifyReport
	prev := GenesisHash
	next := int64(1) // the seq the next record must have
	fail := func(seq int64, p Problem, format string, args ...any) error {
		rep.Broken = &Break{Seq: seq, Problem: p, Detail: fmt.Sprintf(format, args...)}
		return errStop
	}
	head, err := a.st.WalkAudit(ctx, func(e store.AuditEntry) error {
		switch {
		case e.Seq > next:
			return fail(next, Deleted, "record %d is missing: the chain goes from record %d to record %d", next, next-1, e.Seq)
		case e.Seq < next:
			return fail(e.Seq, Inserted, "record %d lies before the start of the chain", e.Seq)
		}
		r, err := decodeBody(e.Record)
		if err != nil {
			return fail(e.Seq, Edited, "record %d is %v", e.Seq, err)
		}
		if canon, err := body(r); err != nil || !bytes.Equal(canon, e.Record) {
			return fail(e.Seq, Edited, "record %d is not in canonical form: its content was changed", e.Seq)
		}
		switch {
		case r.Seq > e.Seq:
			return fail(e.Seq, Reordered, "place %d holds record %d: records before it were moved, or deleted and renumbered", e.Seq, r.Seq)
		case r.Seq < e.Seq:
			return fail(e.Seq, Inserted, "place %d holds record %d: a record was inserted before it", e.Seq, r.Seq)
		}
		if !bytes.Equal(e.PrevHash, prev) {
			return fail(e.Seq, Unlinked, "record %d does not link to record %d: that record was replaced, or this one's link altered", e.Seq, e.Seq-1)
		}
		if !bytes.Equal(chainHash(prev, e.Record), e.Hash) {
			return fail(e.Seq, Edited, "record %d does not match its hash: its content was changed", e.Seq)
		}
		if !columnsMatch(e, r) {
			return fail(e.Seq, Edited, "record %d: the columns searched by filters disagree with its hashed content", e.Seq)
		}
		prev = e.Hash
		next++
		rep.Records++
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return VerifyReport{}, fmt.Errorf("audit: verify: %w", err)
	}
	rep.HeadSeq, rep.HeadHash = head.Seq, hex.EncodeToString(head.Hash)
	if rep.Broken != nil {
		return rep, nil
	}
	last := next - 1
	switch {
	case head.Seq > last:
		_ = fail(next, Deleted, "records %d to %d are missing: the chain ends at record %d but its head is at %d", next, head.Seq, last, head.Seq)
	case head.Seq < last:
		_ = fail(head.Seq+1, Inserted, "record %d lies beyond the chain head (%d)", head.Seq+1, head.Seq)
	case !bytes.Equal(head.Hash, prev):
		_ = fail(last, Edited, "the chain head's hash is not the hash of record %d", last)
	}
	return rep, nil
}

// columnsMatch reports whether the indexed columns of e repeat r.
func columnsMatch(e store.AuditEntry, r Record) bool {
	return e.Time.Equal(r.Time) &&
		e.ActorKind == string(r.Actor.Kind) &&
		e.ActorSubject == r.Actor.Subject &&
		e.ActorClientID == r.Actor.ClientID &&
		e.Action == r.Action &&
		e.TargetType == r.Target.Type &&
		e.TargetID == r.Target.ID
}
