package duration

import (
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestDurationYAML(t *testing.T) {
	tests := []struct {
		in      string
		want    Duration
		wantErr string
	}{
		{"15m", Duration(15 * time.Minute), ""},
		{"1h30m", Duration(90 * time.Minute), ""},
		{"0", 0, ""},
		{"250ms", Duration(250 * time.Millisecond), ""},
		{"-1s", 0, "line 1: must not be negative"},
		{"10", 0, `line 1: invalid duration "10": use a number with a unit, such as 90s, 15m or 1h30m`},
		{"soon", 0, `line 1: invalid duration "soon": use a number with a unit, such as 90s, 15m or 1h30m`},
		{"[1m]", 0, "line 1: must be a duration such as 15m"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			var d Duration
			err := yaml.Unmarshal([]byte(tc.in), &d)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("Unmarshal(%q) error = %v, want %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil || d != tc.want {
				t.Fatalf("Unmarshal(%q) = %v, %v; want %v", tc.in, d, err, tc.want)
			}
		})
	}
}

func TestDurationString(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{15 * time.Minute, "15m"},
		{720 * time.Hour, "720h"},
		{90 * time.Minute, "1h30m"},
		{time.Hour + time.Second, "1h0m1s"},
		{1500 * time.Millisecond, "1.5s"},
	}
	for _, tc := range tests {
		if got := Duration(tc.d).String(); got != tc.want {
			t.Errorf("Duration(%v).String() = %q, want %q", tc.d, got, tc.want)
		}
		if got := Duration(tc.d).Duration(); got != tc.d {
			t.Errorf("Duration(%v).Duration() = %v", tc.d, got)
		}
	}
}

func TestBoundsCheck(t *testing.T) {
	b := Bounds{Min: time.Second, Max: time.Hour, Why: " (why)"}
	tests := []struct {
		d    Duration
		want string
	}{
		{Duration(time.Minute), ""},
		{Duration(time.Second), ""},
		{Duration(time.Hour), ""},
		{-1, "must not be negative"},
		{Duration(time.Millisecond), "1ms is too short: at least 1s"},
		{Duration(2 * time.Hour), "2h is too long: at most 1h (why)"},
	}
	for _, tc := range tests {
		if got := b.Check(tc.d); got != tc.want {
			t.Errorf("Check(%s) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
