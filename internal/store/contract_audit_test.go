package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// testSeal chains an entry the way internal/audit does, with a body the
// test chooses (the store does not read it).
func testSeal(at time.Time, action, target string) AuditSeal {
	return func(head AuditHead) (AuditEntry, error) {
		seq := head.Seq + 1
		rec := fmt.Appendf(nil, `{"action":%q,"seq":%d}`, action, seq)
		h := sha256.New()
		h.Write(head.Hash)
		h.Write(rec)
		return AuditEntry{
			Seq: seq, Time: at, ActorKind: "cli", ActorSubject: "alice", ActorClientID: "",
			Action: action, TargetType: "client", TargetID: target,
			Record: rec, PrevHash: head.Hash, Hash: h.Sum(nil),
		}, nil
	}
}

// checkChain walks the chain and fails unless it holds seqs 1..n, each
// linked to the one before, with the head on the last.
func checkChain(t *testing.T, db *DB, n int64) []AuditEntry {
	t.Helper()
	var got []AuditEntry
	prev := make([]byte, AuditHashSize)
	head, err := db.WalkAudit(context.Background(), func(e AuditEntry) error {
		want := int64(len(got) + 1)
		if e.Seq != want {
			return fmt.Errorf("entry %d has seq %d", want, e.Seq)
		}
		if !bytes.Equal(e.PrevHash, prev) {
			return fmt.Errorf("entry %d does not link to entry %d", e.Seq, e.Seq-1)
		}
		h := sha256.Sum256(append(bytes.Clone(prev), e.Record...))
		if !bytes.Equal(e.Hash, h[:]) {
			return fmt.Errorf("entry %d: hash mismatch", e.Seq)
		}
		prev = e.Hash
		got = append(got, e)
		return nil
	})
	mustNil(t, "WalkAudit", err)
	if int64(len(got)) != n || head.Seq != n || !bytes.Equal(head.Hash, prev) {
		t.Fatalf("chain: %d entries, head %d; want %d entries with the head on the last", len(got), head.Seq, n)
	}
	return got
}

func auditTests() []contractTest {
	ctx := context.Background()
	return []contractTest{
		{"AuditAppendAndList", func(t *testing.T, db *DB) {
			head, err := db.GetAuditHead(ctx)
			mustNil(t, "GetAuditHead", err)
			if diff := cmp.Diff(AuditHead{Seq: 0, Hash: make([]byte, AuditHashSize)}, head); diff != "" {
				t.Fatalf("head of an empty trail (-want +got):\n%s", diff)
			}
			var stored []AuditEntry
			for i, a := range []string{"client.create", "client.delete", "user.create", "client.rotate-secret"} {
				e, err := db.AppendAudit(ctx, testSeal(base.Add(time.Duration(i)*time.Hour), a, fmt.Sprint("t", i%2)))
				mustNil(t, "AppendAudit "+a, err)
				stored = append(stored, e)
			}
			got := checkChain(t, db, 4)
			if diff := cmp.Diff(stored, got); diff != "" {
				t.Errorf("walked entries differ from the appended ones (-appended +walked):\n%s", diff)
			}
			if !got[0].Time.Equal(base) || got[0].Time.Location() != time.UTC {
				t.Errorf("time = %v, want %v in UTC", got[0].Time, base)
			}

			seqs := func(f AuditFilter) []int64 {
				t.Helper()
				list, err := db.ListAudit(ctx, f)
				mustNil(t, "ListAudit", err)
				var s []int64
				for _, e := range list {
					s = append(s, e.Seq)
				}
				return s
			}
			for _, tc := range []struct {
				name string
				f    AuditFilter
				want []int64
			}{
				{"all", AuditFilter{}, []int64{1, 2, 3, 4}},
				{"action", AuditFilter{Action: "client.delete"}, []int64{2}},
				{"action prefix", AuditFilter{ActionPrefix: "client."}, []int64{1, 2, 4}},
				{"prefix is not a pattern", AuditFilter{ActionPrefix: "client%"}, nil},
				{"actor subject", AuditFilter{Actor: "alice"}, []int64{1, 2, 3, 4}},
				{"other actor", AuditFilter{Actor: "bob"}, nil},
				{"target", AuditFilter{TargetType: "client", TargetID: "t1"}, []int64{2, 4}},
				{"since", AuditFilter{Since: base.Add(2 * time.Hour)}, []int64{3, 4}},
				{"until is exclusive", AuditFilter{Until: base.Add(2 * time.Hour)}, []int64{1, 2}},
				{"page", AuditFilter{AfterSeq: 1, Limit: 2}, []int64{2, 3}},
				{"invalid text matches nothing", AuditFilter{Actor: "a\x00"}, nil},
			} {
				if diff := cmp.Diff(tc.want, seqs(tc.f)); diff != "" {
					t.Errorf("ListAudit %s (-want +got):\n%s", tc.name, diff)
				}
			}
		}},
		{"AuditAppendAppliesChanges", func(t *testing.T, db *DB) {
			c := fullClient("svc")
			_, err := db.AppendAudit(ctx, testSeal(base, "client.create", "svc"), CreateClientChange(c))
			mustNil(t, "AppendAudit with CreateClientChange", err)
			got, err := db.GetClient(ctx, "svc")
			mustNil(t, "GetClient", err)
			if diff := cmp.Diff(c, got); diff != "" {
				t.Errorf("client (-want +got):\n%s", diff)
			}

			// A failing change appends nothing, and returns its method's
			// error.
			_, err = db.AppendAudit(ctx, testSeal(base, "client.create", "svc"), CreateClientChange(c))
			wantErr(t, "AppendAudit with a duplicate client", err, ErrConflict)
			_, err = db.AppendAudit(ctx, testSeal(base, "user.delete", "nobody"), DeleteUserChange("nobody"))
			wantErr(t, "AppendAudit deleting a missing user", err, ErrNotFound)
			_, err = db.AppendAudit(ctx, testSeal(base, "client.update", "x"), UpdateClientChange(Client{}))
			wantErr(t, "AppendAudit with an invalid client", err, ErrInvalid)

			// A seal that fails rolls the change back.
			sealErr := errors.New("seal failed")
			_, err = db.AppendAudit(ctx, func(AuditHead) (AuditEntry, error) { return AuditEntry{}, sealErr },
				DeleteClientChange("svc"))
			wantErr(t, "AppendAudit with a failing seal", err, sealErr)
			_, err = db.GetClient(ctx, "svc")
			mustNil(t, "GetClient after a failed audited delete", err)

			u := fullUser("u1", "alice")
			_, err = db.AppendAudit(ctx, testSeal(base, "user.create", "alice"), CreateUserChange(u))
			mustNil(t, "AppendAudit with CreateUserChange", err)
			u.Roles = []string{"auditor"}
			_, err = db.AppendAudit(ctx, testSeal(base, "user.put", "alice"), UpdateUserChange(u))
			mustNil(t, "AppendAudit with UpdateUserChange", err)
			if got, err := db.GetUser(ctx, "u1"); err != nil || !cmp.Equal(got.Roles, u.Roles) {
				t.Errorf("user roles after audited update = %v (%v), want %v", got.Roles, err, u.Roles)
			}
			mustNil(t, "CreateSession", db.CreateSession(ctx, Session{Digest: digest("s"), Subject: "u1", ExpiresAt: base.Add(time.Hour)}))
			_, err = db.AppendAudit(ctx, testSeal(base, "user.delete", "alice"), DeleteUserChange("u1"))
			mustNil(t, "AppendAudit with DeleteUserChange", err)
			_, err = db.GetSession(ctx, digest("s"))
			wantErr(t, "GetSession of the deleted user (cascade)", err, ErrNotFound)
			_, err = db.AppendAudit(ctx, testSeal(base, "client.delete", "svc"), DeleteClientChange("svc"))
			mustNil(t, "AppendAudit with DeleteClientChange", err)
			_, err = db.GetClient(ctx, "svc")
			wantErr(t, "GetClient after audited delete", err, ErrNotFound)

			checkChain(t, db, 5)
		}},
		{"AuditSealMustFollowHead", func(t *testing.T, db *DB) {
			_, err := db.AppendAudit(ctx, testSeal(base, "client.create", "a"))
			mustNil(t, "AppendAudit", err)
			for name, edit := range map[string]func(*AuditEntry){
				"seq skips":        func(e *AuditEntry) { e.Seq++ },
				"seq repeats":      func(e *AuditEntry) { e.Seq-- },
				"wrong prev hash":  func(e *AuditEntry) { e.PrevHash = make([]byte, AuditHashSize) },
				"short hash":       func(e *AuditEntry) { e.Hash = e.Hash[:8] },
				"no time":          func(e *AuditEntry) { e.Time = time.Time{} },
				"no action":        func(e *AuditEntry) { e.Action = "" },
				"no record":        func(e *AuditEntry) { e.Record = nil },
				"NUL in a subject": func(e *AuditEntry) { e.ActorSubject = "a\x00" },
			} {
				seal := func(h AuditHead) (AuditEntry, error) {
					e, err := testSeal(base, "client.delete", "a")(h)
					edit(&e)
					return e, err
				}
				_, err := db.AppendAudit(ctx, seal, CreateClientChange(fullClient("c-"+name)))
				wantErr(t, "AppendAudit with "+name, err, ErrInvalid)
				_, err = db.GetClient(ctx, "c-"+name)
				wantErr(t, "client of a refused append ("+name+")", err, ErrNotFound)
			}
			checkChain(t, db, 1)
		}},
		{"AuditTablesRefuseChanges", func(t *testing.T, db *DB) {
			for i := range 3 {
				_, err := db.AppendAudit(ctx, testSeal(base, "client.create", fmt.Sprint(i)))
				mustNil(t, "AppendAudit", err)
			}
			zero := make([]byte, AuditHashSize)
			stmts := []struct {
				name string
				sql  query
				args []any
			}{
				{"update a record", newQuery(`UPDATE audit_log SET action = 'client.delete' WHERE seq = 2`), nil},
				{"delete a record", newQuery(`DELETE FROM audit_log WHERE seq = 3`), nil},
				{"delete every record", newQuery(`DELETE FROM audit_log`), nil},
				{"insert a record behind the head", newQuery(`INSERT INTO audit_log (` + auditCols + `)
					SELECT seq + 10, at, actor_kind, actor_subject, actor_client_id, action, target_type,
					target_id, record, prev_hash, hash FROM audit_log WHERE seq = 1`), nil},
				{"insert a fork", newQuery(`INSERT INTO audit_log (` + auditCols + `)
					VALUES (4, 1, 'cli', '', '', 'client.create', 'client', 'x', '{}', ?, ?)`), []any{zero, zero}},
				{"move the head back", newQuery(`UPDATE audit_head SET seq = 2`), nil},
				{"move the head onto nothing", newQuery(`UPDATE audit_head SET seq = seq + 1, hash = ?`), []any{zero}},
				{"delete the head", newQuery(`DELETE FROM audit_head`), nil},
			}
			if db.Dialect() == dialectPostgres {
				stmts = append(stmts, struct {
					name string
					sql  query
					args []any
				}{"truncate", newQuery(`TRUNCATE audit_log`), nil})
			}
			for _, s := range stmts {
				if _, err := db.write.ExecContext(ctx, db.text(s.sql), s.args...); err == nil {
					t.Errorf("%s: the database allowed it", s.name)
				}
			}
			checkChain(t, db, 3)
		}},
		{"AuditParallelAppends", func(t *testing.T, db *DB) {
			const writers, each = 8, 25
			var wg sync.WaitGroup
			errs := make(chan error, writers*each)
			for w := range writers {
				wg.Go(func() {
					for i := range each {
						_, err := db.AppendAudit(ctx, testSeal(base, "client.put", fmt.Sprintf("w%d-%d", w, i)))
						if err != nil {
							errs <- err
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Errorf("AppendAudit: %v", err)
			}
			checkChain(t, db, writers*each)
		}},
	}
}
