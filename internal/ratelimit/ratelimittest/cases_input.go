package ratelimittest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/ratelimit"
)

// inputCases are the behaviours on bad and empty input.
func inputCases() []suiteCase {
	return []suiteCase{
		{name: "input/invalid checks are refused and change nothing", run: inputInvalid},
		{name: "input/no checks admit", run: inputNoChecks},
	}
}

// inputInvalid: every malformed request returns an error wrapping
// ErrInvalidCheck (not ErrBackend: OnError must not turn a bug into an
// admission), admits nothing and consumes nothing from the valid check
// beside it.
func inputInvalid(t *testing.T, h *harness) {
	valid := h.limit(ratelimit.Limit{Name: "valid", Kind: ratelimit.Rate, Count: 2, Period: 20 * time.Hour})
	good := check(valid, "client-1")
	bad := func(l ratelimit.Limit) ratelimit.Check {
		if l.Name != "" {
			l.Name = h.prefix + "-" + l.Name
		}
		return check(&l, "client-1")
	}
	tests := []struct {
		name    string
		checks  []ratelimit.Check
		nStates int
	}{
		{name: "no limit", checks: []ratelimit.Check{good, {Key: "client-1"}}},
		{name: "no name", checks: []ratelimit.Check{good, bad(ratelimit.Limit{Kind: ratelimit.Rate, Count: 1, Period: time.Second})}},
		{name: "zero count", checks: []ratelimit.Check{good, bad(ratelimit.Limit{Name: "x", Kind: ratelimit.Rate, Period: time.Second})}},
		{name: "negative count", checks: []ratelimit.Check{good, bad(ratelimit.Limit{Name: "x", Kind: ratelimit.Rate, Count: -1, Period: time.Second})}},
		{name: "no kind", checks: []ratelimit.Check{good, bad(ratelimit.Limit{Name: "x", Count: 1, Period: time.Second})}},
		{name: "unknown kind", checks: []ratelimit.Check{good, bad(ratelimit.Limit{Name: "x", Kind: 9, Count: 1, Period: time.Second})}},
		{name: "rate without period", checks: []ratelimit.Check{good, bad(ratelimit.Limit{Name: "x", Kind: ratelimit.Rate, Count: 1})}},
		{name: "rate negative period", checks: []ratelimit.Check{good, bad(ratelimit.Limit{Name: "x", Kind: ratelimit.Rate, Count: 1, Period: -time.Second})}},
		{name: "rate negative burst", checks: []ratelimit.Check{good, bad(ratelimit.Limit{Name: "x", Kind: ratelimit.Rate, Count: 1, Period: time.Second, Burst: -1})}},
		{name: "rolling quota without period", checks: []ratelimit.Check{good, bad(ratelimit.Limit{Name: "x", Kind: ratelimit.Quota, Count: 1, Rolling: true})}},
		{name: "calendar quota without window", checks: []ratelimit.Check{good, bad(ratelimit.Limit{Name: "x", Kind: ratelimit.Quota, Count: 1})}},
		{name: "calendar quota unknown window", checks: []ratelimit.Check{good, bad(ratelimit.Limit{Name: "x", Kind: ratelimit.Quota, Count: 1, Window: 9})}},
		{name: "too few states", checks: []ratelimit.Check{good, good}, nStates: 1},
		{name: "too many states", checks: []ratelimit.Check{good}, nStates: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := len(tt.checks)
			if tt.nStates != 0 {
				n = tt.nStates
			}
			ok, err := h.b.Allow(context.Background(), tt.checks, h.clock.Now(), make([]ratelimit.State, n))
			if ok || !errors.Is(err, ratelimit.ErrInvalidCheck) {
				t.Errorf("Allow = %v, %v; want false and an error wrapping ErrInvalidCheck", ok, err)
			}
			if errors.Is(err, ratelimit.ErrBackend) {
				t.Errorf("Allow error %v wraps ErrBackend; bad input is not a backend failure", err)
			}
			err = h.b.Peek(context.Background(), tt.checks, h.clock.Now(), make([]ratelimit.State, n))
			if !errors.Is(err, ratelimit.ErrInvalidCheck) {
				t.Errorf("Peek = %v; want an error wrapping ErrInvalidCheck", err)
			}
		})
	}
	h.wantPeek("valid limit untouched", states(st(2, 0, 0, false)), good)
}

// inputNoChecks: a request under no limit is admitted.
func inputNoChecks(t *testing.T, h *harness) {
	ok, err := h.b.Allow(context.Background(), nil, h.clock.Now(), nil)
	if !ok || err != nil {
		t.Errorf("Allow(no checks) = %v, %v; want true, nil", ok, err)
	}
	if err := h.b.Peek(context.Background(), nil, h.clock.Now(), nil); err != nil {
		t.Errorf("Peek(no checks) = %v; want nil", err)
	}
}
