package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/store"
)

var epoch = time.Date(2031, time.March, 4, 5, 6, 7, 123456789, time.UTC)

// clock ticks a second on every reading.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

var cliActor = Actor{Kind: KindCLI, Subject: "alice"}

// appendN appends n records with varied actions and targets.
func appendN(t *testing.T, a *Auditor, n int) {
	t.Helper()
	ctx := WithActor(context.Background(), cliActor)
	for i := range n {
		rec := Record{
			Action: []string{"client.create", "client.rotate-secret", "user.set-password"}[i%3],
			Target: Target{Type: "client", ID: fmt.Sprint("c", i)},
			After:  json.RawMessage(fmt.Sprintf(`{"client_id":"c%d","secret_digest":"AAAA"}`, i)),
		}
		if err := a.Append(ctx, rec); err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
	}
}

func TestAppendListExport(t *testing.T) {
	forEachDialect(t, func(t *testing.T, tdb *testDB) {
		clk := &clock{t: epoch}
		a := New(tdb.db, clk.now)
		ctx := WithOrigin(WithActor(context.Background(), Actor{Kind: KindUser, Subject: "bob", ClientID: "console", Roles: []string{"platform_admin"}}),
			Origin{SourceIP: "192.0.2.7", RequestID: "req-1"})
		before := json.RawMessage(`{"client_id":"svc","client_secret":"s3cret","scopes":["a"],"secret_digest":null}`)
		after := json.RawMessage(`{"scopes":["a","b"], "client_id":"svc","client_secret":"n3w"}`)
		if err := a.Append(ctx, Record{Action: "client.put", Target: Target{Type: "client", ID: "svc"}, Before: before, After: after}); err != nil {
			t.Fatalf("Append: %v", err)
		}
		appendN(t, a, 4)

		recs, next, err := a.List(context.Background(), Filter{}, 0, 2)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if next != 2 || len(recs) != 2 {
			t.Fatalf("List page 1: %d records, next %d; want 2 and 2", len(recs), next)
		}
		first := recs[0]
		first.PrevHash, first.Hash = "", ""
		want := Record{
			Seq: 1, Time: epoch.Add(time.Second),
			Actor:  Actor{Kind: KindUser, Subject: "bob", ClientID: "console", Roles: []string{"platform_admin"}},
			Action: "client.put", Target: Target{Type: "client", ID: "svc"},
			Before:   json.RawMessage(`{"client_id":"svc","client_secret":"[redacted]","scopes":["a"],"secret_digest":null}`),
			After:    json.RawMessage(`{"client_id":"svc","client_secret":"[redacted]","scopes":["a","b"]}`),
			SourceIP: "192.0.2.7", RequestID: "req-1",
		}
		if diff := cmp.Diff(want, first); diff != "" {
			t.Errorf("first record (-want +got):\n%s", diff)
		}
		if recs[0].PrevHash != strings.Repeat("0", 64) || recs[1].PrevHash != recs[0].Hash {
			t.Errorf("links: record 1 prev %s, record 2 prev %s, record 1 hash %s", recs[0].PrevHash, recs[1].PrevHash, recs[0].Hash)
		}
		recs, next, err = a.List(context.Background(), Filter{}, next, 10)
		if err != nil || next != 0 || len(recs) != 3 || recs[0].Seq != 3 {
			t.Fatalf("List page 2: %d records from %d, next %d, err %v; want 3 from 3, next 0", len(recs), recs[0].Seq, next, err)
		}

		for _, tc := range []struct {
			name string
			f    Filter
			want []int64
		}{
			{"actor", Filter{Actor: "alice"}, []int64{2, 3, 4, 5}},
			{"actor by client id", Filter{Actor: "console"}, []int64{1}},
			{"action", Filter{Action: "client.create"}, []int64{2, 5}},
			{"action prefix", Filter{Action: "client.*"}, []int64{1, 2, 3, 5}},
			{"target", Filter{TargetType: "client", TargetID: "c1"}, []int64{3}},
			{"time", Filter{Since: epoch.Add(2 * time.Second), Until: epoch.Add(4 * time.Second)}, []int64{2, 3}},
		} {
			var buf bytes.Buffer
			if err := a.Export(context.Background(), &buf, tc.f); err != nil {
				t.Fatalf("Export %s: %v", tc.name, err)
			}
			var got []int64
			sc := bufio.NewScanner(&buf)
			for sc.Scan() {
				var r Record
				if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
					t.Fatalf("export line %q: %v", sc.Text(), err)
				}
				if c, err := Canonicalize(sc.Bytes()); err != nil || !bytes.Equal(c, sc.Bytes()) {
					t.Errorf("export line is not canonical JSON: %s", sc.Text())
				}
				got = append(got, r.Seq)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Export %s (-want +got):\n%s", tc.name, diff)
			}
		}
	})
}

// TestExportVerifiesWithoutTheStore recomputes the chain from an export
// alone, as docs/audit.md tells an auditor to.
func TestExportVerifiesWithoutTheStore(t *testing.T) {
	tdb := openTestDB(t, ":memory:", "sqlite")
	a := New(tdb.db, (&clock{t: epoch}).now)
	appendN(t, a, 5)
	var buf bytes.Buffer
	if err := a.Export(context.Background(), &buf, Filter{}); err != nil {
		t.Fatalf("Export: %v", err)
	}
	prev := make([]byte, sha256.Size)
	sc := bufio.NewScanner(&buf)
	for n := 1; sc.Scan(); n++ {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		if m["prev_hash"] != hex.EncodeToString(prev) {
			t.Fatalf("line %d: prev_hash %v, want %x", n, m["prev_hash"], prev)
		}
		hash := m["hash"]
		delete(m, "prev_hash")
		delete(m, "hash")
		raw, _ := json.Marshal(m)
		canon, err := Canonicalize(raw)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(append(bytes.Clone(prev), canon...))
		if hash != hex.EncodeToString(sum[:]) {
			t.Fatalf("line %d: hash %v, recomputed %x", n, hash, sum)
		}
		prev = sum[:]
	}
}

func TestActorAndRecordChecks(t *testing.T) {
	tdb := openTestDB(t, ":memory:", "sqlite")
	a := New(tdb.db, nil)
	ctx := context.Background()
	rec := Record{Action: "client.delete", Target: Target{Type: "client", ID: "x"}}
	if err := a.Append(ctx, rec); !errors.Is(err, ErrNoActor) {
		t.Errorf("Append without an actor: %v, want ErrNoActor", err)
	}
	sys := a.WithDefaultActor(Actor{Kind: KindSystem, Subject: "demo"})
	if err := sys.Append(ctx, rec); err != nil {
		t.Errorf("Append with a default actor: %v", err)
	}
	if err := sys.Append(WithActor(ctx, cliActor), rec); err != nil {
		t.Errorf("Append with a context actor: %v", err)
	}
	for name, r := range map[string]Record{
		"bad action":      {Action: "Client.Delete", Actor: cliActor},
		"one-word action": {Action: "delete", Actor: cliActor},
		"unknown kind":    {Action: "client.delete", Actor: Actor{Kind: "root"}},
		"bad before":      {Action: "client.delete", Actor: cliActor, Before: json.RawMessage(`{"a":1.5}`)},
		"duplicate key":   {Action: "client.delete", Actor: cliActor, After: json.RawMessage(`{"a":1,"a":2}`)},
	} {
		if err := a.Append(ctx, r); err == nil {
			t.Errorf("Append with %s succeeded", name)
		}
	}
	recs, _, err := a.List(ctx, Filter{}, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []Actor
	for _, r := range recs {
		got = append(got, r.Actor)
	}
	if diff := cmp.Diff([]Actor{{Kind: KindSystem, Subject: "demo"}, cliActor}, got); diff != "" {
		t.Errorf("actors recorded (-want +got):\n%s", diff)
	}
}

// TestApplyIsAtomic: a change and its record commit together, or neither.
func TestApplyIsAtomic(t *testing.T) {
	forEachDialect(t, func(t *testing.T, tdb *testDB) {
		a := New(tdb.db, nil)
		ctx := WithActor(context.Background(), cliActor)
		rec := Record{Action: "client.create", Target: Target{Type: "client", ID: "svc"}}
		if err := a.Apply(ctx, rec, store.CreateClientChange(store.Client{ID: "svc"})); err != nil {
			t.Fatalf("Apply: %v", err)
		}
		// The change fails: no record.
		if err := a.Apply(ctx, rec, store.CreateClientChange(store.Client{ID: "svc"})); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("Apply of a duplicate: %v, want store.ErrConflict", err)
		}
		// The record fails before the transaction: no change.
		bad := rec
		bad.Action = "bad"
		if err := a.Apply(ctx, bad, store.CreateClientChange(store.Client{ID: "other"})); err == nil {
			t.Fatal("Apply with an invalid record succeeded")
		}
		// The append fails inside the transaction (the head is gone):
		// the change is rolled back.
		tdb.dropGuards(t)
		tdb.exec(t, `DELETE FROM audit_head`)
		if err := a.Apply(ctx, rec, store.DeleteClientChange("svc")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Apply without a chain head: %v, want store.ErrNotFound", err)
		}
		if _, err := tdb.db.GetClient(ctx, "svc"); err != nil {
			t.Errorf("the client is gone although its record was not written: %v", err)
		}
		if _, err := tdb.db.GetClient(ctx, "other"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetClient other = %v, want not found", err)
		}
		if got, err := tdb.db.ListAudit(ctx, store.AuditFilter{}); err != nil || len(got) != 1 {
			t.Errorf("audit entries: %d (%v), want 1", len(got), err)
		}
	})
}

// TestParallelNodes appends from two store handles (two nodes) at once.
func TestParallelNodes(t *testing.T) {
	forEachDialect(t, func(t *testing.T, tdb *testDB) {
		nodes := []*Auditor{New(tdb.db, nil), New(openStore(t, tdb.dsn), nil)}
		const writers, each = 8, 25
		var wg sync.WaitGroup
		errs := make(chan error, writers*each)
		for w := range writers {
			a := nodes[w%len(nodes)]
			wg.Go(func() {
				ctx := WithActor(context.Background(), Actor{Kind: KindCLI, Subject: fmt.Sprint("w", w)})
				for i := range each {
					if err := a.Append(ctx, Record{Action: "client.put", Target: Target{Type: "client", ID: fmt.Sprint(i)}}); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("Append: %v", err)
		}
		rep, err := nodes[1].Verify(context.Background())
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if !rep.OK() || rep.Records != writers*each || rep.HeadSeq != writers*each {
			t.Fatalf("Verify after parallel appends: %v", rep)
		}
		var seqs []int64
		for after := int64(0); ; {
			recs, next, err := nodes[0].List(context.Background(), Filter{}, after, 64)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				seqs = append(seqs, r.Seq)
			}
			if next == 0 {
				break
			}
			after = next
		}
		for i, s := range seqs {
			if s != int64(i+1) {
				t.Fatalf("seq %d at place %d: want 1..%d without gaps", s, i+1, writers*each)
			}
		}
		if len(seqs) != writers*each {
			t.Fatalf("%d records, want %d", len(seqs), writers*each)
		}
	})
}

// TestVerifyFindsTampering changes the trail behind the store's back, with
// its guards removed, and expects Verify to name the first broken record.
func TestVerifyFindsTampering(t *testing.T) {
	type tamper func(t *testing.T, tdb *testDB)
	rehash := func(t *testing.T, tdb *testDB, seq int64, edit func(string) string) {
		t.Helper()
		var prev []byte
		var rec string
		if err := tdb.raw.QueryRow(`SELECT prev_hash, record FROM audit_log WHERE seq = `+fmt.Sprint(seq)).Scan(&prev, &rec); err != nil {
			t.Fatal(err)
		}
		rec = edit(rec)
		sum := sha256.Sum256(append(prev, rec...))
		tdb.exec(t, `UPDATE audit_log SET record = `+tdb.ph(1)+`, hash = `+tdb.ph(2)+` WHERE seq = `+fmt.Sprint(seq), rec, sum[:])
	}
	for _, tc := range []struct {
		name    string
		tamper  tamper
		seq     int64
		problem Problem
	}{
		{"edited content", func(t *testing.T, tdb *testDB) {
			tdb.exec(t, `UPDATE audit_log SET record = replace(record, '"alice"', '"mallory"') WHERE seq = 3`)
		}, 3, Edited},
		{"edited search column", func(t *testing.T, tdb *testDB) {
			tdb.exec(t, `UPDATE audit_log SET actor_subject = 'mallory' WHERE seq = 2`)
		}, 2, Edited},
		{"edited time", func(t *testing.T, tdb *testDB) {
			tdb.exec(t, `UPDATE audit_log SET at = at + 1 WHERE seq = 5`)
		}, 5, Edited},
		{"content made non-canonical", func(t *testing.T, tdb *testDB) {
			tdb.exec(t, `UPDATE audit_log SET record = record || ' ' WHERE seq = 1`)
		}, 1, Edited},
		{"edited hash", func(t *testing.T, tdb *testDB) {
			tdb.exec(t, `UPDATE audit_log SET hash = prev_hash WHERE seq = 4`)
		}, 4, Edited},
		{"deleted in the middle", func(t *testing.T, tdb *testDB) {
			tdb.exec(t, `DELETE FROM audit_log WHERE seq = 4`)
		}, 4, Deleted},
		{"deleted at the end", func(t *testing.T, tdb *testDB) {
			tdb.exec(t, `DELETE FROM audit_log WHERE seq >= 5`)
		}, 5, Deleted},
		{"deleted and renumbered", func(t *testing.T, tdb *testDB) {
			tdb.exec(t, `DELETE FROM audit_log WHERE seq = 2`)
			tdb.exec(t, `UPDATE audit_log SET seq = seq - 1 WHERE seq > 2`)
		}, 2, Reordered},
		{"reordered", func(t *testing.T, tdb *testDB) {
			tdb.exec(t, `UPDATE audit_log SET seq = -2 WHERE seq = 2`)
			tdb.exec(t, `UPDATE audit_log SET seq = 2 WHERE seq = 3`)
			tdb.exec(t, `UPDATE audit_log SET seq = 3 WHERE seq = -2`)
		}, 2, Reordered},
		{"inserted in the middle", func(t *testing.T, tdb *testDB) {
			tdb.exec(t, `UPDATE audit_log SET seq = seq + 100 WHERE seq >= 3`)
			tdb.exec(t, `UPDATE audit_log SET seq = seq - 99 WHERE seq >= 100`)
			tdb.exec(t, `INSERT INTO audit_log SELECT 3, at, actor_kind, actor_subject, actor_client_id, action,
				target_type, target_id, record, prev_hash, hash FROM audit_log WHERE seq = 2`)
		}, 3, Inserted},
		{"inserted after the head", func(t *testing.T, tdb *testDB) {
			tdb.exec(t, `INSERT INTO audit_log SELECT 7, at, actor_kind, actor_subject, actor_client_id, action,
				target_type, target_id, record, hash, hash FROM audit_log WHERE seq = 6`)
		}, 7, Inserted},
		{"inserted before the start", func(t *testing.T, tdb *testDB) {
			tdb.exec(t, `INSERT INTO audit_log SELECT 0, at, actor_kind, actor_subject, actor_client_id, action,
				target_type, target_id, record, prev_hash, hash FROM audit_log WHERE seq = 1`)
		}, 0, Inserted},
		{"edited and re-hashed", func(t *testing.T, tdb *testDB) {
			rehash(t, tdb, 3, func(s string) string { return strings.Replace(s, `"c2"`, `"c9"`, -1) })
			tdb.exec(t, `UPDATE audit_log SET target_id = 'c9' WHERE seq = 3`)
		}, 4, Unlinked},
		{"last record edited and re-hashed", func(t *testing.T, tdb *testDB) {
			rehash(t, tdb, 6, func(s string) string { return strings.Replace(s, `"alice"`, `"mallory"`, -1) })
			tdb.exec(t, `UPDATE audit_log SET actor_subject = 'mallory' WHERE seq = 6`)
		}, 6, Edited},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachDialect(t, func(t *testing.T, tdb *testDB) {
				a := New(tdb.db, (&clock{t: epoch}).now)
				appendN(t, a, 6)
				rep, err := a.Verify(context.Background())
				if err != nil || !rep.OK() || rep.Records != 6 {
					t.Fatalf("Verify before tampering: %v, %v", rep, err)
				}
				tdb.dropGuards(t)
				tc.tamper(t, tdb)
				rep, err = a.Verify(context.Background())
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if rep.OK() {
					t.Fatalf("Verify after tampering (%s) reports %v", tc.name, rep)
				}
				if got := *rep.Broken; got.Seq != tc.seq || got.Problem != tc.problem {
					t.Errorf("Verify: first broken record %d (%s: %s), want %d (%s)", got.Seq, got.Problem, got.Detail, tc.seq, tc.problem)
				}
				if !strings.Contains(rep.String(), fmt.Sprintf("record %d", tc.seq)) {
					t.Errorf("report %q does not name record %d", rep, tc.seq)
				}
			})
		})
	}
}
