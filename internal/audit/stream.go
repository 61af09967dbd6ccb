package audit

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"

	"github.com/portcullis/portcullis/internal/store"
)

// ErrStreamMismatch: a sink's last record is not the store's record of
// that seq, or a record read from the store does not link to the one
// before it. Streaming to that sink stops there, because continuing would
// splice another installation's (or a rewritten) trail onto the copy.
var ErrStreamMismatch = errors.New("audit: stream does not continue the trail")

// FollowStore is the part of the store a Follower reads: the records
// after a seq, in seq order, and the chain head.
type FollowStore interface {
	ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error)
	GetAuditHead(ctx context.Context) (store.AuditHead, error)
}

var _ FollowStore = (*store.DB)(nil)

// Line is one record as a sink receives it.
type Line struct {
	Seq int64
	// Action is for logs: a sink's errors name the seq and action, never
	// the record's content.
	Action string
	// JSON is the export line without its newline: the record's canonical
	// JSON with prev_hash and hash, as Export writes it.
	JSON []byte
}

// Position is where a sink picks up the trail.
type Position struct {
	// Seq is the last record the sink holds; 0 for none.
	Seq int64
	// Hash is that record's hash in lowercase hex, when the sink can read
	// it back; the Follower then checks the store holds that record
	// before going on (ErrStreamMismatch otherwise).
	Hash string
	// AtHead says the sink cannot be read back (syslog): it starts after
	// the chain head as it is when the Follower first polls.
	AtHead bool
}

// Sink is where a Follower writes records.
type Sink interface {
	// Name identifies the sink in logs and metrics: "file", "syslog".
	Name() string
	// Open prepares the sink and says where it picks up the trail. The
	// Follower calls it until it succeeds once.
	Open(ctx context.Context) (Position, error)
	// Write appends lines, which follow on from the position in seq
	// order. After a failed Write the next one starts again from the
	// first line the sink may not hold; a sink skips lines it already
	// holds, so a retry neither loses nor repeats a record.
	Write(ctx context.Context, lines []Line) error
	// Close releases the sink.
	Close() error
}

// FollowerOptions are a Follower's optional parts.
type FollowerOptions struct {
	// Logger receives sink failures and recoveries; nil discards them.
	Logger *slog.Logger
	// Streamed is called with a sink's name and the seq of the last
	// record it holds, after it opens and after each successful write.
	Streamed func(sink string, seq int64)
	// Failed is called on every failed attempt of a sink (to open, read
	// the store for it, or write).
	Failed func(sink string, err error)
}

// Follower streams the audit trail to sinks as it grows. Each Poll reads
// the records after the last one each sink holds, in seq order, checks
// that they continue the chain, and hands them to the sink. A sink that
// fails is retried on the next Poll from the same record: records are
// never skipped, and one sink's failure does not hold up another.
//
// Not safe for concurrent use: one loop polls it.
type Follower struct {
	st    FollowStore
	sinks []*follow
	o     FollowerOptions
}

// follow is one sink's progress.
type follow struct {
	sink   Sink
	opened bool
	// last is the seq of the last record the sink holds and hash its
	// hash, the PrevHash the next record must have.
	last int64
	hash []byte
	// failing is set from a failure to the next success, so a sink that
	// stays down is logged once, not every tick.
	failing bool
}

// NewFollower returns a Follower reading st into sinks.
func NewFollower(st FollowStore, sinks []Sink, o FollowerOptions) *Follower {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	f := &Follower{st: st, o: o}
	for _, s := range sinks {
		f.sinks = append(f.sinks, &follow{sink: s})
	}
	return f
}

// Poll brings every sink up to the chain head as it is now. Failures are
// logged and reported through FollowerOptions.Failed; the sink stays
// where it was until the next Poll.
func (f *Follower) Poll(ctx context.Context) {
	for _, fl := range f.sinks {
		if ctx.Err() != nil {
			return
		}
		err := f.advance(ctx, fl)
		name := fl.sink.Name()
		switch {
		case err != nil && ctx.Err() != nil:
			// Shutting down; the next start resumes.
		case err != nil:
			if f.o.Failed != nil {
				f.o.Failed(name, err)
			}
			if !fl.failing {
				f.o.Logger.Warn("audit stream failed; retrying from the same record", "sink", name, "after_seq", fl.last, "err", err)
			}
			fl.failing = true
		case fl.failing:
			f.o.Logger.Info("audit stream recovered", "sink", name, "seq", fl.last)
			fl.failing = false
		}
	}
}

// Close closes every sink.
func (f *Follower) Close() error {
	var errs []error
	for _, fl := range f.sinks {
		if err := fl.sink.Close(); err != nil {
			errs = append(errs, fmt.Errorf("audit stream %s: close: %w", fl.sink.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// advance opens fl's sink if need be, then writes it every record after
// the last it holds, a page at a time.
func (f *Follower) advance(ctx context.Context, fl *follow) error {
	if !fl.opened {
		if err := f.open(ctx, fl); err != nil {
			return err
		}
	}
	for {
		entries, err := f.st.ListAudit(ctx, store.AuditFilter{AfterSeq: fl.last, Limit: store.MaxAuditPage})
		if err != nil {
			return fmt.Errorf("audit stream: read records after %d: %w", fl.last, err)
		}
		if len(entries) == 0 {
			return nil
		}
		// The records before a break in the chain are still streamed;
		// the stream then stops at the break.
		lines, hash, broken := linesOf(entries, fl.last, fl.hash)
		if len(lines) > 0 {
			if err := fl.sink.Write(ctx, lines); err != nil {
				first, last := lines[0], lines[len(lines)-1]
				return fmt.Errorf("audit stream %s: write records %d (%s) to %d: %w", fl.sink.Name(), first.Seq, first.Action, last.Seq, err)
			}
			fl.last, fl.hash = lines[len(lines)-1].Seq, hash
			f.streamed(fl)
		}
		if broken != nil {
			return broken
		}
		if len(entries) < store.MaxAuditPage {
			return nil
		}
	}
}

// open opens fl's sink and settles where it resumes.
func (f *Follower) open(ctx context.Context, fl *follow) error {
	pos, err := fl.sink.Open(ctx)
	if err != nil {
		return fmt.Errorf("audit stream %s: open: %w", fl.sink.Name(), err)
	}
	last, hash, err := f.resumeAt(ctx, pos)
	if err != nil {
		// Opened again, and checked again, on the next Poll: an operator
		// may move a wrong file aside without a restart.
		_ = fl.sink.Close() // the check's error is the one to report
		return fmt.Errorf("audit stream %s: %w", fl.sink.Name(), err)
	}
	fl.opened, fl.last, fl.hash = true, last, hash
	f.streamed(fl)
	return nil
}

// resumeAt turns a sink's position into the seq and hash the next record
// must follow, checking a position the sink read back against the store.
func (f *Follower) resumeAt(ctx context.Context, pos Position) (int64, []byte, error) {
	if pos.AtHead {
		head, err := f.st.GetAuditHead(ctx)
		if err != nil {
			return 0, nil, fmt.Errorf("read the chain head: %w", err)
		}
		return head.Seq, head.Hash, nil
	}
	if pos.Seq == 0 {
		return 0, GenesisHash, nil
	}
	want, err := hex.DecodeString(pos.Hash)
	if err != nil || len(want) != store.AuditHashSize {
		return 0, nil, fmt.Errorf("%w: the sink's last record %d has no valid hash", ErrStreamMismatch, pos.Seq)
	}
	entries, err := f.st.ListAudit(ctx, store.AuditFilter{AfterSeq: pos.Seq - 1, Limit: 1})
	if err != nil {
		return 0, nil, fmt.Errorf("read record %d: %w", pos.Seq, err)
	}
	if len(entries) == 0 || entries[0].Seq != pos.Seq {
		return 0, nil, fmt.Errorf("%w: the sink holds record %d, which the store does not (restored from an older backup, or another installation's)", ErrStreamMismatch, pos.Seq)
	}
	if !bytes.Equal(entries[0].Hash, want) {
		return 0, nil, fmt.Errorf("%w: the sink's record %d is not the store's record %d (another installation's trail, or a rewritten one)", ErrStreamMismatch, pos.Seq, pos.Seq)
	}
	return pos.Seq, want, nil
}

func (f *Follower) streamed(fl *follow) {
	if f.o.Streamed != nil {
		f.o.Streamed(fl.sink.Name(), fl.last)
	}
}

// linesOf encodes entries as export lines, checking that they follow
// record after (whose hash is prev) without a gap and that each links to
// the one before and matches its hash. It returns the lines up to the
// first that fails a check, the hash of the last of them, and the
// failure.
func linesOf(entries []store.AuditEntry, after int64, prev []byte) ([]Line, []byte, error) {
	lines := make([]Line, 0, len(entries))
	for _, e := range entries {
		var err error
		switch {
		case e.Seq != after+1:
			err = fmt.Errorf("%w: record %d follows record %d", ErrStreamMismatch, e.Seq, after)
		case !bytes.Equal(e.PrevHash, prev):
			err = fmt.Errorf("%w: record %d does not link to record %d", ErrStreamMismatch, e.Seq, after)
		case !bytes.Equal(chainHash(prev, e.Record), e.Hash):
			err = fmt.Errorf("%w: record %d does not match its hash", ErrStreamMismatch, e.Seq)
		}
		if err != nil {
			return lines, prev, err
		}
		r, err := decodeEntry(e)
		if err != nil {
			return lines, prev, err
		}
		line, err := encode(r)
		if err != nil {
			return lines, prev, fmt.Errorf("audit: record %d: %w", e.Seq, err)
		}
		lines = append(lines, Line{Seq: e.Seq, Action: r.Action, JSON: line})
		after, prev = e.Seq, e.Hash
	}
	return lines, prev, nil
}
