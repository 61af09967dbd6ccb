package ratelimittest

import (
	"testing"
	"time"
)

func TestFakeClock(t *testing.T) {
	start := time.Date(2026, 5, 17, 9, 0, 0, 0, time.UTC)
	c := NewFakeClock(start)
	tests := []struct {
		name    string
		advance time.Duration
		want    time.Time
	}{
		{"stopped", 0, start},
		{"forward", 90 * time.Minute, start.Add(90 * time.Minute)},
		{"one ns", 1, start.Add(90*time.Minute + 1)},
		{"back", -time.Hour, start.Add(30*time.Minute + 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.Advance(tt.advance)
			if got := c.Now(); !got.Equal(tt.want) {
				t.Errorf("Now = %v, want %v", got, tt.want)
			}
		})
	}
	if !c.CanFakeTime() {
		t.Error("FakeClock.CanFakeTime = false, want true")
	}
}

func TestRealClock(t *testing.T) {
	var c RealClock
	if c.CanFakeTime() {
		t.Error("RealClock.CanFakeTime = true, want false")
	}
	defer func() {
		if recover() == nil {
			t.Error("RealClock.Advance did not panic")
		}
	}()
	c.Advance(time.Second)
}

func TestLastSunday(t *testing.T) {
	tests := []struct {
		y    int
		m    time.Month
		want int
	}{
		{2026, time.March, 29},
		{2026, time.October, 25},
		{2027, time.March, 28},
		{2027, time.October, 31},
	}
	for _, tt := range tests {
		if got := lastSunday(tt.y, tt.m); got != tt.want {
			t.Errorf("lastSunday(%d, %v) = %d, want %d", tt.y, tt.m, got, tt.want)
		}
	}
}
