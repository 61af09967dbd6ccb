package verify

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"
	"time"
)

// ReplayCache remembers the DPoP proofs a server has accepted (RFC 9449
// §11.1), so a captured proof cannot be sent again. Seen records key
// until the given time and reports whether it was already recorded; the
// check and the record are one atomic step, so two nodes (or two
// goroutines) racing with the same proof cannot both accept it. An error
// means the cache could not answer: callers refuse the proof.
type ReplayCache interface {
	Seen(ctx context.Context, key string, until time.Time) (bool, error)
}

// ErrReplayCacheFull is returned by the memory cache when every slot
// holds a proof still inside its window: refusing is safer than
// forgetting one.
var ErrReplayCacheFull = errors.New("dpop: replay cache full")

// replayShards spreads the lock of the memory cache.
const replayShards = 32

// memoryReplay is a ReplayCache for one process: shards of maps from key
// to expiry, each swept of expired entries at most once a second.
type memoryReplay struct {
	seed   maphash.Seed
	max    int
	now    func() time.Time
	shards [replayShards]replayShard
}

type replayShard struct {
	mu        sync.Mutex
	entries   map[string]time.Time
	lastSweep time.Time
}

// NewMemoryReplayCache returns a ReplayCache held in memory, for one
// node: several nodes behind one load balancer need a shared cache, or a
// proof refused by one is accepted by the next. max bounds the entries
// (zero means 1,000,000, about 100 MB at most); at one entry per request
// and a 70 s window that is over 14,000 requests a second.
func NewMemoryReplayCache(max int) ReplayCache {
	return newMemoryReplay(max, time.Now)
}

func newMemoryReplay(max int, now func() time.Time) *memoryReplay {
	if max <= 0 {
		max = 1_000_000
	}
	m := &memoryReplay{seed: maphash.MakeSeed(), max: max, now: now}
	for i := range m.shards {
		m.shards[i].entries = map[string]time.Time{}
	}
	return m
}

// Seen implements ReplayCache.
func (m *memoryReplay) Seen(_ context.Context, key string, until time.Time) (bool, error) {
	now := m.now()
	s := &m.shards[maphash.String(m.seed, key)%replayShards]
	limit := (m.max + replayShards - 1) / replayShards
	s.mu.Lock()
	defer s.mu.Unlock()
	if exp, ok := s.entries[key]; ok && now.Before(exp) {
		return true, nil
	}
	if len(s.entries) >= limit || now.Sub(s.lastSweep) >= time.Second {
		s.sweep(now)
	}
	if len(s.entries) >= limit {
		return false, ErrReplayCacheFull
	}
	s.entries[key] = until
	return false, nil
}

func (s *replayShard) sweep(now time.Time) {
	for k, exp := range s.entries {
		if !now.Before(exp) {
			delete(s.entries, k)
		}
	}
	s.lastSweep = now
}
