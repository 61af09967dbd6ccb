package ratelimit

import (
	"context"
	"time"
)

// MemoryConfig bounds the memory backend.
type MemoryConfig struct {
	// MaxKeys bounds the number of keys held; when full, idle keys go
	// first, then the least recently used (counted by Evictions). Zero
	// means 1,000,000.
	MaxKeys int
}

// Memory is the single-node backend: sharded maps, no global lock on the
// hot path, zero allocations per check of a known key. A key's state is
// dropped once it is back to full (rate) or its window has passed (quota),
// so idle keys cost nothing.
type Memory struct{}

var _ Backend = (*Memory)(nil)

// NewMemory returns an empty memory backend.
func NewMemory(cfg MemoryConfig) *Memory { panic("todo") }

// Allow implements Backend.
func (m *Memory) Allow(ctx context.Context, checks []Check, now time.Time, states []State) (bool, error) {
	panic("todo")
}

// Peek implements Backend.
func (m *Memory) Peek(ctx context.Context, checks []Check, now time.Time, states []State) error {
	panic("todo")
}

// Len is the number of keys held.
func (m *Memory) Len() int { panic("todo") }

// Evictions counts keys dropped because MaxKeys was reached.
func (m *Memory) Evictions() uint64 { panic("todo") }
