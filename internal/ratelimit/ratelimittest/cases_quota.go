package ratelimittest

import (
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/ratelimit"
)

// calendarCase is one calendar window to count through: the expected
// durations are written out by hand, not computed by the code under
// test.
type calendarCase struct {
	name   string
	window ratelimit.Window
	zone   string // "" leaves Location nil, which means UTC
	// at is when the case starts, in a year after the clock's.
	at func(year int, loc *time.Location) time.Time
	// reset is from at to the end of its window; next is the length of
	// the window after it.
	reset, next time.Duration
}

const day = 24 * time.Hour

// calendarCases cover every window, zones with whole- and half-hour
// offsets, and both daylight saving changes of Europe/London (where a
// day lasts 23 or 25 hours).
var calendarCases = []calendarCase{
	{
		name: "minute utc", window: ratelimit.Minute, zone: "UTC",
		at: func(y int, loc *time.Location) time.Time {
			return time.Date(y, 1, 10, 12, 34, 56, 500_000_000, loc)
		},
		reset: 3500 * time.Millisecond, next: time.Minute,
	},
	{
		name: "hour utc", window: ratelimit.Hour, zone: "UTC",
		at:    func(y int, loc *time.Location) time.Time { return time.Date(y, 1, 10, 12, 20, 0, 0, loc) },
		reset: 40 * time.Minute, next: time.Hour,
	},
	{
		// UTC+5:30: the local hour ends at :30 UTC, so truncating in UTC
		// would say 20 minutes.
		name: "hour kolkata", window: ratelimit.Hour, zone: "Asia/Kolkata",
		at:    func(y int, loc *time.Location) time.Time { return time.Date(y, 1, 10, 12, 10, 0, 0, loc) },
		reset: 50 * time.Minute, next: time.Hour,
	},
	{
		name: "day nil location is utc", window: ratelimit.Day, zone: "",
		at:    func(y int, loc *time.Location) time.Time { return time.Date(y, 1, 10, 18, 0, 0, 0, time.UTC) },
		reset: 6 * time.Hour, next: day,
	},
	{
		name: "day new york", window: ratelimit.Day, zone: "America/New_York",
		at:    func(y int, loc *time.Location) time.Time { return time.Date(y, 1, 10, 18, 0, 0, 0, loc) },
		reset: 6 * time.Hour, next: day,
	},
	{
		name: "day london before spring forward", window: ratelimit.Day, zone: "Europe/London",
		at: func(y int, loc *time.Location) time.Time {
			d := lastSunday(y, time.March)
			return time.Date(y, time.March, d-1, 12, 0, 0, 0, loc)
		},
		reset: 12 * time.Hour, next: 23 * time.Hour,
	},
	{
		name: "day london spring forward", window: ratelimit.Day, zone: "Europe/London",
		at: func(y int, loc *time.Location) time.Time {
			return time.Date(y, time.March, lastSunday(y, time.March), 0, 30, 0, 0, loc)
		},
		reset: 22*time.Hour + 30*time.Minute, next: day,
	},
	{
		name: "day london fall back", window: ratelimit.Day, zone: "Europe/London",
		at: func(y int, loc *time.Location) time.Time {
			return time.Date(y, time.October, lastSunday(y, time.October), 0, 30, 0, 0, loc)
		},
		reset: 24*time.Hour + 30*time.Minute, next: day,
	},
	{
		name: "month london", window: ratelimit.Month, zone: "Europe/London",
		at:    func(y int, loc *time.Location) time.Time { return time.Date(y, 11, 30, 18, 0, 0, 0, loc) },
		reset: 6 * time.Hour, next: 31 * day,
	},
	{
		// March in London loses an hour; April is all summer time.
		name: "month london with spring forward", window: ratelimit.Month, zone: "Europe/London",
		at:    func(y int, loc *time.Location) time.Time { return time.Date(y, 3, 1, 1, 0, 0, 0, loc) },
		reset: 31*day - 2*time.Hour, next: 30 * day,
	},
}

// quotaCases are the calendar and rolling quota behaviours.
func quotaCases() []suiteCase {
	var cases []suiteCase
	for _, cc := range calendarCases {
		cases = append(cases, suiteCase{
			name:     "quota/calendar " + cc.name,
			fakeTime: true,
			run:      func(t *testing.T, h *harness) { quotaCalendar(t, h, cc) },
		})
	}
	return append(cases,
		suiteCase{name: "quota/rolling refills continuously", fakeTime: true, run: quotaRollingRefill},
		suiteCase{name: "quota/rolling admits exactly count", run: quotaRollingCount},
		suiteCase{name: "quota/calendar ignores burst and period", fakeTime: true, run: quotaIgnoresBurst},
	)
}

// quotaCalendar: a quota of 3 admits exactly 3 in its window, refuses
// until the window's last nanosecond and admits again at the boundary.
func quotaCalendar(t *testing.T, h *harness, cc calendarCase) {
	var loc *time.Location
	if cc.zone != "" {
		loc = mustLoad(t, cc.zone)
	}
	l := h.limit(ratelimit.Limit{Name: "cal", Kind: ratelimit.Quota, Count: 3, Window: cc.window, Location: loc})
	c := check(l, "client-1")
	h.advanceTo(cc.at(h.clock.Now().Year()+1, loc))
	h.wantPeek("fresh", states(st(3, cc.reset, 0, false)), c)
	for i := range int64(3) {
		h.wantAllow("within quota", true, states(st(2-i, cc.reset, 0, false)), c)
	}
	h.wantAllow("over quota", false, states(st(0, cc.reset, cc.reset, true)), c)
	h.advance(cc.reset - 1)
	h.wantAllow("last nanosecond", false, states(st(0, 1, 1, true)), c)
	h.advance(1)
	h.wantAllow("next window", true, states(st(2, cc.next, 0, false)), c)
}

// quotaRollingRefill: 4 per hour rolling admits 4, then one every 15
// minutes; a calendar boundary in between changes nothing.
func quotaRollingRefill(t *testing.T, h *harness) {
	l := h.limit(ratelimit.Limit{Name: "roll", Kind: ratelimit.Quota, Count: 4, Period: time.Hour, Rolling: true})
	c := check(l, "client-1")
	m := time.Minute
	h.advanceTo(h.clock.Now().Truncate(time.Hour).Add(2*time.Hour - m))
	for i := range int64(4) {
		h.wantAllow("within quota", true, states(st(3-i, time.Duration(i+1)*15*m, 0, false)), c)
	}
	h.wantAllow("over quota", false, states(st(0, 60*m, 15*m, true)), c)
	h.advance(2 * m) // past the hour: a calendar quota would reset here
	h.wantAllow("past the hour", false, states(st(0, 58*m, 13*m, true)), c)
	h.advance(13 * m)
	h.wantAllow("refilled one", true, states(st(0, 60*m, 0, false)), c)
	h.wantPeek("drained again", states(st(0, 60*m, 15*m, true)), c)
	h.advance(time.Hour)
	h.wantPeek("full", states(st(4, 0, 0, false)), c)
}

// quotaRollingCount: a rolling quota admits exactly Count at once.
func quotaRollingCount(t *testing.T, h *harness) {
	l := h.limit(ratelimit.Limit{Name: "rollc", Kind: ratelimit.Quota, Count: 5, Period: 50 * time.Hour, Rolling: true})
	c := check(l, "client-1")
	if got := h.allowN(8, c); got != 5 {
		t.Errorf("admitted %d, want 5", got)
	}
	h.wantPeek("drained", states(st(0, 50*time.Hour, 10*time.Hour, true)), c)
}

// quotaIgnoresBurst: Burst and Period mean nothing to a calendar quota.
func quotaIgnoresBurst(t *testing.T, h *harness) {
	l := h.limit(ratelimit.Limit{
		Name: "cal-burst", Kind: ratelimit.Quota, Count: 2, Window: ratelimit.Hour,
		Burst: 50, Period: time.Second, Location: time.UTC,
	})
	c := check(l, "client-1")
	h.advanceTo(h.clock.Now().Truncate(time.Hour).Add(90 * time.Minute))
	if got := h.allowN(10, c); got != 2 {
		t.Errorf("admitted %d, want 2", got)
	}
	h.advance(10 * time.Second)
	h.wantAllow("still the same hour", false, states(st(0, 30*time.Minute-10*time.Second, 30*time.Minute-10*time.Second, true)), c)
}

// lastSunday returns the day of month of the last Sunday of month m,
// the day Europe/London changes clocks in March and October.
func lastSunday(y int, m time.Month) int {
	d := time.Date(y, m+1, 0, 12, 0, 0, 0, time.UTC) // last day of m
	for d.Weekday() != time.Sunday {
		d = d.AddDate(0, 0, -1)
	}
	return d.Day()
}
