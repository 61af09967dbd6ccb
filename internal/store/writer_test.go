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

// TestGroupCommit drives many concurrent writers, some of them repeating a
// digest, through SQLite's group-commit writer: every caller must get its
// own answer, and exactly the rows reported inserted must exist.
func TestGroupCommit(t *testing.T) {
	db := openMigrated(t, filepath.Join(t.TempDir(), "group.db"))
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
	db := openMigrated(t, filepath.Join(t.TempDir(), "cancel.db"))
	ctx := context.Background()

	// Hold the write connection so queued writes cannot run.
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
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
