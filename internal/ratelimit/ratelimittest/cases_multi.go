package ratelimittest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/ratelimit"
)

// multiCases are the behaviours of several checks in one request, of
// limits sharing a name and of concurrent callers.
func multiCases() []suiteCase {
	return []suiteCase{
		{name: "multi/rejected request consumes nothing", run: multiRejectedConsumesNothing},
		{name: "multi/rate and calendar quota", fakeTime: true, run: multiRateAndQuota},
		{name: "multi/limit listed twice counts twice", run: multiListedTwice},
		{name: "multi/limits sharing a name share state", run: multiSharedName},
		{name: "concurrent/one key admits exactly the burst", run: concurrentOneKey},
		{name: "concurrent/several limits consume only when all admit", run: concurrentSeveralLimits},
		{name: "concurrent/rolling quota admits exactly count", run: concurrentRollingQuota},
	}
}

// multiRejectedConsumesNothing: with A (5) and B (3) on one request, the
// requests B refuses take nothing from A, which then admits exactly its
// remaining 2 on its own.
func multiRejectedConsumesNothing(t *testing.T, h *harness) {
	hr := time.Hour
	a := h.limit(ratelimit.Limit{Name: "a", Kind: ratelimit.Rate, Count: 5, Period: 10 * hr})
	b := h.limit(ratelimit.Limit{Name: "b", Kind: ratelimit.Rate, Count: 3, Period: 6 * hr})
	ca, cb := check(a, "client-1"), check(b, "client-1")

	h.wantAllow("1", true, states(st(4, 2*hr, 0, false), st(2, 2*hr, 0, false)), ca, cb)
	h.wantAllow("2", true, states(st(3, 4*hr, 0, false), st(1, 4*hr, 0, false)), ca, cb)
	h.wantAllow("3", true, states(st(2, 6*hr, 0, false), st(0, 6*hr, 0, false)), ca, cb)
	for range 5 {
		h.wantAllow("refused by b", false, states(st(2, 6*hr, 0, false), st(0, 6*hr, 2*hr, true)), ca, cb)
		h.wantAllow("refused by b, reversed", false, states(st(0, 6*hr, 2*hr, true), st(2, 6*hr, 0, false)), cb, ca)
	}
	h.wantPeek("a untouched", states(st(2, 6*hr, 0, false)), ca)
	h.wantAllow("a alone", true, states(st(1, 8*hr, 0, false)), ca)
	h.wantAllow("a alone", true, states(st(0, 10*hr, 0, false)), ca)
	h.wantAllow("a drained", false, states(st(0, 10*hr, 2*hr, true)), ca)
}

// multiRateAndQuota: a day quota refusing leaves the rate limit beside it
// untouched, and the next day both count again.
func multiRateAndQuota(t *testing.T, h *harness) {
	q := h.limit(ratelimit.Limit{Name: "day", Kind: ratelimit.Quota, Count: 2, Window: ratelimit.Day, Location: time.UTC})
	r := h.limit(ratelimit.Limit{Name: "burst", Kind: ratelimit.Rate, Count: 10, Period: 10 * time.Second})
	cq, cr := check(q, "app-1"), check(r, "app-1")
	h.advanceTo(time.Date(h.clock.Now().Year()+1, 1, 10, 12, 0, 0, 0, time.UTC))
	h.wantAllow("1", true, states(st(1, 12*time.Hour, 0, false), st(9, time.Second, 0, false)), cq, cr)
	h.wantAllow("2", true, states(st(0, 12*time.Hour, 0, false), st(8, 2*time.Second, 0, false)), cq, cr)
	h.wantAllow("quota spent", false, states(st(0, 12*time.Hour, 12*time.Hour, true), st(8, 2*time.Second, 0, false)), cq, cr)
	h.advance(time.Hour)
	for range 20 {
		h.wantAllow("quota spent, rate full", false, states(st(0, 11*time.Hour, 11*time.Hour, true), st(10, 0, 0, false)), cq, cr)
	}
	h.advance(11 * time.Hour)
	h.wantAllow("next day", true, states(st(1, 24*time.Hour, 0, false), st(9, time.Second, 0, false)), cq, cr)
}

// multiListedTwice: a limit listed twice in one request is charged
// twice, and the second listing sees the first's charge.
func multiListedTwice(t *testing.T, h *harness) {
	hr := time.Hour
	a := h.limit(ratelimit.Limit{Name: "twice", Kind: ratelimit.Rate, Count: 3, Period: 30 * hr})
	c := check(a, "client-1")
	h.wantAllow("first", true, states(st(2, 10*hr, 0, false), st(1, 20*hr, 0, false)), c, c)
	// One unit is left, the request needs two: refused, nothing taken.
	h.wantAllow("second", false, states(st(1, 20*hr, 0, false), st(0, 30*hr, 10*hr, true)), c, c)
	h.wantPeek("one left", states(st(1, 20*hr, 0, false)), c)
	h.wantAllow("single", true, states(st(0, 30*hr, 0, false)), c)
}

// multiSharedName: state belongs to the limit's name, so a limit rebuilt
// by a configuration reload keeps counting where the old one stopped.
func multiSharedName(t *testing.T, h *harness) {
	old := h.limit(ratelimit.Limit{Name: "plan", Kind: ratelimit.Rate, Count: 3, Period: 30 * time.Hour})
	reloaded := *old
	if got := h.allowN(2, check(old, "client-1")); got != 2 {
		t.Fatalf("admitted %d, want 2", got)
	}
	h.wantAllow("reloaded", true, states(st(0, 30*time.Hour, 0, false)), check(&reloaded, "client-1"))
	h.wantAllow("reloaded drained", false, states(st(0, 30*time.Hour, 10*time.Hour, true)), check(old, "client-1"))
}

// hammer runs workers×each Allow calls of the check lists in lists
// (worker i uses lists[i%len(lists)]) concurrently and returns how many
// were admitted.
func hammer(t *testing.T, h *harness, workers, each int, lists ...[]ratelimit.Check) int64 {
	t.Helper()
	var (
		admitted atomic.Int64
		wg       sync.WaitGroup
		start    = make(chan struct{})
	)
	for w := range workers {
		checks := lists[w%len(lists)]
		wg.Go(func() {
			<-start
			out := make([]ratelimit.State, len(checks))
			for range each {
				ok, err := h.b.Allow(context.Background(), checks, h.clock.Now(), out)
				if err != nil {
					t.Errorf("Allow: %v", err)
					return
				}
				if ok {
					admitted.Add(1)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	return admitted.Load()
}

// concurrentOneKey: 8 callers × 40 requests on a burst of 50 admit 50.
func concurrentOneKey(t *testing.T, h *harness) {
	l := h.limit(ratelimit.Limit{Name: "hot", Kind: ratelimit.Rate, Count: 50, Period: 500 * time.Hour})
	c := check(l, "client-1")
	if got := hammer(t, h, 8, 40, []ratelimit.Check{c}); got != 50 {
		t.Errorf("admitted %d, want exactly 50", got)
	}
	h.wantPeek("drained", states(st(0, 500*time.Hour, 10*time.Hour, true)), c)
}

// concurrentSeveralLimits: callers checking A (50) and B (30) in both
// orders admit exactly 30, and A has given exactly 30: rejected requests
// took nothing even under contention.
func concurrentSeveralLimits(t *testing.T, h *harness) {
	a := h.limit(ratelimit.Limit{Name: "a", Kind: ratelimit.Rate, Count: 50, Period: 500 * time.Hour})
	b := h.limit(ratelimit.Limit{Name: "b", Kind: ratelimit.Rate, Count: 30, Period: 300 * time.Hour})
	ca, cb := check(a, "client-1"), check(b, "client-1")
	if got := hammer(t, h, 8, 40, []ratelimit.Check{ca, cb}, []ratelimit.Check{cb, ca}); got != 30 {
		t.Errorf("admitted %d, want exactly 30", got)
	}
	h.wantPeek("a gave 30", states(st(20, 300*time.Hour, 0, false)), ca)
	h.wantPeek("b drained", states(st(0, 300*time.Hour, 10*time.Hour, true)), cb)
}

// concurrentRollingQuota: 8 callers × 40 requests on a quota of 100
// admit 100.
func concurrentRollingQuota(t *testing.T, h *harness) {
	l := h.limit(ratelimit.Limit{Name: "q", Kind: ratelimit.Quota, Count: 100, Period: 100 * time.Hour, Rolling: true})
	c := check(l, "client-1")
	if got := hammer(t, h, 8, 40, []ratelimit.Check{c}); got != 100 {
		t.Errorf("admitted %d, want exactly 100", got)
	}
}
