package phantom

import "fmt"

// DefaultMaxCalls is the cap of an Introspector's calls in flight when
// its config brings no CallLimit.
const DefaultMaxCalls = 64

// ErrBusy means a token could not be resolved because the calls in
// flight to its authorization server are at their cap. It wraps
// ErrUnavailable (the gateway answers 503 with Retry-After) and is never
// cached: the next presentation asks again.
var ErrBusy = fmt.Errorf("%w: too many token resolutions in flight", ErrUnavailable)

// CallLimit caps the resolutions in flight to one authorization server,
// shared by every resolver that asks it (one per audience set). A miss
// that finds no free slot fails at once with ErrBusy rather than wait:
// a flood of distinct junk tokens then costs the authorization server at
// most the cap of concurrent requests, and the gateway no queue that
// grows without bound. Coalesced waiters for a call in flight take no
// slot.
type CallLimit struct {
	slots chan struct{}
}

// NewCallLimit returns a limit of n calls in flight; n below 1 means
// DefaultMaxCalls.
func NewCallLimit(n int) *CallLimit {
	if n < 1 {
		n = DefaultMaxCalls
	}
	return &CallLimit{slots: make(chan struct{}, n)}
}

// tryAcquire takes a slot when one is free.
func (l *CallLimit) tryAcquire() bool {
	select {
	case l.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

// release frees a slot taken by tryAcquire.
func (l *CallLimit) release() { <-l.slots }

// InFlight returns the calls in flight (for metrics and tests).
func (l *CallLimit) InFlight() int { return len(l.slots) }

// Cap returns the most calls in flight the limit admits.
func (l *CallLimit) Cap() int { return cap(l.slots) }
