// Package asynclog moves the writing of high-volume log records (the
// gateway's access log) off the request path: request goroutines hand a
// record to a bounded queue and return; one goroutine formats and writes
// them. Without it every request takes the output handler's lock and makes
// a write system call while holding it, and under load those waits are
// what lengthens the gateway's latency tail.
//
// It must never block a caller: when the queue is full the record is
// dropped and counted, so a slow log pipe costs log lines, not requests.
// It is for records that may be lost under overload (access logs), never
// for errors or audit events.
package asynclog

import (
	"context"
	"log/slog"
	"sync/atomic"
)

// DefaultQueue is the number of records a Handler holds when its writer
// falls behind: at 20,000 requests a second, half a second of log lines.
const DefaultQueue = 10000

// entry is one record and the handler (with its attributes and groups)
// that formats it.
type entry struct {
	h slog.Handler
	r slog.Record
}

// sink is the queue and the writer goroutine shared by a Handler and every
// handler derived from it with WithAttrs or WithGroup.
type sink struct {
	queue   chan entry
	dropped atomic.Uint64
	onDrop  func()
	done    chan struct{}
}

// Handler is a slog.Handler that formats and writes records on its own
// goroutine. Safe for concurrent use.
type Handler struct {
	inner slog.Handler
	s     *sink
}

var _ slog.Handler = (*Handler)(nil)

// New returns a Handler writing through inner with a queue of size
// records (0 means DefaultQueue), and starts its writer, which runs until
// ctx ends and then writes what is queued and stops. onDrop, if not nil,
// is called (on the caller's goroutine) for every dropped record, e.g. to
// count it in a metric.
func New(ctx context.Context, inner slog.Handler, size int, onDrop func()) *Handler {
	if size <= 0 {
		size = DefaultQueue
	}
	s := &sink{queue: make(chan entry, size), onDrop: onDrop, done: make(chan struct{})}
	go s.run(ctx)
	return &Handler{inner: inner, s: s}
}

// Enabled asks the inner handler, so disabled levels cost nothing.
func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

// Handle queues a copy of r; it never blocks. A record that finds the
// queue full is dropped and counted.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	select {
	case h.s.queue <- entry{h: h.inner, r: r.Clone()}:
	default:
		h.s.dropped.Add(1)
		if h.s.onDrop != nil {
			h.s.onDrop()
		}
	}
	return nil
}

// WithAttrs returns a handler with attrs that shares this one's queue.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &Handler{inner: h.inner.WithAttrs(attrs), s: h.s}
}

// WithGroup returns a handler with the group that shares this one's queue.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{inner: h.inner.WithGroup(name), s: h.s}
}

// Dropped is the number of records dropped because the queue was full.
func (h *Handler) Dropped() uint64 { return h.s.dropped.Load() }

// Done is closed once the writer has stopped, after writing every record
// queued before its context ended.
func (h *Handler) Done() <-chan struct{} { return h.s.done }

func (s *sink) run(ctx context.Context) {
	defer close(s.done)
	for {
		select {
		case e := <-s.queue:
			s.write(e)
		case <-ctx.Done():
			for {
				select {
				case e := <-s.queue:
					s.write(e)
				default:
					return
				}
			}
		}
	}
}

// write formats one record. The handler's error (a closed pipe) has no
// one to go to: the record is lost like a dropped one.
func (s *sink) write(e entry) {
	if err := e.h.Handle(context.Background(), e.r); err != nil {
		s.dropped.Add(1)
	}
}
