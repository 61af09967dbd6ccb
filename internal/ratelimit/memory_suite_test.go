package ratelimit_test

import (
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/ratelimit"
	"github.com/portcullis/portcullis/internal/ratelimit/ratelimittest"
)

// TestMemoryBackendSuite runs the shared behaviour table against Memory,
// with a fake clock and with a MaxKeys small enough to use one shard and
// large enough never to evict during a case.
func TestMemoryBackendSuite(t *testing.T) {
	for _, maxKeys := range []int{0, 1000} {
		name := "default"
		if maxKeys != 0 {
			name = "one shard"
		}
		t.Run(name, func(t *testing.T) {
			ratelimittest.RunBackendSuite(t, func(t *testing.T) (ratelimit.Backend, ratelimittest.Clock) {
				start := time.Date(2026, 5, 17, 9, 41, 7, 123_456_789, time.UTC)
				return ratelimit.NewMemory(ratelimit.MemoryConfig{MaxKeys: maxKeys}), ratelimittest.NewFakeClock(start)
			})
		})
	}
}

// TestMemoryBackendSuiteRealTime runs the suite as a backend whose clock
// cannot be faked would, checking that the cases that do not move time
// hold on the wall clock too (the Redis backend runs it that way).
func TestMemoryBackendSuiteRealTime(t *testing.T) {
	ratelimittest.RunBackendSuite(t, func(t *testing.T) (ratelimit.Backend, ratelimittest.Clock) {
		return ratelimit.NewMemory(ratelimit.MemoryConfig{}), ratelimittest.RealClock{}
	})
}
