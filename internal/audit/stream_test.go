package audit

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeSink keeps what it is written in memory, as the Sink contract says
// a sink must: lines it already holds are skipped.
type fakeSink struct {
	name string
	pos  Position
	// failWrites fails that many Writes, each after accepting acceptFirst
	// of its lines (a sink that fails half way through a batch).
	failWrites  int
	acceptFirst int
	got         []Line
	opens       int
	closed      bool
}

var errSinkDown = errors.New("sink down")

func (s *fakeSink) Name() string { return s.name }

func (s *fakeSink) Open(context.Context) (Position, error) {
	s.opens++
	return s.pos, nil
}

func (s *fakeSink) Write(_ context.Context, lines []Line) error {
	accepted := 0
	for _, l := range lines {
		if len(s.got) > 0 && l.Seq <= s.got[len(s.got)-1].Seq {
			continue
		}
		if s.failWrites > 0 && accepted == s.acceptFirst {
			s.failWrites--
			return errSinkDown
		}
		s.got = append(s.got, l)
		accepted++
	}
	return nil
}

func (s *fakeSink) Close() error {
	s.closed = true
	return nil
}

// seqs lists the seqs of the lines s holds.
func (s *fakeSink) seqs() []int64 {
	var out []int64
	for _, l := range s.got {
		out = append(out, l.Seq)
	}
	return out
}

// text is what s holds as a file would: each line and a newline.
func (s *fakeSink) text() string {
	var b strings.Builder
	for _, l := range s.got {
		b.Write(l.JSON)
		b.WriteByte('\n')
	}
	return b.String()
}

// streamLog records what a Follower reports through its options.
type streamLog struct {
	last   map[string]int64
	errors map[string][]error
}

func newStreamLog() *streamLog {
	return &streamLog{last: map[string]int64{}, errors: map[string][]error{}}
}

func (l *streamLog) options() FollowerOptions {
	return FollowerOptions{
		Streamed: func(sink string, seq int64) { l.last[sink] = seq },
		Failed:   func(sink string, err error) { l.errors[sink] = append(l.errors[sink], err) },
	}
}

func span(from, to int64) []int64 {
	var out []int64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// exportText is the whole trail as Export writes it.
func exportText(t *testing.T, a *Auditor) string {
	t.Helper()
	var b bytes.Buffer
	if err := a.Export(context.Background(), &b, Filter{}); err != nil {
		t.Fatalf("Export: %v", err)
	}
	return b.String()
}

// hashOf is the hash of record seq.
func hashOf(t *testing.T, a *Auditor, seq int64) string {
	t.Helper()
	recs, _, err := a.List(context.Background(), Filter{}, seq-1, 1)
	if err != nil || len(recs) != 1 {
		t.Fatalf("List record %d: %v (%d records)", seq, err, len(recs))
	}
	return recs[0].Hash
}

func TestFollowerStreamsInOrder(t *testing.T) {
	forEachDialect(t, func(t *testing.T, tdb *testDB) {
		ctx := context.Background()
		a := New(tdb.db, (&clock{t: epoch}).now)
		sink := &fakeSink{name: "fake"}
		log := newStreamLog()
		f := NewFollower(tdb.db, []Sink{sink}, log.options())

		f.Poll(ctx) // an empty trail
		if len(sink.got) != 0 || sink.opens != 1 {
			t.Fatalf("empty trail: %d lines, %d opens; want none and 1", len(sink.got), sink.opens)
		}
		appendN(t, a, 5)
		f.Poll(ctx)
		appendN(t, a, 3)
		f.Poll(ctx)
		f.Poll(ctx) // nothing new

		if diff := cmp.Diff(span(1, 8), sink.seqs()); diff != "" {
			t.Errorf("streamed seqs (-want +got):\n%s", diff)
		}
		// The lines are the export's, byte for byte.
		if diff := cmp.Diff(exportText(t, a), sink.text()); diff != "" {
			t.Errorf("streamed lines differ from the export (-export +streamed):\n%s", diff)
		}
		if sink.got[0].Action != "client.create" {
			t.Errorf("line 1 action %q, want client.create", sink.got[0].Action)
		}
		if sink.opens != 1 {
			t.Errorf("opened %d times, want once", sink.opens)
		}
		if log.last["fake"] != 8 || len(log.errors) != 0 {
			t.Errorf("reported last seq %d and errors %v; want 8 and none", log.last["fake"], log.errors)
		}
		if err := f.Close(); err != nil || !sink.closed {
			t.Errorf("Close: %v, sink closed %v", err, sink.closed)
		}
	})
}

func TestFollowerResumes(t *testing.T) {
	forEachDialect(t, func(t *testing.T, tdb *testDB) {
		ctx := context.Background()
		a := New(tdb.db, (&clock{t: epoch}).now)
		appendN(t, a, 5)

		t.Run("after the sink's last record", func(t *testing.T) {
			sink := &fakeSink{name: "fake", pos: Position{Seq: 3, Hash: hashOf(t, a, 3)}}
			NewFollower(tdb.db, []Sink{sink}, FollowerOptions{}).Poll(ctx)
			if diff := cmp.Diff(span(4, 5), sink.seqs()); diff != "" {
				t.Errorf("streamed seqs (-want +got):\n%s", diff)
			}
		})
		t.Run("at the head", func(t *testing.T) {
			sink := &fakeSink{name: "fake", pos: Position{AtHead: true}}
			f := NewFollower(tdb.db, []Sink{sink}, FollowerOptions{})
			f.Poll(ctx)
			if len(sink.got) != 0 {
				t.Fatalf("a sink starting at the head got %v", sink.seqs())
			}
			appendN(t, a, 2)
			f.Poll(ctx)
			if diff := cmp.Diff(span(6, 7), sink.seqs()); diff != "" {
				t.Errorf("streamed seqs (-want +got):\n%s", diff)
			}
		})
		for name, pos := range map[string]Position{
			"another trail's record": {Seq: 3, Hash: hashOf(t, a, 4)},
			"a record past the head": {Seq: 99, Hash: hashOf(t, a, 4)},
			"no hash":                {Seq: 3},
		} {
			t.Run(name, func(t *testing.T) {
				sink := &fakeSink{name: "fake", pos: pos}
				log := newStreamLog()
				f := NewFollower(tdb.db, []Sink{sink}, log.options())
				f.Poll(ctx)
				f.Poll(ctx)
				if len(sink.got) != 0 {
					t.Errorf("streamed %v onto a sink that does not continue the trail", sink.seqs())
				}
				if errs := log.errors["fake"]; len(errs) != 2 || !errors.Is(errs[0], ErrStreamMismatch) {
					t.Errorf("errors %v, want ErrStreamMismatch on each poll", errs)
				}
				// Checked again on every poll, so the sink is closed in
				// between.
				if sink.opens != 2 || !sink.closed {
					t.Errorf("opened %d times, closed %v; want 2 and true", sink.opens, sink.closed)
				}
			})
		}
	})
}

// A sink that fails half way through a batch gets the rest, and nothing
// twice, on the next poll; a healthy sink beside it is not held up.
func TestFollowerRetriesAfterSinkError(t *testing.T) {
	forEachDialect(t, func(t *testing.T, tdb *testDB) {
		ctx := context.Background()
		a := New(tdb.db, (&clock{t: epoch}).now)
		appendN(t, a, 5)
		flaky := &fakeSink{name: "flaky", failWrites: 2, acceptFirst: 2}
		healthy := &fakeSink{name: "healthy"}
		log := newStreamLog()
		f := NewFollower(tdb.db, []Sink{flaky, healthy}, log.options())

		f.Poll(ctx)
		if diff := cmp.Diff(span(1, 2), flaky.seqs()); diff != "" {
			t.Errorf("after the first failure (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(span(1, 5), healthy.seqs()); diff != "" {
			t.Errorf("the healthy sink (-want +got):\n%s", diff)
		}
		appendN(t, a, 2)
		f.Poll(ctx) // fails again after records 3 and 4
		f.Poll(ctx)
		if diff := cmp.Diff(span(1, 7), flaky.seqs()); diff != "" {
			t.Errorf("after recovering (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(exportText(t, a), flaky.text()); diff != "" {
			t.Errorf("the flaky sink's lines differ from the export (-export +streamed):\n%s", diff)
		}
		errs := log.errors["flaky"]
		if len(errs) != 2 || !errors.Is(errs[0], errSinkDown) || len(log.errors["healthy"]) != 0 {
			t.Errorf("errors %v, want two errSinkDown of the flaky sink only", log.errors)
		}
		// The error names records by seq and action, never their content.
		if msg := errs[1].Error(); !strings.Contains(msg, "records 1 (client.create) to 7") || strings.Contains(msg, "secret_digest") {
			t.Errorf("error %q, want it to name records 1 to 7 (the batch retried) and an action only", msg)
		}
		if log.last["flaky"] != 7 || log.last["healthy"] != 7 {
			t.Errorf("last seqs %v, want 7 for both", log.last)
		}
	})
}

// The stream stops at a record that does not continue the chain, after
// streaming the ones before it.
func TestFollowerStopsAtABrokenChain(t *testing.T) {
	forEachDialect(t, func(t *testing.T, tdb *testDB) {
		ctx := context.Background()
		a := New(tdb.db, (&clock{t: epoch}).now)
		appendN(t, a, 5)
		tdb.dropGuards(t)
		tdb.exec(t, `UPDATE audit_log SET record = replace(record, '"alice"', '"mallory"') WHERE seq = 3`)
		sink := &fakeSink{name: "fake"}
		log := newStreamLog()
		f := NewFollower(tdb.db, []Sink{sink}, log.options())
		f.Poll(ctx)
		f.Poll(ctx)
		if diff := cmp.Diff(span(1, 2), sink.seqs()); diff != "" {
			t.Errorf("streamed seqs (-want +got):\n%s", diff)
		}
		errs := log.errors["fake"]
		if len(errs) != 2 || !errors.Is(errs[0], ErrStreamMismatch) || !strings.Contains(errs[0].Error(), "record 3") {
			t.Errorf("errors %v, want ErrStreamMismatch at record 3 on each poll", errs)
		}
		if slices.ContainsFunc(sink.got, func(l Line) bool { return bytes.Contains(l.JSON, []byte("mallory")) }) {
			t.Error("the edited record was streamed")
		}
	})
}
