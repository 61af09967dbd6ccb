// Package backoff holds the retry schedule of the Redis followers (abuse
// blocks, catalog notices): exponential, capped, jittered down so that
// nodes that lost Redis together do not come back in lockstep.
//
// It only computes and waits; it never decides whether to retry.
package backoff

import (
	"context"
	"time"
)

// Delay is the wait after failed attempt n (from 0): base doubled n times,
// capped at max, then jittered down by up to half. jitter returns a number
// in [0, k) (math/rand/v2's Int64N; tests pass a fixed one).
func Delay(n int, base, max time.Duration, jitter func(k int64) int64) time.Duration {
	d := max
	if n < 32 && base<<n < max && base<<n > 0 {
		d = base << n
	}
	half := int64(d / 2)
	if half <= 0 {
		return d
	}
	return d - time.Duration(jitter(half))
}

// Sleep pauses for d unless ctx ends first; it reports whether to go on.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
