package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// runGroupPipeline runs live on PostgreSQL as one pgx.Batch: every
// statement goes out in one pipeline ending in a single Sync, so the
// server runs them as one implicit transaction, one round trip and one
// WAL flush for the lot. It returns the requests it did not finish, for
// the caller to run one by one.
//
// A failing statement aborts the implicit transaction, unlike SQLite
// where it rolls back alone. When the failure belongs to the statement
// (a unique or check violation, bad data) its caller gets the error and
// the others are sent again without it; any other failure (a lost
// connection, a serialization failure, shutdown) gives every unfinished
// request back.
func (db *DB) runGroupPipeline(live []*groupWrite) []*groupWrite {
	ctx, cancel := batchContext(live)
	defer cancel()
	for len(live) > 1 {
		var b pgx.Batch
		for _, req := range live {
			b.Queue(req.q.postgres, req.args...)
		}
		ns := make([]int64, len(live))
		failed, err := execBatch(db.pgpool.SendBatch(ctx, &b), ns)
		if err == nil {
			for i, req := range live {
				req.finish(ns[i], nil)
			}
			return nil
		}
		if failed < 0 || !statementError(err) {
			db.logger.Warn("store: group commit failed; retrying one by one",
				"statements", len(live), "err", err.Error())
			return live
		}
		// Nothing of this batch was committed: send the rest again.
		live[failed].finish(0, err)
		live = append(live[:failed:failed], live[failed+1:]...)
	}
	return live
}

// execBatch reads the result of every statement of br into ns and closes
// it. It returns the index of the first statement that failed, or -1 when
// the batch failed as a whole (in sending or in its commit).
func execBatch(br pgx.BatchResults, ns []int64) (int, error) {
	for i := range ns {
		tag, err := br.Exec()
		if err != nil {
			_ = br.Close()
			return i, err
		}
		ns[i] = tag.RowsAffected()
	}
	// Close reads up to the Sync, which reports a failed commit.
	return -1, br.Close()
}

// statementError reports whether err is a statement's own fault, which it
// would meet again alone: SQLSTATE classes 22 (data exception) and 23
// (integrity constraint violation).
func statementError(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || len(pe.Code) != 5 {
		return false
	}
	class := pe.Code[:2]
	return class == "22" || class == "23"
}

// batchContext is the context a shared batch runs under. Canceling it
// closes the connection and fails the whole batch, so it must not end
// while any caller still waits: it ends at the latest of the callers'
// deadlines, and never when one of them has none. (A caller whose own
// context ends meanwhile still waits for the outcome, which is at most
// one pipeline round trip away.)
func batchContext(live []*groupWrite) (context.Context, context.CancelFunc) {
	var latest time.Time
	for _, req := range live {
		d, ok := req.ctx.Deadline()
		if !ok {
			return context.Background(), func() {}
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(context.Background(), latest)
}
