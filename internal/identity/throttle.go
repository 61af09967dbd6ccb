package identity

import (
	"strings"
	"sync"
	"time"
)

// Throttle slows password guessing per username: after MaxFailures
// consecutive failures an account is locked for a period that doubles on
// each further failure, up to MaxLock. A success clears the count. The
// lock is short by design, so an attacker cannot lock a user out for long
// by failing on purpose. State is per node and in memory.
type Throttle struct {
	// MaxFailures before the first lock; zero means 5.
	MaxFailures int
	// BaseLock is the first lock period; zero means 30s.
	BaseLock time.Duration
	// MaxLock caps the lock period; zero means 15m.
	MaxLock time.Duration

	mu      sync.Mutex
	entries map[string]*throttleEntry
}

type throttleEntry struct {
	failures int
	until    time.Time
	last     time.Time
}

// maxThrottled bounds memory: past it, entries idle for an hour go first.
const maxThrottled = 100000

func (t *Throttle) limits() (int, time.Duration, time.Duration) {
	n, base, limit := t.MaxFailures, t.BaseLock, t.MaxLock
	if n <= 0 {
		n = 5
	}
	if base <= 0 {
		base = 30 * time.Second
	}
	if limit <= 0 {
		limit = 15 * time.Minute
	}
	return n, base, limit
}

func throttleKey(username string) string { return strings.ToLower(username) }

// Locked reports whether username is locked at now, and until when.
func (t *Throttle) Locked(username string, now time.Time) (bool, time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entries[throttleKey(username)]
	if e == nil || !now.Before(e.until) {
		return false, time.Time{}
	}
	return true, e.until
}

// Fail records a failed login for username at now.
func (t *Throttle) Fail(username string, now time.Time) {
	n, base, limit := t.limits()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.entries == nil {
		t.entries = map[string]*throttleEntry{}
	}
	if len(t.entries) >= maxThrottled {
		for k, e := range t.entries {
			if now.Sub(e.last) > time.Hour {
				delete(t.entries, k)
			}
		}
		if len(t.entries) >= maxThrottled {
			clear(t.entries)
		}
	}
	k := throttleKey(username)
	e := t.entries[k]
	if e == nil {
		e = &throttleEntry{}
		t.entries[k] = e
	}
	// Failures long ago do not count against a user today.
	if now.Sub(e.last) > limit*2 {
		e.failures = 0
	}
	e.failures++
	e.last = now
	if e.failures >= n {
		lock := base << min(e.failures-n, 20)
		if lock > limit || lock <= 0 {
			lock = limit
		}
		e.until = now.Add(lock)
	}
}

// Succeed clears the failures of username.
func (t *Throttle) Succeed(username string) {
	t.mu.Lock()
	delete(t.entries, throttleKey(username))
	t.mu.Unlock()
}
