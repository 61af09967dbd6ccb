package store

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"sync"
)

var (
	// errClosed is returned by writes that arrive after Close.
	errClosed = errors.New("database is closed")
	// errWriterPanic is returned to callers whose batch was cut short by
	// a panic in the leader; the leader's own caller gets the panic.
	errWriterPanic = errors.New("group commit aborted by a panic")
)

// maxGroup caps how many writes share one SQLite transaction, so one batch
// cannot hold the write lock for long.
const maxGroup = 128

// maxLeadBatches is how many batches one caller runs before handing the
// lead on.
const maxLeadBatches = 8

// groupWrite is one statement going through the group-commit writer.
type groupWrite struct {
	ctx  context.Context
	q    query
	args []any
	n    int64
	err  error
	// wake receives once: when the statement is finished, or when this
	// caller is to lead the next batch (lead is then set).
	wake chan struct{}
	lead bool
	// finished is set by the leader that ran the statement.
	finished bool
}

// groupWriter commits concurrent single-statement writes in shared
// transactions ("group commit"). A SQLite commit costs a WAL frame write
// per dirty page, and most pages a token insert dirties (the tail of the
// table and of the expires_at, grant_id, client_id and subject indexes)
// are the same for every insert, so thirty inserts in one transaction write
// little more than one does. A PostgreSQL commit waits for its WAL flush
// and every statement for a network round trip; a batch sent as one
// pipeline (runGroupPipeline) pays for both once.
//
// There is no writer goroutine: a caller that finds the writer idle runs
// its statement at once, on its own goroutine, so a lone write costs
// nothing extra. Callers that arrive meanwhile queue; the leader runs the
// queue as one transaction, then the next queue, and after a few batches
// hands the lead to the first caller waiting. Every caller still returns
// only after its own row is committed, and a statement's own failure (a
// primary-key conflict) fails that statement alone: SQLite rolls back the
// statement, not the transaction, and on PostgreSQL the batch is sent
// again without it.
type groupWriter struct {
	db      *DB
	mu      sync.Mutex
	queue   []*groupWrite
	leading bool
	closed  bool
	// active counts leading spans, so close can wait for the last batch.
	active sync.WaitGroup
}

func newGroupWriter(db *DB) *groupWriter {
	return &groupWriter{db: db}
}

// close refuses new writes and waits until the queued ones are done.
func (g *groupWriter) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.active.Wait()
}

// exec runs one statement through the group and returns its result. If ctx
// ends while the statement is still queued it is withdrawn and ctx.Err()
// returned; once its batch has started, exec waits for the outcome.
func (g *groupWriter) exec(ctx context.Context, q query, args []any) (int64, error) {
	req := &groupWrite{ctx: ctx, q: q, args: args, wake: make(chan struct{}, 1)}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return 0, errClosed
	}
	if !g.leading {
		g.leading = true
		g.active.Add(1)
		g.mu.Unlock()
		g.lead(req)
		return req.n, req.err
	}
	g.queue = append(g.queue, req)
	g.mu.Unlock()

	select {
	case <-req.wake:
	case <-ctx.Done():
		g.mu.Lock()
		if i := slices.Index(g.queue, req); i >= 0 {
			g.queue = slices.Delete(g.queue, i, i+1)
			g.mu.Unlock()
			return 0, ctx.Err()
		}
		g.mu.Unlock()
		// Already in a batch, or chosen to lead one: see it through.
		<-req.wake
	}
	if req.lead {
		g.lead(req)
	}
	return req.n, req.err
}

// lead runs req and everything queued as one batch. While more callers
// queue it keeps going, for up to maxLeadBatches batches: waking another
// goroutine to lead costs a scheduler round trip on the one path every
// write waits for. After that it hands the lead to the first caller still
// queued, so no caller's own latency grows without bound.
func (g *groupWriter) lead(req *groupWrite) {
	var batch []*groupWrite
	defer func() {
		// Whatever happens, the lead moves on: a leader lost to a panic
		// would leave every later write waiting forever.
		if r := recover(); r != nil {
			for _, w := range batch {
				if !w.finished {
					w.finish(0, errWriterPanic)
				}
			}
			g.release()
			panic(r)
		}
		g.release()
	}()
	first := req
	for range maxLeadBatches {
		g.mu.Lock()
		batch = batch[:0]
		if first != nil {
			batch = append(batch, first)
			first = nil
		}
		take := min(len(g.queue), maxGroup-len(batch))
		batch = append(batch, g.queue[:take]...)
		g.queue = slices.Delete(g.queue, 0, take)
		g.mu.Unlock()

		g.db.runGroup(batch)

		g.mu.Lock()
		empty := len(g.queue) == 0
		g.mu.Unlock()
		if empty {
			return
		}
	}
}

// release hands the lead to the first caller still queued, or stands the
// writer down when there is none.
func (g *groupWriter) release() {
	g.mu.Lock()
	if len(g.queue) == 0 {
		g.leading = false
		g.mu.Unlock()
		g.active.Done()
		return
	}
	next := g.queue[0]
	g.queue = slices.Delete(g.queue, 0, 1)
	next.lead = true
	g.mu.Unlock()
	next.wake <- struct{}{}
}

// finish records a statement's outcome and wakes its caller.
func (req *groupWrite) finish(n int64, err error) {
	req.n, req.err, req.finished = n, err, true
	req.wake <- struct{}{}
}

// runGroup executes batch, as one transaction when it holds more than one
// statement. The statements of a shared transaction run under a context
// that is never canceled by one caller: modernc.org/sqlite cancels with
// sqlite3_interrupt, and pgx by closing the connection, either of which
// would roll back everyone's transaction for one impatient caller. A
// caller whose context ended before the batch started is skipped instead.
func (db *DB) runGroup(batch []*groupWrite) {
	live := make([]*groupWrite, 0, len(batch))
	for _, req := range batch {
		if err := req.ctx.Err(); err != nil {
			req.finish(0, err)
			continue
		}
		live = append(live, req)
	}
	if len(live) > 1 {
		if db.pgpool != nil {
			live = db.runGroupPipeline(live)
		} else if db.runGroupTx(live) {
			live = nil
		}
	}
	// One statement needs no shared transaction; and when the shared
	// transaction failed as a whole (I/O error, disk full, busy, a lost
	// connection), every statement left gets its own so each caller gets
	// its own, accurate answer. Alone, a statement can honour its
	// caller's context.
	for _, req := range live {
		req.finish(db.exec(req.ctx, db.write, req.q, req.args...))
	}
}

// runGroupTx runs live in one transaction. It reports false, having
// finished no request, when the transaction has to be abandoned.
func (db *DB) runGroupTx(live []*groupWrite) bool {
	ctx := context.Background()
	// Prepare first: the transaction will hold the write pool's only
	// connection, so preparing inside it would wait for itself.
	stmts := make([]*sql.Stmt, len(live))
	for i, req := range live {
		s, err := db.prepared(ctx, db.write, req.q)
		if err != nil {
			return false
		}
		stmts[i] = s
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return false
	}
	type result struct {
		n   int64
		err error
	}
	results := make([]result, len(live))
	for i, req := range live {
		var res sql.Result
		res, err = tx.StmtContext(ctx, stmts[i]).ExecContext(ctx, req.args...)
		if err != nil {
			if isUniqueViolation(err) {
				// Only this statement was rolled back.
				results[i] = result{err: err}
				err = nil
				continue
			}
			break
		}
		if results[i].n, err = res.RowsAffected(); err != nil {
			break
		}
	}
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		_ = tx.Rollback()
		db.logger.Warn("store: group commit failed; retrying one by one",
			"statements", len(live), "err", err.Error())
		return false
	}
	for i, req := range live {
		req.finish(results[i].n, results[i].err)
	}
	return true
}
