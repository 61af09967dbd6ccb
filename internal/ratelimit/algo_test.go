package ratelimit

import (
	"errors"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the zones below, with or without a system zoneinfo

	"github.com/google/go-cmp/cmp"
)

func TestGCRA(t *testing.T) {
	// T = 100, B = 3: τ = 200, L = 300.
	tests := []struct {
		name     string
		tat, now int64
		wantNext int64
		want     State
	}{
		{name: "no state", tat: 0, now: 1000, wantNext: 1100, want: State{Remaining: 2, Reset: 100}},
		{name: "tat now", tat: 1000, now: 1000, wantNext: 1100, want: State{Remaining: 2, Reset: 100}},
		{name: "one used", tat: 1100, now: 1000, wantNext: 1200, want: State{Remaining: 1, Reset: 200}},
		{name: "last one", tat: 1200, now: 1000, wantNext: 1300, want: State{Remaining: 0, Reset: 300}},
		{name: "drained", tat: 1300, now: 1000, wantNext: 1300, want: State{Reset: 300, RetryAfter: 100, Denied: true}},
		{name: "partly refilled", tat: 1150, now: 1000, wantNext: 1250, want: State{Remaining: 0, Reset: 250}},
		{name: "one ns short", tat: 1201, now: 1000, wantNext: 1201, want: State{Reset: 201, RetryAfter: 1, Denied: true}},
		{name: "clock stepped back", tat: 5000, now: 1000, wantNext: 5000, want: State{Reset: 4000, RetryAfter: 3800, Denied: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next, got := GCRA(tt.tat, tt.now, 100, 3)
			if next != tt.wantNext {
				t.Errorf("next = %d, want %d", next, tt.wantNext)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("state mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPeekGCRA(t *testing.T) {
	tests := []struct {
		name     string
		tat, now int64
		want     State
	}{
		{name: "full", tat: 0, now: 1000, want: State{Remaining: 3}},
		{name: "one used", tat: 1100, now: 1000, want: State{Remaining: 2, Reset: 100}},
		{name: "part of one used", tat: 1050, now: 1000, want: State{Remaining: 2, Reset: 50}},
		{name: "last one", tat: 1200, now: 1000, want: State{Remaining: 1, Reset: 200}},
		{name: "drained", tat: 1300, now: 1000, want: State{Reset: 300, RetryAfter: 100, Denied: true}},
		{name: "beyond the horizon", tat: 9000, now: 1000, want: State{Reset: 8000, RetryAfter: 7800, Denied: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, PeekGCRA(tt.tat, tt.now, 100, 3)); diff != "" {
				t.Errorf("state mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCalendarQuota(t *testing.T) {
	tests := []struct {
		name      string
		count     int64
		wantNext  int64
		want      State
		wantPeek  State
		wantAdmit bool
	}{
		{name: "empty", count: 0, wantNext: 1, want: State{Remaining: 2, Reset: 500}, wantPeek: State{Remaining: 3, Reset: 500}},
		{name: "last", count: 2, wantNext: 3, want: State{Remaining: 0, Reset: 500}, wantPeek: State{Remaining: 1, Reset: 500}},
		{name: "spent", count: 3, wantNext: 3, want: State{Reset: 500, RetryAfter: 500, Denied: true}, wantPeek: State{Reset: 500, RetryAfter: 500, Denied: true}},
		{name: "count lowered by a reload", count: 7, wantNext: 7, want: State{Reset: 500, RetryAfter: 500, Denied: true}, wantPeek: State{Reset: 500, RetryAfter: 500, Denied: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next, got := CalendarQuota(tt.count, 3, 1500, 1000)
			if next != tt.wantNext {
				t.Errorf("next = %d, want %d", next, tt.wantNext)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("state mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantPeek, PeekCalendarQuota(tt.count, 3, 1500, 1000)); diff != "" {
				t.Errorf("peek mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func mustLoadZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return loc
}

func TestWindowBounds(t *testing.T) {
	london, kolkata := mustLoadZone(t, "Europe/London"), mustLoadZone(t, "Asia/Kolkata")
	utc := time.UTC
	d := func(y int, m time.Month, day, h, min int, loc *time.Location) time.Time {
		return time.Date(y, m, day, h, min, 0, 0, loc)
	}
	tests := []struct {
		name       string
		w          Window
		loc        *time.Location
		now        time.Time
		start, end time.Time
	}{
		{"minute", Minute, utc, time.Date(2026, 1, 10, 12, 34, 56, 5e8, utc), d(2026, 1, 10, 12, 34, utc), d(2026, 1, 10, 12, 35, utc)},
		{"minute start", Minute, utc, d(2026, 1, 10, 12, 34, utc), d(2026, 1, 10, 12, 34, utc), d(2026, 1, 10, 12, 35, utc)},
		{"hour kolkata", Hour, kolkata, d(2026, 1, 10, 12, 10, kolkata), d(2026, 1, 10, 12, 0, kolkata), d(2026, 1, 10, 13, 0, kolkata)},
		{"hour london first 01:30", Hour, london, d(2026, 10, 25, 0, 30, utc), d(2026, 10, 25, 0, 0, utc), d(2026, 10, 25, 1, 0, utc)},
		{"hour london second 01:30", Hour, london, d(2026, 10, 25, 1, 30, utc), d(2026, 10, 25, 1, 0, utc), d(2026, 10, 25, 2, 0, utc)},
		{"day nil is utc", Day, nil, d(2026, 1, 10, 18, 0, utc), d(2026, 1, 10, 0, 0, utc), d(2026, 1, 11, 0, 0, utc)},
		{"day london spring forward", Day, london, d(2026, 3, 29, 0, 30, london), d(2026, 3, 29, 0, 0, utc), d(2026, 3, 29, 23, 0, utc)},
		{"day london fall back", Day, london, d(2026, 10, 25, 12, 0, london), d(2026, 10, 24, 23, 0, utc), d(2026, 10, 26, 0, 0, utc)},
		{"day london last ns", Day, london, d(2026, 3, 29, 23, 0, utc).Add(-1), d(2026, 3, 29, 0, 0, utc), d(2026, 3, 29, 23, 0, utc)},
		{"month london march", Month, london, d(2026, 3, 15, 12, 0, london), d(2026, 3, 1, 0, 0, utc), d(2026, 3, 31, 23, 0, utc)},
		{"month december", Month, utc, d(2026, 12, 31, 23, 59, utc), d(2026, 12, 1, 0, 0, utc), d(2027, 1, 1, 0, 0, utc)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start, end := WindowBounds(tt.w, tt.loc, tt.now)
			if !start.Equal(tt.start) || !end.Equal(tt.end) {
				t.Errorf("WindowBounds = [%v, %v), want [%v, %v)", start.UTC(), end.UTC(), tt.start.UTC(), tt.end.UTC())
			}
		})
	}
}

// TestWindowBoundsTile checks, through a year in zones with odd offsets
// and daylight saving changes at midnight (Santiago, Havana), that every
// window contains now and windows follow each other without gap or
// overlap.
func TestWindowBoundsTile(t *testing.T) {
	zones := []string{"UTC", "Europe/London", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham", "America/Santiago", "America/Havana", "Asia/Beirut"}
	lengths := map[Window]func(d time.Duration) bool{
		Minute: func(d time.Duration) bool { return d == time.Minute },
		// Changes off the hour (Lord Howe's 30 minutes, Chatham's at
		// 02:45) cut an hour in two; elsewhere an hour lasts an hour.
		Hour:  func(d time.Duration) bool { return d > 0 && d <= time.Hour },
		Day:   func(d time.Duration) bool { return d >= 22*time.Hour && d <= 26*time.Hour },
		Month: func(d time.Duration) bool { return d >= 27*24*time.Hour && d <= 32*24*time.Hour },
	}
	for _, zone := range zones {
		loc := mustLoadZone(t, zone)
		t.Run(zone, func(t *testing.T) {
			for _, w := range []Window{Minute, Hour, Day, Month} {
				bad := 0
				for now := time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC); now.Year() < 2023 && bad < 3; now = now.Add(37*time.Minute + 11*time.Second) {
					start, end := WindowBounds(w, loc, now)
					nextStart, _ := WindowBounds(w, loc, end)
					lastStart, lastEnd := WindowBounds(w, loc, end.Add(-1))
					switch {
					case now.Before(start) || !now.Before(end):
						t.Errorf("window %d at %v: [%v, %v) does not contain now", w, now, start, end)
					case !nextStart.Equal(end):
						t.Errorf("window %d at %v: ends %v but the next starts %v", w, now, end, nextStart)
					case !lastStart.Equal(start) || !lastEnd.Equal(end):
						t.Errorf("window %d at %v: its last ns is in [%v, %v)", w, now, lastStart, lastEnd)
					case !lengths[w](end.Sub(start)):
						t.Errorf("window %d at %v: [%v, %v) lasts %v", w, now, start, end, end.Sub(start))
					default:
						continue
					}
					bad++
				}
			}
		})
	}
}

func TestLimitValidate(t *testing.T) {
	tests := []struct {
		name    string
		l       *Limit
		wantErr bool
		wantT   time.Duration
		wantB   int64
	}{
		{name: "rate", l: &Limit{Name: "r", Kind: Rate, Count: 10, Period: time.Second, Burst: 5}, wantT: 100 * time.Millisecond, wantB: 5},
		{name: "rate default burst", l: &Limit{Name: "r", Kind: Rate, Count: 10, Period: time.Second}, wantT: 100 * time.Millisecond, wantB: 10},
		{name: "interval rounds up", l: &Limit{Name: "r", Kind: Rate, Count: 3, Period: time.Second}, wantT: 333333334, wantB: 3},
		{name: "more than one per ns", l: &Limit{Name: "r", Kind: Rate, Count: 5, Period: 2}, wantT: 1, wantB: 5},
		{name: "rolling quota ignores burst", l: &Limit{Name: "q", Kind: Quota, Count: 4, Period: time.Hour, Rolling: true, Burst: 9}, wantT: 15 * time.Minute, wantB: 4},
		{name: "calendar quota", l: &Limit{Name: "q", Kind: Quota, Count: 4, Window: Day}},
		{name: "nil", l: nil, wantErr: true},
		{name: "no name", l: &Limit{Kind: Rate, Count: 1, Period: time.Second}, wantErr: true},
		{name: "zero count", l: &Limit{Name: "r", Kind: Rate, Period: time.Second}, wantErr: true},
		{name: "no kind", l: &Limit{Name: "r", Count: 1, Period: time.Second}, wantErr: true},
		{name: "no period", l: &Limit{Name: "r", Kind: Rate, Count: 1}, wantErr: true},
		{name: "negative burst", l: &Limit{Name: "r", Kind: Rate, Count: 1, Period: time.Second, Burst: -2}, wantErr: true},
		{name: "no window", l: &Limit{Name: "q", Kind: Quota, Count: 1}, wantErr: true},
		{name: "window 5", l: &Limit{Name: "q", Kind: Quota, Count: 1, Window: 5}, wantErr: true},
		{name: "rolling without period", l: &Limit{Name: "q", Kind: Quota, Count: 1, Rolling: true}, wantErr: true},
		{name: "horizon too long", l: &Limit{Name: "r", Kind: Rate, Count: 1, Period: 50 * 365 * 24 * time.Hour}, wantErr: true},
		{name: "burst overflows", l: &Limit{Name: "r", Kind: Rate, Count: 1, Period: time.Hour, Burst: 1 << 62}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.l.Validate()
			if (err != nil) != tt.wantErr {
				t.Fatalf("Validate = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				if !errors.Is(err, ErrInvalidCheck) {
					t.Errorf("Validate = %v, want it to wrap ErrInvalidCheck", err)
				}
				return
			}
			if got := tt.l.Interval(); got != tt.wantT {
				t.Errorf("Interval = %v, want %v", got, tt.wantT)
			}
			if got := tt.l.EffectiveBurst(); got != tt.wantB {
				t.Errorf("EffectiveBurst = %d, want %d", got, tt.wantB)
			}
		})
	}
}

func TestValidateChecksKeepsKeysOut(t *testing.T) {
	const secretKey = "203.0.113.7|alice@example.com"
	checks := []Check{
		{Limit: &Limit{Name: "ok", Kind: Rate, Count: 1, Period: time.Second}, Key: secretKey},
		{Limit: &Limit{Name: "bad", Kind: Rate, Period: time.Second}, Key: secretKey},
	}
	err := ValidateChecks(checks, make([]State, 2))
	if !errors.Is(err, ErrInvalidCheck) {
		t.Fatalf("ValidateChecks = %v, want ErrInvalidCheck", err)
	}
	if msg := err.Error(); strings.Contains(msg, "203.0.113.7") || strings.Contains(msg, "alice") {
		t.Errorf("error %q names the key", msg)
	}
	if !strings.Contains(err.Error(), `check 1: ratelimit: invalid check: limit "bad"`) {
		t.Errorf("error %q does not say which check", err)
	}
}
