package audit

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// streamToFile runs one follower over a fresh FileSink on path, as one
// start of a node does, and returns what it reported.
func streamToFile(t *testing.T, tdb *testDB, path string) *streamLog {
	t.Helper()
	log := newStreamLog()
	f := NewFollower(tdb.db, []Sink{NewFileSink(path, nil)}, log.options())
	f.Poll(context.Background())
	if err := f.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return log
}

// fileSeqs reads the seq of each line of path.
func fileSeqs(t *testing.T, path string) []int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []int64
	for line := range strings.Lines(string(b)) {
		var r struct {
			Seq int64 `json:"seq"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		seqs = append(seqs, r.Seq)
	}
	return seqs
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Write 3, restart, write 2 more: the file holds 1 to 5 once each, and is
// the export byte for byte.
func TestFileSinkResumesAcrossRestart(t *testing.T) {
	forEachDialect(t, func(t *testing.T, tdb *testDB) {
		a := New(tdb.db, (&clock{t: epoch}).now)
		path := filepath.Join(t.TempDir(), "audit.jsonl")
		appendN(t, a, 3)
		if log := streamToFile(t, tdb, path); log.last["file"] != 3 || len(log.errors) != 0 {
			t.Fatalf("first run: last %d, errors %v", log.last["file"], log.errors)
		}
		appendN(t, a, 2)
		if log := streamToFile(t, tdb, path); log.last["file"] != 5 || len(log.errors) != 0 {
			t.Fatalf("second run: last %d, errors %v", log.last["file"], log.errors)
		}
		streamToFile(t, tdb, path) // a restart with nothing new
		if diff := cmp.Diff(span(1, 5), fileSeqs(t, path)); diff != "" {
			t.Errorf("file seqs (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(exportText(t, a), readFile(t, path)); diff != "" {
			t.Errorf("file differs from the export (-export +file):\n%s", diff)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("file mode %o, want 600", perm)
		}
	})
}

// A crash between a line and its newline leaves a torn line; the next
// start cuts it off and writes the record again whole.
func TestFileSinkCutsATornLine(t *testing.T) {
	forEachDialect(t, func(t *testing.T, tdb *testDB) {
		a := New(tdb.db, (&clock{t: epoch}).now)
		appendN(t, a, 4)
		export := exportText(t, a)
		lines := strings.SplitAfter(export, "\n")
		for name, torn := range map[string]string{
			"half a line":         lines[0] + lines[1] + lines[2][:len(lines[2])/2],
			"a line but its \\n":  lines[0] + strings.TrimSuffix(lines[1], "\n"),
			"only a partial line": lines[0][:10],
		} {
			t.Run(name, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "audit.jsonl")
				if err := os.WriteFile(path, []byte(torn), 0o600); err != nil {
					t.Fatal(err)
				}
				if log := streamToFile(t, tdb, path); len(log.errors) != 0 {
					t.Fatalf("errors %v", log.errors)
				}
				if diff := cmp.Diff(export, readFile(t, path)); diff != "" {
					t.Errorf("file differs from the export (-export +file):\n%s", diff)
				}
			})
		}
	})
}

// A file whose last line is no record of this trail is left alone.
func TestFileSinkRefusesAForeignFile(t *testing.T) {
	forEachDialect(t, func(t *testing.T, tdb *testDB) {
		a := New(tdb.db, (&clock{t: epoch}).now)
		appendN(t, a, 2)
		other := filepath.Join(t.TempDir(), "other.jsonl")
		// Another installation's trail of the same length.
		otherDB := openTestDB(t, filepath.Join(t.TempDir(), "other.db"), "sqlite")
		appendN(t, New(otherDB.db, (&clock{t: epoch.Add(1)}).now), 3)
		streamToFile(t, otherDB, other)

		for name, tc := range map[string]struct {
			content string
			want    error
		}{
			"not records":         {"hello\nworld\n", nil},
			"another trail":       {readFile(t, other), ErrStreamMismatch},
			"a record without id": {`{"seq":1}` + "\n", nil},
		} {
			t.Run(name, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "audit.jsonl")
				if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
					t.Fatal(err)
				}
				log := streamToFile(t, tdb, path)
				errs := log.errors["file"]
				if len(errs) != 1 || (tc.want != nil && !errors.Is(errs[0], tc.want)) {
					t.Errorf("errors %v, want one (%v)", errs, tc.want)
				}
				if got := readFile(t, path); got != tc.content {
					t.Errorf("the file was changed:\n%s", got)
				}
			})
		}
	})
}

func TestFileSinkRefusesADirectory(t *testing.T) {
	s := NewFileSink(t.TempDir(), nil)
	if _, err := s.Open(context.Background()); err == nil {
		_ = s.Close()
		t.Fatal("Open of a directory succeeded")
	}
}
