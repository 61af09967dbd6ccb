package ratelimittest

import (
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/ratelimit"
)

// rateCases are the GCRA behaviours of a Rate limit.
func rateCases() []suiteCase {
	return []suiteCase{
		{name: "rate/burst then paces at the rate", fakeTime: true, run: rateBurstThenPace},
		{name: "rate/rejected requests do not delay recovery", fakeTime: true, run: rateRejectsDoNotCount},
		{name: "rate/no double burst at a window edge", fakeTime: true, run: rateNoEdgeBurst},
		{name: "rate/states count down", run: rateStatesCountDown},
		{name: "rate/burst defaults to count", run: rateBurstDefault},
		{name: "rate/burst above count", run: rateBurstAboveCount},
		{name: "rate/keys are independent", run: rateKeysIndependent},
		{name: "rate/peek consumes nothing", run: ratePeekConsumesNothing},
	}
}

// rateBurstThenPace: 10/s with a burst of 5 admits 5 at once, then one
// every 100ms, with Remaining, Reset and RetryAfter exact at every step.
func rateBurstThenPace(t *testing.T, h *harness) {
	l := h.limit(ratelimit.Limit{Name: "pace", Kind: ratelimit.Rate, Count: 10, Period: time.Second, Burst: 5})
	c := check(l, "client-1")
	ms := time.Millisecond
	for i := range int64(5) {
		h.wantAllow("burst", true, states(st(4-i, time.Duration(i+1)*100*ms, 0, false)), c)
	}
	h.wantAllow("drained", false, states(st(0, 500*ms, 100*ms, true)), c)
	h.advance(99 * ms)
	h.wantAllow("1ms early", false, states(st(0, 401*ms, 1*ms, true)), c)
	h.advance(1 * ms)
	h.wantAllow("on time", true, states(st(0, 500*ms, 0, false)), c)

	// Paced: one attempt every 10ms for 10s admits one per 100ms.
	admitted := 0
	for range 1000 {
		h.advance(10 * ms)
		if ok, _ := h.allow(c); ok {
			admitted++
		}
	}
	if admitted != 100 {
		t.Errorf("admitted %d in 10s at 10/s, want 100", admitted)
	}
	h.advance(time.Second)
	h.wantPeek("refilled", states(st(5, 0, 0, false)), c)
}

// rateRejectsDoNotCount: rejected calls are not counted, so a client
// hammering a drained limit is admitted again exactly when RetryAfter
// said (a sliding log that records rejections never recovers).
func rateRejectsDoNotCount(t *testing.T, h *harness) {
	l := h.limit(ratelimit.Limit{Name: "hammer", Kind: ratelimit.Rate, Count: 1, Period: time.Second})
	c := check(l, "client-1")
	h.wantAllow("first", true, states(st(0, time.Second, 0, false)), c)
	for i := range 99 {
		h.advance(10 * time.Millisecond)
		if ok, _ := h.allow(c); ok {
			t.Fatalf("attempt %d within the second admitted", i+1)
		}
	}
	h.wantAllow("last rejected", false, states(st(0, 10*time.Millisecond, 10*time.Millisecond, true)), c)
	h.advance(10 * time.Millisecond)
	h.wantAllow("after a second", true, states(st(0, time.Second, 0, false)), c)
}

// rateNoEdgeBurst: 60/min drained just before a minute boundary admits
// one more a second later, not another 60 as a fixed window would.
func rateNoEdgeBurst(t *testing.T, h *harness) {
	l := h.limit(ratelimit.Limit{Name: "edge", Kind: ratelimit.Rate, Count: 60, Period: time.Minute})
	c := check(l, "client-1")
	edge := h.clock.Now().Truncate(time.Minute).Add(2 * time.Minute)
	h.advanceTo(edge.Add(-500 * time.Millisecond))
	if got := h.allowN(100, c); got != 60 {
		t.Errorf("before the edge: admitted %d, want the burst of 60", got)
	}
	h.advance(time.Second)
	if got := h.allowN(100, c); got != 1 {
		t.Errorf("after the edge: admitted %d, want 1 (one interval of 1s has passed)", got)
	}
}

// rateStatesCountDown: Remaining counts the burst down; states are exact
// even when time does not move (T = 2h dwarfs the test's duration).
func rateStatesCountDown(t *testing.T, h *harness) {
	l := h.limit(ratelimit.Limit{Name: "down", Kind: ratelimit.Rate, Count: 5, Period: 10 * time.Hour})
	c := check(l, "client-1")
	for i := range int64(5) {
		h.wantAllow("burst", true, states(st(4-i, time.Duration(i+1)*2*time.Hour, 0, false)), c)
	}
	h.wantAllow("drained", false, states(st(0, 10*time.Hour, 2*time.Hour, true)), c)
	h.wantPeek("drained", states(st(0, 10*time.Hour, 2*time.Hour, true)), c)
}

// rateBurstDefault: Burst zero means Count.
func rateBurstDefault(t *testing.T, h *harness) {
	l := h.limit(ratelimit.Limit{Name: "dflt", Kind: ratelimit.Rate, Count: 3, Period: 3 * time.Hour})
	c := check(l, "client-1")
	h.wantPeek("fresh", states(st(3, 0, 0, false)), c)
	if got := h.allowN(10, c); got != 3 {
		t.Errorf("admitted %d, want 3", got)
	}
}

// rateBurstAboveCount: a burst larger than the count is honoured.
func rateBurstAboveCount(t *testing.T, h *harness) {
	l := h.limit(ratelimit.Limit{Name: "big", Kind: ratelimit.Rate, Count: 1, Period: time.Hour, Burst: 3})
	c := check(l, "client-1")
	h.wantAllow("first", true, states(st(2, time.Hour, 0, false)), c)
	if got := h.allowN(10, c); got != 2 {
		t.Errorf("admitted %d more, want 2", got)
	}
	h.wantPeek("drained", states(st(0, 3*time.Hour, time.Hour, true)), c)
}

// rateKeysIndependent: draining one key leaves other keys of the limit,
// and the same key under another limit, untouched.
func rateKeysIndependent(t *testing.T, h *harness) {
	a := h.limit(ratelimit.Limit{Name: "a", Kind: ratelimit.Rate, Count: 2, Period: 20 * time.Hour})
	b := h.limit(ratelimit.Limit{Name: "b", Kind: ratelimit.Rate, Count: 2, Period: 20 * time.Hour})
	if got := h.allowN(5, check(a, "k1")); got != 2 {
		t.Fatalf("a/k1 admitted %d, want 2", got)
	}
	h.wantPeek("a/k1", states(st(0, 20*time.Hour, 10*time.Hour, true)), check(a, "k1"))
	h.wantPeek("a/k2", states(st(2, 0, 0, false)), check(a, "k2"))
	h.wantPeek("b/k1", states(st(2, 0, 0, false)), check(b, "k1"))
	h.wantAllow("a/k2", true, states(st(1, 10*time.Hour, 0, false)), check(a, "k2"))
	h.wantAllow("b/k1", true, states(st(1, 10*time.Hour, 0, false)), check(b, "k1"))
	// Keys that would collide if joined naively stay apart.
	c := h.limit(ratelimit.Limit{Name: "c", Kind: ratelimit.Rate, Count: 1, Period: 20 * time.Hour})
	h.wantAllow("c/x:y", true, states(st(0, 20*time.Hour, 0, false)), check(c, "x:y"))
	h.wantAllow("c/x", true, states(st(0, 20*time.Hour, 0, false)), check(c, "x"))
	h.wantAllow("c/empty", true, states(st(0, 20*time.Hour, 0, false)), check(c, ""))
}

// ratePeekConsumesNothing: any number of peeks leave the state as it was.
func ratePeekConsumesNothing(t *testing.T, h *harness) {
	l := h.limit(ratelimit.Limit{Name: "peek", Kind: ratelimit.Rate, Count: 2, Period: 20 * time.Hour})
	c := check(l, "client-1")
	for range 10 {
		h.wantPeek("fresh", states(st(2, 0, 0, false)), c)
	}
	h.wantAllow("first", true, states(st(1, 10*time.Hour, 0, false)), c)
	for range 10 {
		h.wantPeek("after one", states(st(1, 10*time.Hour, 0, false)), c)
	}
	h.wantAllow("second", true, states(st(0, 20*time.Hour, 0, false)), c)
	for range 10 {
		h.wantPeek("drained", states(st(0, 20*time.Hour, 10*time.Hour, true)), c)
	}
}
