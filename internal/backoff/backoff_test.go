package backoff

import (
	"context"
	"testing"
	"time"
)

func TestDelay(t *testing.T) {
	none := func(int64) int64 { return 0 }
	most := func(k int64) int64 { return k - 1 }
	tests := []struct {
		n      int
		jitter func(int64) int64
		want   time.Duration
	}{
		{0, none, time.Second},
		{1, none, 2 * time.Second},
		{4, none, 16 * time.Second},
		{5, none, 30 * time.Second},  // capped
		{40, none, 30 * time.Second}, // no overflow
		{0, most, 500*time.Millisecond + 1},
		{5, most, 15*time.Second + 1},
	}
	for _, tt := range tests {
		if got := Delay(tt.n, time.Second, 30*time.Second, tt.jitter); got != tt.want {
			t.Errorf("Delay(%d) = %v, want %v", tt.n, got, tt.want)
		}
	}
}

func TestSleepStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if Sleep(ctx, time.Hour) {
		t.Error("Sleep went on after its context ended")
	}
	if !Sleep(t.Context(), time.Nanosecond) {
		t.Error("Sleep stopped without its context ending")
	}
}
