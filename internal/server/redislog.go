package server

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisLogEvery is the least time between two lines of the Redis client's
// own log: during an outage it reports every failed dial, many a second.
const redisLogEvery = time.Second

// redisLogger carries the Redis client's messages (failed dials, pool
// trouble) into the node's structured log as warnings, at most one a
// second, instead of the unstructured lines go-redis writes to stderr by
// default. A line after a quiet spell says how many were suppressed.
type redisLogger struct {
	log *slog.Logger

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// useRedisLogger makes logger the Redis client's log. go-redis keeps one
// logger per process; the last node wired in a process wins, which is
// this node in production (one node a process).
func useRedisLogger(logger *slog.Logger) {
	redis.SetLogger(&redisLogger{log: logger.With("component", "redis")})
}

// Printf implements go-redis's internal.Logging.
func (l *redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.mu.Lock()
	now := time.Now()
	if now.Sub(l.last) < redisLogEvery {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	l.last = now
	n := l.suppressed
	l.suppressed = 0
	l.mu.Unlock()
	msg := strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: ")
	attrs := []any{"detail", msg}
	if n > 0 {
		attrs = append(attrs, "suppressed", n)
	}
	l.log.WarnContext(ctx, "redis client", attrs...)
}
