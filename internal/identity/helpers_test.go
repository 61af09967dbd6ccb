package identity_test

import (
	"context"
	"sync"
	"time"

	"github.com/portcullis/portcullis/internal/identity"
)

// clock is an injected time source the tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testHasher is shared by the tests: argon2id at full cost is the slow part
// of this package's suite, and sharing keeps its concurrency bounded.
var testHasher = identity.NewHasher(2)

// testKey is a fixed 32-byte CSRF key.
var testKey = []byte("0123456789abcdef0123456789abcdef")

func ctx() context.Context { return context.Background() }
