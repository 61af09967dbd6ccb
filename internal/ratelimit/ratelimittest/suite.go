// Package ratelimittest holds the behaviour every ratelimit.Backend must
// share, written once as a table of cases that RunBackendSuite runs
// against a backend, and the clocks that drive it. The memory and Redis
// backends both run it, so "two backends, one behaviour" is checked rather
// than hoped for.
//
// It is imported by tests only and must never be imported by production
// code. Time moves only through a Clock, never by sleeping.
package ratelimittest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	// The cases need Europe/London, Asia/Kolkata and America/New_York
	// wherever the tests run, with or without a system zoneinfo.
	_ "time/tzdata"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/ratelimit"
)

// suiteCase is one behaviour of the shared table.
type suiteCase struct {
	name string
	// fakeTime marks a case that needs Advance to move the backend's
	// time, or exact Reset and RetryAfter values; it is skipped on a
	// clock that cannot fake time.
	fakeTime bool
	run      func(t *testing.T, h *harness)
}

// RunBackendSuite runs the shared behaviour table against a backend.
// newBackend is called once per case and returns a fresh backend and the
// clock the case drives it with; a clock implementing TimeFaker with
// CanFakeTime false gets the cases that need time to move skipped.
//
// Limit names are made unique per case (a random prefix), so a backend on
// a shared server need not be emptied between cases. The times a case
// moves to are computed from the clock's Now, always forward.
func RunBackendSuite(t *testing.T, newBackend func(t *testing.T) (ratelimit.Backend, Clock)) {
	t.Helper()
	var cases []suiteCase
	cases = append(cases, rateCases()...)
	cases = append(cases, quotaCases()...)
	cases = append(cases, multiCases()...)
	cases = append(cases, inputCases()...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, clock := newBackend(t)
			fake := true
			if f, ok := clock.(TimeFaker); ok {
				fake = f.CanFakeTime()
			}
			if tc.fakeTime && !fake {
				t.Skip("needs a clock that moves the backend's time")
			}
			tc.run(t, &harness{t: t, b: b, clock: clock, fake: fake, prefix: uniquePrefix(t)})
		})
	}
}

// uniquePrefix returns a random limit-name prefix in [a-z0-9].
func uniquePrefix(t *testing.T) string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("random prefix: %v", err)
	}
	return "t" + hex.EncodeToString(b[:])
}

// harness drives one backend in one case.
type harness struct {
	t      *testing.T
	b      ratelimit.Backend
	clock  Clock
	fake   bool
	prefix string
}

// limit returns l with its name made unique to this case.
func (h *harness) limit(l ratelimit.Limit) *ratelimit.Limit {
	l.Name = h.prefix + "-" + l.Name
	return &l
}

// allow makes one request and fails the test on an error.
func (h *harness) allow(checks ...ratelimit.Check) (bool, []ratelimit.State) {
	h.t.Helper()
	states := make([]ratelimit.State, len(checks))
	ok, err := h.b.Allow(context.Background(), checks, h.clock.Now(), states)
	if err != nil {
		h.t.Fatalf("Allow: %v", err)
	}
	return ok, states
}

// allowN makes n requests at the current time and returns how many were
// admitted.
func (h *harness) allowN(n int, checks ...ratelimit.Check) int {
	h.t.Helper()
	admitted := 0
	for range n {
		if ok, _ := h.allow(checks...); ok {
			admitted++
		}
	}
	return admitted
}

// peek reads the states of checks and fails the test on an error.
func (h *harness) peek(checks ...ratelimit.Check) []ratelimit.State {
	h.t.Helper()
	states := make([]ratelimit.State, len(checks))
	if err := h.b.Peek(context.Background(), checks, h.clock.Now(), states); err != nil {
		h.t.Fatalf("Peek: %v", err)
	}
	return states
}

// advance moves the clock forward by d.
func (h *harness) advance(d time.Duration) {
	h.t.Helper()
	if d < 0 {
		h.t.Fatalf("advance by %v: the suite only moves forward", d)
	}
	h.clock.Advance(d)
}

// advanceTo moves the clock forward to at.
func (h *harness) advanceTo(at time.Time) {
	h.t.Helper()
	h.advance(at.Sub(h.clock.Now()))
}

// wantAllow makes one request and compares the decision and the states.
func (h *harness) wantAllow(step string, wantOK bool, want []ratelimit.State, checks ...ratelimit.Check) {
	h.t.Helper()
	ok, got := h.allow(checks...)
	if ok != wantOK {
		h.t.Errorf("%s: Allow = %v, want %v (states %+v)", step, ok, wantOK, got)
	}
	h.wantStates(step, got, want)
}

// wantPeek peeks and compares the states.
func (h *harness) wantPeek(step string, want []ratelimit.State, checks ...ratelimit.Check) {
	h.t.Helper()
	h.wantStates(step+": peek", h.peek(checks...), want)
}

// wantStates compares states exactly when time is faked. On real time
// Remaining and Denied must still be exact, and Reset and RetryAfter must
// be positive exactly when the wanted ones are: the rest depends on how
// long the calls took.
func (h *harness) wantStates(step string, got, want []ratelimit.State) {
	h.t.Helper()
	if h.fake {
		if diff := cmp.Diff(want, got); diff != "" {
			h.t.Errorf("%s: states mismatch (-want +got):\n%s", step, diff)
		}
		return
	}
	sign := func(s []ratelimit.State) []ratelimit.State {
		out := make([]ratelimit.State, len(s))
		for i, st := range s {
			out[i] = ratelimit.State{
				Remaining:  st.Remaining,
				Reset:      min(st.Reset, 1),
				RetryAfter: min(st.RetryAfter, 1),
				Denied:     st.Denied,
			}
		}
		return out
	}
	if diff := cmp.Diff(sign(want), sign(got)); diff != "" {
		h.t.Errorf("%s: states mismatch, Reset and RetryAfter as signs (-want +got):\n%s", step, diff)
	}
}

// st builds a State tersely for the tables.
func st(remaining int64, reset, retryAfter time.Duration, denied bool) ratelimit.State {
	return ratelimit.State{Remaining: remaining, Reset: reset, RetryAfter: retryAfter, Denied: denied}
}

// states builds a []State.
func states(s ...ratelimit.State) []ratelimit.State { return s }

// check builds a Check.
func check(l *ratelimit.Limit, key string) ratelimit.Check {
	return ratelimit.Check{Limit: l, Key: key}
}

// mustLoad loads a time zone or fails the test.
func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return loc
}
