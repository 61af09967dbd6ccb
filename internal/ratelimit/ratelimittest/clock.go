package ratelimittest

import (
	"sync"
	"time"
)

// Clock is the time the suite runs at: Now is passed to every call of the
// backend, and Advance moves it (and, for a backend with its own clock,
// that clock) forward.
type Clock interface {
	Now() time.Time
	Advance(d time.Duration)
}

// TimeFaker is implemented by a Clock that can say whether Advance really
// moves the backend's time. A backend on a clock of its own that the test
// cannot move (Redis uses the server's TIME) returns a Clock whose
// CanFakeTime is false: the suite then skips the cases that need time to
// move and, in the others, checks Remaining and Denied exactly but only
// the sign of Reset and RetryAfter. A Clock that does not implement
// TimeFaker is taken to fake time.
type TimeFaker interface {
	CanFakeTime() bool
}

// FakeClock is a Clock that moves only when told to. Safe for concurrent
// use.
type FakeClock struct {
	mu  sync.Mutex
	now time.Time
}

var (
	_ Clock     = (*FakeClock)(nil)
	_ TimeFaker = (*FakeClock)(nil)
	_ Clock     = RealClock{}
	_ TimeFaker = RealClock{}
)

// NewFakeClock returns a clock stopped at start.
func NewFakeClock(start time.Time) *FakeClock { return &FakeClock{now: start} }

// Now returns the clock's time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock by d (which may be negative, for tests of a
// clock that steps back).
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// CanFakeTime implements TimeFaker: always true.
func (c *FakeClock) CanFakeTime() bool { return true }

// RealClock is the wall clock, for a backend whose time cannot be faked.
// Its Advance panics: the suite never calls it when CanFakeTime is false,
// and sleeping in a test is not an option.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// Advance panics: real time cannot be moved.
func (RealClock) Advance(d time.Duration) {
	panic("ratelimittest: RealClock cannot advance; skip cases that need fake time")
}

// CanFakeTime implements TimeFaker: always false.
func (RealClock) CanFakeTime() bool { return false }
