package asynclog

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
)

// blockingWriter holds every Write until release is closed.
type blockingWriter struct {
	release chan struct{}
	mu      sync.Mutex
	buf     bytes.Buffer
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	<-w.release
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *blockingWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestNeverBlocksAndDropsWhenFull: with the writer stuck, callers return
// at once; records beyond the queue are dropped and counted; once the
// writer moves, everything queued is written, with its attributes.
func TestNeverBlocksAndDropsWhenFull(t *testing.T) {
	w := &blockingWriter{release: make(chan struct{})}
	ctx, cancel := context.WithCancel(t.Context())
	drops := 0
	h := New(ctx, slog.NewJSONHandler(w, nil), 4, func() { drops++ })
	logger := slog.New(h).With("component", "gateway.access")

	const n = 50
	for i := range n {
		logger.Info("request", "i", i) // would hang here if Handle blocked
	}
	// One record may be in the writer's hands, four in the queue.
	if got := h.Dropped(); got < n-5 || got > n-4 {
		t.Errorf("Dropped = %d, want %d or %d", got, n-5, n-4)
	}
	if uint64(drops) != h.Dropped() {
		t.Errorf("onDrop called %d times, Dropped = %d", drops, h.Dropped())
	}
	close(w.release)
	cancel()
	<-h.Done()
	out := w.String()
	if lines := strings.Count(out, "\n"); uint64(lines) != n-h.Dropped() {
		t.Errorf("wrote %d lines, want %d", lines, n-h.Dropped())
	}
	if !strings.Contains(out, `"component":"gateway.access"`) || !strings.Contains(out, `"i":0`) {
		t.Errorf("output lost attributes or the first record:\n%s", out)
	}
}

// TestRecordIsCopied: a record's attributes are copied when queued, so a
// caller reusing its arguments cannot change what is written.
func TestRecordIsCopied(t *testing.T) {
	var buf bytes.Buffer
	ctx, cancel := context.WithCancel(t.Context())
	h := New(ctx, slog.NewTextHandler(&buf, nil), 0, nil)
	attrs := []slog.Attr{slog.String("k", "before")}
	slog.New(h).LogAttrs(ctx, slog.LevelInfo, "m", attrs...)
	attrs[0] = slog.String("k", "after")
	cancel()
	<-h.Done()
	if !strings.Contains(buf.String(), "k=before") {
		t.Errorf("got %q, want the attribute as it was logged", buf.String())
	}
}

// TestDisabledLevelsCostNothing: Enabled follows the inner handler.
func TestDisabledLevelsCostNothing(t *testing.T) {
	h := New(t.Context(), slog.NewTextHandler(&bytes.Buffer{}, &slog.HandlerOptions{Level: slog.LevelWarn}), 0, nil)
	if h.Enabled(t.Context(), slog.LevelInfo) {
		t.Error("info enabled under a warn handler")
	}
}

// BenchmarkHandle logs an access-log-sized record from parallel
// goroutines, to a writer that costs nothing and to a pipe (a write system
// call per record, as to a process's stderr), synchronously and through a
// Handler.
func BenchmarkHandle(b *testing.B) {
	pipe := func(b *testing.B) io.Writer {
		r, w, err := os.Pipe()
		if err != nil {
			b.Fatal(err)
		}
		go func() { _, _ = io.Copy(io.Discard, r) }()
		b.Cleanup(func() { w.Close(); r.Close() })
		return w
	}
	for _, tc := range []struct {
		name string
		h    func(b *testing.B) slog.Handler
	}{
		{"sync-discard", func(*testing.B) slog.Handler { return slog.NewJSONHandler(discard{}, nil) }},
		{"async-discard", func(b *testing.B) slog.Handler { return New(b.Context(), slog.NewJSONHandler(discard{}, nil), 0, nil) }},
		{"sync-pipe", func(b *testing.B) slog.Handler { return slog.NewJSONHandler(pipe(b), nil) }},
		{"async-pipe", func(b *testing.B) slog.Handler { return New(b.Context(), slog.NewJSONHandler(pipe(b), nil), 0, nil) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			logger := slog.New(tc.h(b))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					logger.LogAttrs(context.Background(), slog.LevelInfo, "request",
						slog.String("request_id", "01J9Z"), slog.String("api", "warehouse"), slog.Int("status", 200))
				}
			})
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
