package server

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

// TestRedisLoggerStructuredAndBounded: the Redis client's messages become
// structured warnings, at most one a second, the next one saying how many
// were suppressed.
func TestRedisLoggerStructuredAndBounded(t *testing.T) {
	var buf bytes.Buffer
	l := &redisLogger{log: slog.New(slog.NewJSONHandler(&buf, nil))}
	ctx := context.Background()
	for range 50 {
		l.Printf(ctx, "redis: connection pool: failed to dial after %d attempts: %s", 5, "dial tcp 127.0.0.1:1: connect: connection refused")
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("%d lines for 50 messages within a second, want 1:\n%s", len(lines), buf.String())
	}
	if !strings.Contains(lines[0], `"level":"WARN"`) || !strings.Contains(lines[0], `"detail":"connection pool: failed to dial after 5 attempts`) {
		t.Errorf("line %s: want a structured warning with the detail", lines[0])
	}
	l.mu.Lock()
	l.last = l.last.Add(-redisLogEvery) // a second later
	l.mu.Unlock()
	l.Printf(ctx, "redis: again")
	if got := buf.String(); !strings.Contains(got, `"suppressed":49`) {
		t.Errorf("the line after a quiet spell does not count the 49 suppressed:\n%s", got)
	}
}
