package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
)

// writerDialects opens a fresh database of each dialect for the writer
// tests; PostgreSQL only when PORTCULLIS_TEST_POSTGRES is set.
var writerDialects = []struct {
	name string
	open func(t *testing.T) *DB
}{
	{"sqlite", func(t *testing.T) *DB { return openMigrated(t, filepath.Join(t.TempDir(), "group.db")) }},
	{"postgres", func(t *testing.T) *DB { return openMigrated(t, freshSchema(t, postgresDSN(t))) }},
}

// TestGroupCommit drives many concurrent writers, some of them repeating a
// digest, through the group-commit writer of each dialect: every caller
// must get its own answer, and exactly the rows reported inserted must
// exist. On PostgreSQL a conflict inside a pipelined batch aborts it, so
// this also covers sending the batch again without the failed statement.
func TestGroupCommit(t *testing.T) {
	for _, d := range writerDialects {
		t.Run(d.name, func(t *testing.T) { testGroupCommit(t, d.open(t)) })
	}
}

func testGroupCommit(t *testing.T, db *DB) {
	ctx := context.Background()
	const (
		writers = 48
		each    = 25
	)
	var (
		mu        sync.Mutex
		inserted  = map[string]bool{}
		conflicts int
		wg        sync.WaitGroup
	)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				// Every writer shares the names i%5==0 with the others,
				// so those collide across transactions and inside one.
				name := fmt.Sprintf("w%d-%d", w, i)
				if i%5 == 0 {
					name = fmt.Sprintf("shared-%d", i)
				}
				err := db.CreateToken(ctx, fullToken(name, KindAccess, "spa", "u", "g"))
				mu.Lock()
				switch {
				case err == nil:
					if inserted[name] {
						t.Errorf("%s inserted twice", name)
					}
					inserted[name] = true
				case errors.Is(err, ErrConflict):
					conflicts++
				default:
					t.Errorf("CreateToken %s: %v", name, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	shared := each / 5
	if got, want := len(inserted), writers*(each-shared)+shared; got != want {
		t.Errorf("%d tokens inserted, want %d", got, want)
	}
	if got, want := conflicts, (writers-1)*shared; got != want {
		t.Errorf("%d conflicts, want %d", got, want)
	}
	var rows int
	if err := db.read.QueryRowContext(ctx, "SELECT count(*) FROM tokens").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != len(inserted) {
		t.Errorf("table holds %d tokens, callers were told %d", rows, len(inserted))
	}
	for name := range inserted {
		if _, err := db.GetToken(ctx, digest(name)); err != nil {
			t.Errorf("GetToken %s right after its insert: %v", name, err)
		}
	}
}

// TestGroupCommitWithdrawsCanceledWrites shows a caller whose context ends
// before its statement runs gets the context error and writes nothing.
func TestGroupCommitWithdrawsCanceledWrites(t *testing.T) {
	for _, d := range writerDialects {
		t.Run(d.name, func(t *testing.T) { testGroupCommitWithdraws(t, d.open(t)) })
	}
}

func testGroupCommitWithdraws(t *testing.T, db *DB) {
	ctx := context.Background()

	// Stall the leader: an open transaction holding SQLite's write
	// connection, which on PostgreSQL has inserted the leader's digest, so
	// the leader's insert waits on its unique index entry.
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if db.Dialect() == dialectPostgres {
		lt := fullToken("leader", KindAccess, "spa", "u", "g")
		if _, err := db.txExec(ctx, tx, qCreateToken, lt.Digest, lt.Kind, lt.Format, lt.JTI,
			lt.ClientID, lt.Subject, lt.Scope, listArg(lt.Audience), bytesArg(lt.Claims),
			lt.Payload, lt.GrantID, timeArg(lt.AuthTime), timeArg(lt.IssuedAt),
			lt.ExpiresAt.UnixNano(), timeArg(lt.UsedAt), lt.Revoked); err != nil {
			t.Fatal(err)
		}
	}
	leaderDone := make(chan error, 1)
	go func() { leaderDone <- db.CreateToken(ctx, fullToken("leader", KindAccess, "spa", "u", "g")) }()
	// Wait until the leader is running, so the next write queues.
	waitFor(t, func() bool {
		db.group.mu.Lock()
		defer db.group.mu.Unlock()
		return db.group.leading
	})
	cctx, cancel := context.WithCancel(ctx)
	queuedDone := make(chan error, 1)
	go func() { queuedDone <- db.CreateToken(cctx, fullToken("queued", KindAccess, "spa", "u", "g")) }()
	waitFor(t, func() bool {
		db.group.mu.Lock()
		defer db.group.mu.Unlock()
		return len(db.group.queue) == 1
	})
	cancel()
	if err := <-queuedDone; !errors.Is(err, context.Canceled) {
		t.Errorf("queued CreateToken after cancel: got %v, want context.Canceled", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := <-leaderDone; err != nil {
		t.Errorf("leader CreateToken: %v", err)
	}
	if _, err := db.GetToken(ctx, digest("queued")); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetToken of the withdrawn write: got %v, want ErrNotFound", err)
	}
	if _, err := db.GetToken(ctx, digest("leader")); err != nil {
		t.Errorf("GetToken of the leader's write: %v", err)
	}
}

func TestSetsPoolSize(t *testing.T) {
	tests := []struct {
		dsn  string
		want bool
	}{
		{"postgres://db/portcullis", false},
		{"postgres://db/portcullis?sslmode=disable", false},
		{"postgres://db/portcullis?sslmode=disable&pool_max_conns=32", true},
		{"postgresql://u@db:5432/p?pool_max_conns=1", true},
	}
	for _, tc := range tests {
		if got := setsPoolSize(tc.dsn); got != tc.want {
			t.Errorf("setsPoolSize(%q) = %v, want %v", tc.dsn, got, tc.want)
		}
	}
}

// TestPostgresPoolSize: without pool_max_conns the pool takes our default;
// a pool_max_conns in the DSN is kept as given.
func TestPostgresPoolSize(t *testing.T) {
	dsn := freshSchema(t, postgresDSN(t))
	for _, tc := range []struct {
		dsn  string
		want int32
	}{
		{dsn, defaultPoolConns()},
		{dsn + "&pool_max_conns=3", 3},
	} {
		db := openMigrated(t, tc.dsn)
		if got := db.pgpool.Config().MaxConns; got != tc.want {
			t.Errorf("MaxConns = %d, want %d", got, tc.want)
		}
	}
}

func TestWritesAfterCloseFail(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "closed.db"), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateToken(ctx, fullToken("t", KindAccess, "spa", "u", "g")); err == nil {
		t.Errorf("CreateToken after Close succeeded")
	}
}

// waitFor yields until cond holds. The goroutines it waits on are already
// running, so this takes a few scheduler turns; the deadline only turns a
// bug into a failure instead of a hang.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		runtime.Gosched()
	}
}
