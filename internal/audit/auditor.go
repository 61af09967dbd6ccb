package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// ErrNoActor: a change was to be recorded without an actor in its context
// and the Auditor has no default one. The change is refused: an
// unattributed record would be a hole in the trail.
var ErrNoActor = errors.New("audit: no actor for the change")

// Store is the part of the store the Auditor needs.
type Store interface {
	AppendAudit(ctx context.Context, seal store.AuditSeal, changes ...store.Change) (store.AuditEntry, error)
	ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error)
	WalkAudit(ctx context.Context, visit func(store.AuditEntry) error) (store.AuditHead, error)
}

var _ Store = (*store.DB)(nil)

// Auditor appends to, reads and verifies the audit trail. Safe for
// concurrent use.
type Auditor struct {
	st  Store
	now func() time.Time
	// fallback is the actor of changes whose context names none; nil
	// refuses them (ErrNoActor).
	fallback *Actor
}

// New returns an Auditor over st; now is the clock (nil means time.Now).
// It refuses changes whose context carries no actor (WithActor).
func New(st Store, now func() time.Time) *Auditor {
	if now == nil {
		now = time.Now
	}
	return &Auditor{st: st, now: now}
}

// WithDefaultActor returns a copy of a that records act for changes whose
// context names no actor: a management command's operator, or the node
// itself seeding its demo. Code serving requests (the admin API) uses an
// Auditor without one, so a handler that forgot the caller fails instead
// of blaming someone else.
func (a *Auditor) WithDefaultActor(act Actor) *Auditor {
	b := *a
	act.Roles = append([]string(nil), act.Roles...)
	b.fallback = &act
	return &b
}

// Append appends rec to the trail. Seq, Time and the hashes are set here;
// the actor is rec.Actor if set, else the context's (WithActor), else the
// default actor; SourceIP and RequestID default to the context's Origin.
// Before and After are redacted.
func (a *Auditor) Append(ctx context.Context, rec Record) error {
	return a.Apply(ctx, rec)
}

// Apply appends rec as Append does and applies changes in the same
// database transaction: the changes and their record are committed
// together or not at all. A change's own failure (store.ErrConflict,
// store.ErrNotFound) is returned wrapped, and nothing is appended.
func (a *Auditor) Apply(ctx context.Context, rec Record, changes ...store.Change) error {
	rec, err := a.prepare(ctx, rec)
	if err != nil {
		return err
	}
	seal := func(head store.AuditHead) (store.AuditEntry, error) {
		r := rec
		r.Seq = head.Seq + 1
		// The time is taken with the chain locked, so it never goes
		// backwards along the chain on one clock.
		r.Time = a.now().UTC()
		b, err := body(r)
		if err != nil {
			return store.AuditEntry{}, err
		}
		return store.AuditEntry{
			Seq:           r.Seq,
			Time:          r.Time,
			ActorKind:     string(r.Actor.Kind),
			ActorSubject:  r.Actor.Subject,
			ActorClientID: r.Actor.ClientID,
			Action:        r.Action,
			TargetType:    r.Target.Type,
			TargetID:      r.Target.ID,
			Record:        b,
			PrevHash:      head.Hash,
			Hash:          chainHash(head.Hash, b),
		}, nil
	}
	if _, err := a.st.AppendAudit(ctx, seal, changes...); err != nil {
		return fmt.Errorf("audit: %s: %w", rec.Action, err)
	}
	return nil
}

// prepare fills in the actor and origin, checks rec and redacts its
// states.
func (a *Auditor) prepare(ctx context.Context, rec Record) (Record, error) {
	if err := checkAction(rec.Action); err != nil {
		return Record{}, err
	}
	if rec.Actor.Kind == "" {
		switch act, ok := ActorFrom(ctx); {
		case ok:
			rec.Actor = act
		case a.fallback != nil:
			rec.Actor = *a.fallback
		default:
			return Record{}, fmt.Errorf("%w: %s of %s %q", ErrNoActor, rec.Action, rec.Target.Type, rec.Target.ID)
		}
	}
	if err := checkActor(rec.Actor); err != nil {
		return Record{}, err
	}
	if o, ok := OriginFrom(ctx); ok {
		if rec.SourceIP == "" {
			rec.SourceIP = o.SourceIP
		}
		if rec.RequestID == "" {
			rec.RequestID = o.RequestID
		}
	}
	var err error
	if rec.Before, err = Redact(rec.Before); err != nil {
		return Record{}, fmt.Errorf("audit: %s: before: %w", rec.Action, err)
	}
	if rec.After, err = Redact(rec.After); err != nil {
		return Record{}, fmt.Errorf("audit: %s: after: %w", rec.Action, err)
	}
	rec.PrevHash, rec.Hash = "", ""
	return rec, nil
}

// GenesisHash is the PrevHash of the first record: 32 zero bytes.
var GenesisHash = make([]byte, sha256.Size)

// chainHash is SHA-256(prev || body).
func chainHash(prev, body []byte) []byte {
	h := sha256.New()
	h.Write(prev)
	h.Write(body)
	return h.Sum(nil)
}

// State encodes v (a struct with JSON tags) as a Before or After state.
func State(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("audit: encode state: %w", err)
	}
	return b, nil
}

// Filter selects records for List and Export; zero fields select all.
type Filter struct {
	// Actor matches the actor's subject or client id.
	Actor string
	// Action matches exactly, or with a trailing ".*" every action under
	// it ("client.*").
	Action string
	// TargetType and TargetID match the target; TargetID alone matches
	// that id of any type.
	TargetType string
	TargetID   string
	// Since <= Time < Until, each unbounded when zero.
	Since time.Time
	Until time.Time
}

func (f Filter) store(after int64, limit int) store.AuditFilter {
	sf := store.AuditFilter{
		Actor: f.Actor, TargetType: f.TargetType, TargetID: f.TargetID,
		Since: f.Since, Until: f.Until, AfterSeq: after, Limit: limit,
	}
	if p, ok := strings.CutSuffix(f.Action, "*"); ok {
		sf.ActionPrefix = p
	} else {
		sf.Action = f.Action
	}
	return sf
}

// List returns up to limit records that f selects with Seq above after, in
// Seq order, and the cursor of the next page (0 when this is the last).
// limit 0 means store.DefaultAuditPage; it is capped at
// store.MaxAuditPage. It does not verify the chain (Verify does).
func (a *Auditor) List(ctx context.Context, f Filter, after int64, limit int) ([]Record, int64, error) {
	if limit <= 0 {
		limit = store.DefaultAuditPage
	}
	limit = min(limit, store.MaxAuditPage)
	entries, err := a.st.ListAudit(ctx, f.store(after, limit))
	if err != nil {
		return nil, 0, fmt.Errorf("audit: list: %w", err)
	}
	recs := make([]Record, len(entries))
	for i, e := range entries {
		if recs[i], err = decodeEntry(e); err != nil {
			return nil, 0, err
		}
	}
	var next int64
	if len(entries) == limit {
		next = entries[len(entries)-1].Seq
	}
	return recs, next, nil
}

// Export writes the records f selects to w as JSON lines, in Seq order:
// each line the canonical JSON of the record with its prev_hash and hash,
// so the chain can be checked from the export alone (see docs/audit.md).
func (a *Auditor) Export(ctx context.Context, w io.Writer, f Filter) error {
	var after int64
	for {
		recs, next, err := a.List(ctx, f, after, store.MaxAuditPage)
		if err != nil {
			return err
		}
		for _, r := range recs {
			line, err := encode(r)
			if err != nil {
				return err
			}
			if _, err := w.Write(append(line, '\n')); err != nil {
				return fmt.Errorf("audit: export: %w", err)
			}
		}
		if next == 0 {
			return nil
		}
		after = next
	}
}

// decodeEntry reads the record an entry holds, with its hashes.
func decodeEntry(e store.AuditEntry) (Record, error) {
	r, err := decodeBody(e.Record)
	if err != nil {
		return Record{}, fmt.Errorf("audit: record %d: %w", e.Seq, err)
	}
	r.PrevHash, r.Hash = hex.EncodeToString(e.PrevHash), hex.EncodeToString(e.Hash)
	return r, nil
}

// decodeBody parses a record's hashed body, refusing unknown fields and
// the hash fields, which a body never holds.
func decodeBody(b []byte) (Record, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var r Record
	if err := dec.Decode(&r); err != nil {
		return Record{}, fmt.Errorf("not a record: %w", err)
	}
	if dec.More() {
		return Record{}, errors.New("not a record: data after it")
	}
	if r.PrevHash != "" || r.Hash != "" {
		return Record{}, errors.New("not a record body: it holds a hash")
	}
	r.Time = r.Time.UTC()
	return r, nil
}
