package ratelimit

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// breaker is a circuit breaker over the Redis round trip: after threshold
// consecutive failures it opens for cooldown, during which calls fail at
// once instead of each waiting for a timeout; then one trial call is let
// through (half-open), which closes it on success or reopens it on
// failure. It logs when it trips and when it closes, never per request.
//
// Time is whatever the caller passes (the now of Allow), so tests drive
// the cooldown without sleeping.
type breaker struct {
	threshold int64
	cooldown  time.Duration
	logger    *slog.Logger

	// open and failures are read without the lock on the hot path, where
	// the breaker is closed and Redis answers.
	open     atomic.Bool
	failures atomic.Int64

	mu    sync.Mutex
	until time.Time // while open: when the next trial may start
	trial bool      // while open: a trial call is in flight
}

// allow reports whether a call may go to Redis at now, and whether that
// call is the half-open trial (which must then report its outcome).
func (b *breaker) allow(now time.Time) (ok, trial bool) {
	if !b.open.Load() {
		return true, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open.Load() {
		return true, false
	}
	if b.trial || now.Before(b.until) {
		return false, false
	}
	b.trial = true
	return true, true
}

// retryAfter is how long until the breaker lets a call through again, at
// least a second so a client is not told to retry at once.
func (b *breaker) retryAfter(now time.Time) time.Duration {
	d := time.Second
	if b.open.Load() {
		b.mu.Lock()
		d = max(d, b.until.Sub(now))
		b.mu.Unlock()
	}
	return d
}

// success records a call that reached Redis and got an answer.
func (b *breaker) success() {
	if !b.open.Load() && b.failures.Load() == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures.Store(0)
	if b.open.Load() {
		b.open.Store(false)
		b.trial = false
		b.logger.Info("ratelimit: redis circuit breaker closed")
	}
}

// failure records a call that Redis did not answer in time or at all.
func (b *breaker) failure(now time.Time, trial bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.open.Load() {
		// A failed trial waits another cooldown, without a new log line;
		// a call that started before the breaker opened changes nothing.
		if trial {
			b.trial = false
			b.until = now.Add(b.cooldown)
		}
		return
	}
	if b.failures.Add(1) < b.threshold {
		return
	}
	b.open.Store(true)
	b.trial = false
	b.until = now.Add(b.cooldown)
	b.logger.Warn("ratelimit: redis circuit breaker open",
		"failures", b.failures.Load(), "cooldown", b.cooldown, "err", err)
}

// abandon records a call given up by its caller (its context ended), which
// says nothing about Redis: a trial it held is released for the next call.
func (b *breaker) abandon(trial bool) {
	if !trial {
		return
	}
	b.mu.Lock()
	b.trial = false
	b.mu.Unlock()
}

// isOpen reports whether calls are being refused (open or half-open).
func (b *breaker) isOpen() bool { return b.open.Load() }
