package ratelimit

// The algorithms, as pure functions on integer state. Memory calls them
// directly; the Redis Lua script mirrors them line for line, so every
// formula is spelled out here and any change must be made in both places
// (the shared suite in ratelimittest catches a divergence).
//
// All times are integer nanoseconds since the Unix epoch and all
// durations integer nanoseconds; nothing is rounded except where stated.
// Only differences between times matter, so a mirror may shift its
// origin (Lua numbers are doubles, exact only to 2^53) as long as it keeps
// nanosecond or at least the same integer resolution for T.
//
// GCRA (Rate, and Quota with Rolling)
//
//	T  = ceil(Period / Count)          emission interval, ≥ 1
//	B  = Burst, or Count when Burst is 0 (a rolling quota: B = Count)
//	τ  = T·(B−1)                       tolerance
//	L  = T·B = τ + T                   horizon: the TAT of a key just drained
//	state: TAT (theoretical arrival time); a missing key means TAT = now
//
//	one request at now:
//	  tat = max(TAT, now)
//	  admit ⇔ tat − now ≤ τ
//	  admitted: TAT' = tat + T
//	            Remaining  = floor((L − (TAT' − now)) / T)
//	            Reset      = TAT' − now              (until back to full)
//	            RetryAfter = 0
//	  denied:   TAT unchanged
//	            Remaining  = 0
//	            Reset      = tat − now
//	            RetryAfter = tat − τ − now           (> 0)
//
//	peek at now (nothing written):
//	  d = max(TAT, now) − now
//	  Remaining = max(0, floor((L − d) / T)), Reset = d,
//	  RetryAfter = max(0, d − τ), Denied ⇔ d > τ
//
// Remaining is exactly the number of further requests admitted if they
// all arrived at now; RetryAfter is exactly the wait after which one is.
// Ceiling T errs on the strict side: the long-run rate never exceeds
// Count per Period. Over any interval of length D the admitted count is at
// most B + floor(D/T) (FuzzGCRA checks it), so a rate has no window edges
// at which twice the burst gets through. A key whose TAT ≤ now is back to
// full and is dropped: it costs nothing until it is used again.
//
// Calendar quota (Quota without Rolling)
//
//	[start, end) = the Window containing now in Location (see WindowBounds)
//	state: (start, end, count); a state whose [start, end) does not
//	contain now is count = 0 in the current window
//
//	one request at now:
//	  admit ⇔ count < Count
//	  admitted: count' = count + 1, Remaining = Count − count'
//	  denied:   count unchanged, Remaining = 0, RetryAfter = end − now
//	  Reset = end − now in both cases
//
//	peek at now: Remaining = max(0, Count − count), Reset = end − now,
//	  RetryAfter = end − now when count ≥ Count (else 0),
//	  Denied ⇔ count ≥ Count
//
// A key whose window has ended (now ≥ end) is dropped. Burst and Period
// are ignored by a calendar quota.
//
// Several checks in one request
//
// Every check is evaluated first without writing, each against the state
// as it would be after the checks before it in the same request (so a
// limit listed twice counts twice). Only when every check admits is the
// new state of each written; otherwise nothing is written, and a rejected
// request consumes nothing from any limit. On such a rejection the states
// of the checks that did admit are their peek states (nothing was
// consumed) and the refusing checks carry Denied.

import (
	"errors"
	"fmt"
	"time"
)

// ErrInvalidCheck reports a check that cannot be evaluated: no limit, a
// limit that is not well formed, states of the wrong length or a time out
// of range. Nothing is consumed. It is not a backend failure: OnError does
// not apply, the caller has a bug or a bad configuration.
var ErrInvalidCheck = errors.New("ratelimit: invalid check")

const (
	// maxHorizon bounds L = T·B (about 36.5 years), so that now + L never
	// overflows an int64 for any now up to maxNow.
	maxHorizon = int64(1) << 60
	// maxNow is the latest time accepted (about the year 2188); with
	// maxHorizon it keeps every sum below 2^63.
	maxNow = int64(1)<<62 + int64(1)<<61
)

// Validate reports whether l can be evaluated, with an error wrapping
// ErrInvalidCheck when it cannot. The limit's Name is part of its state's
// key, so it must not be empty.
func (l *Limit) Validate() error {
	if l == nil {
		return fmt.Errorf("%w: no limit", ErrInvalidCheck)
	}
	if l.Name == "" {
		return fmt.Errorf("%w: limit has no name", ErrInvalidCheck)
	}
	if l.Count <= 0 {
		return fmt.Errorf("%w: limit %q: count must be positive", ErrInvalidCheck, l.Name)
	}
	switch l.Kind {
	case Rate:
		if l.Burst < 0 {
			return fmt.Errorf("%w: limit %q: burst must not be negative", ErrInvalidCheck, l.Name)
		}
	case Quota:
		if !l.Rolling {
			if l.Window < Minute || l.Window > Month {
				return fmt.Errorf("%w: limit %q: unknown quota window %d", ErrInvalidCheck, l.Name, l.Window)
			}
			return nil
		}
	default:
		return fmt.Errorf("%w: limit %q: unknown kind %d", ErrInvalidCheck, l.Name, l.Kind)
	}
	if l.Period <= 0 {
		return fmt.Errorf("%w: limit %q: period must be positive", ErrInvalidCheck, l.Name)
	}
	t, b := l.gcra()
	if b > maxHorizon/t {
		return fmt.Errorf("%w: limit %q: period times burst exceeds %v", ErrInvalidCheck, l.Name, time.Duration(maxHorizon))
	}
	return nil
}

// ValidateChecks validates every check's limit and that states has one
// slot per check; the error wraps ErrInvalidCheck and never contains a
// key (keys hold client ids and addresses). Backends call it before
// touching any state.
func ValidateChecks(checks []Check, states []State) error {
	if len(states) != len(checks) {
		return fmt.Errorf("%w: %d states for %d checks", ErrInvalidCheck, len(states), len(checks))
	}
	for i := range checks {
		if err := checks[i].Limit.Validate(); err != nil {
			return fmt.Errorf("check %d: %w", i, err)
		}
	}
	return nil
}

// unixNano returns now in nanoseconds, or an error for a time the
// arithmetic cannot hold (before 1970 or after maxNow), such as a zero
// time.Time from a caller that forgot to set it.
func unixNano(now time.Time) (int64, error) {
	if s := now.Unix(); s < 0 || s >= maxNow/int64(time.Second) {
		return 0, fmt.Errorf("%w: time %s out of range", ErrInvalidCheck, now.UTC().Format(time.RFC3339))
	}
	return now.UnixNano(), nil
}

// IsGCRA reports whether l is evaluated by GCRA (a Rate or a rolling
// Quota) rather than counted in a calendar window.
func (l *Limit) IsGCRA() bool { return l.Kind == Rate || l.Rolling }

// Interval returns the GCRA emission interval T = ceil(Period/Count) of a
// valid GCRA limit (zero for a calendar quota).
func (l *Limit) Interval() time.Duration {
	if !l.IsGCRA() {
		return 0
	}
	t, _ := l.gcra()
	return time.Duration(t)
}

// EffectiveBurst returns B: Burst, or Count when Burst is zero, for a
// Rate; Count for a rolling Quota; zero for a calendar quota.
func (l *Limit) EffectiveBurst() int64 {
	if !l.IsGCRA() {
		return 0
	}
	_, b := l.gcra()
	return b
}

// gcra returns T and B in nanoseconds and units for a validated GCRA
// limit.
func (l *Limit) gcra() (t, b int64) {
	p, c := int64(l.Period), l.Count
	t = p / c
	if p%c != 0 { // also when Period < Count: t is at least 1
		t++
	}
	b = c
	if l.Kind == Rate && l.Burst > 0 {
		b = l.Burst
	}
	return t, b
}

// GCRA decides one request at now against a key whose theoretical arrival
// time is tat (pass now, or any time ≤ now, for a key with no state), for
// emission interval t > 0 and burst b > 0. It returns the TAT to store
// when the request is admitted (st.Denied false) and the limit's state;
// when denied, next is tat and nothing should be stored. See the formulas
// at the top of this file.
func GCRA(tat, now, t, b int64) (next int64, st State) {
	tau := t * (b - 1)
	tat = max(tat, now)
	if d := tat - now; d > tau {
		return tat, State{
			Reset:      time.Duration(d),
			RetryAfter: time.Duration(d - tau),
			Denied:     true,
		}
	}
	next = tat + t
	d := next - now
	return next, State{
		Remaining: (t*b - d) / t,
		Reset:     time.Duration(d),
	}
}

// PeekGCRA returns the state of a GCRA key at now without a request: how
// many would be admitted now, when it is full again and how long until
// one is admitted.
func PeekGCRA(tat, now, t, b int64) State {
	tau := t * (b - 1)
	d := max(tat, now) - now
	st := State{Remaining: max(0, (t*b-d)/t), Reset: time.Duration(d)}
	if d > tau {
		st.RetryAfter = time.Duration(d - tau)
		st.Denied = true
	}
	return st
}

// CalendarQuota decides one request at now against a calendar quota of
// limit per window, where count requests were already admitted in the
// window that ends at end (the caller resets count to zero when now is
// not in the stored window). It returns the count to store when admitted.
func CalendarQuota(count, limit, end, now int64) (next int64, st State) {
	left := time.Duration(end - now)
	if count >= limit {
		return count, State{Reset: left, RetryAfter: left, Denied: true}
	}
	return count + 1, State{Remaining: limit - count - 1, Reset: left}
}

// PeekCalendarQuota returns the state of a calendar quota at now without
// a request.
func PeekCalendarQuota(count, limit, end, now int64) State {
	left := time.Duration(end - now)
	if count >= limit {
		return State{Reset: left, RetryAfter: left, Denied: true}
	}
	return State{Remaining: limit - count, Reset: left}
}

// WindowBounds returns the calendar window w of location loc (UTC when
// nil) that contains now: start ≤ now < end. Consecutive windows tile
// time: the end of one is the start of the next.
//
// A minute or an hour starts where the local clock shows :00 (or :00:00),
// found by subtracting the local minutes and seconds from now, so an hour
// lasts an hour across a daylight saving change (London's repeated hour is
// two windows) and zones with half-hour offsets (Asia/Kolkata) get their
// local hours. Where an offset changes by a fraction of the window (Lord
// Howe's 30-minute change), the window is cut at the change so windows
// still tile. A day starts at local midnight and a month at 00:00 on its
// first local day, both built with time.Date in loc, so a day is 23 or 25
// hours long across a daylight saving change. Where local midnight does
// not exist (a change at 00:00, as in Santiago), time.Date may pick either
// side of the gap; the windows are then re-anchored so that they still
// tile and contain now.
func WindowBounds(w Window, loc *time.Location, now time.Time) (start, end time.Time) {
	if loc == nil {
		loc = time.UTC
	}
	local := now.In(loc)
	switch w {
	case Minute, Hour:
		into, length := time.Duration(local.Second())*time.Second+time.Duration(local.Nanosecond()), time.Minute
		if w == Hour {
			into, length = into+time.Duration(local.Minute())*time.Minute, time.Hour
		}
		start = now.Add(-into)
		end = start.Add(length)
		// Cut at offset changes, which a local :00 does not line up with
		// when the change is not a whole number of windows.
		if zs, ze := local.ZoneBounds(); !zs.IsZero() || !ze.IsZero() {
			if !zs.IsZero() && start.Before(zs) {
				start = zs
			}
			if !ze.IsZero() && ze.Before(end) {
				end = ze
			}
		}
		return start, end
	case Day:
		y, m, d := local.Date()
		return anchor(now, func(i int) time.Time { return time.Date(y, m, d+i, 0, 0, 0, 0, loc) })
	case Month:
		y, m, _ := local.Date()
		return anchor(now, func(i int) time.Time { return time.Date(y, m+time.Month(i), 1, 0, 0, 0, 0, loc) })
	}
	// Validate rejects other windows; a zero-length window here would
	// only ever deny.
	return now, now
}

// anchor returns [at(i), at(i+1)) containing now, starting from i = 0
// (the window of now's local date) and moving at most a step or two
// when a skipped local midnight put now on the other side of a bound.
func anchor(now time.Time, at func(i int) time.Time) (start, end time.Time) {
	i := 0
	start, end = at(0), at(1)
	for !now.Before(end) {
		i++
		start, end = end, at(i+1)
	}
	for now.Before(start) {
		i--
		start, end = at(i), start
	}
	return start, end
}
