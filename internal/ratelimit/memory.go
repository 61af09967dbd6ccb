package ratelimit

import (
	"context"
	"hash/maphash"
	"math"
	"math/bits"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// MemoryConfig bounds the memory backend.
type MemoryConfig struct {
	// MaxKeys bounds the number of keys held; when full, idle keys go
	// first, then the least recently used (counted by Evictions). Zero
	// means 1,000,000.
	MaxKeys int
}

const (
	// defaultMaxKeys is MaxKeys when the config leaves it zero (or
	// negative, which cannot mean anything else).
	defaultMaxKeys = 1_000_000
	// maxShards spreads keys over this many locks; a power of two.
	maxShards = 64
	// minShardKeys keeps shards from getting so small that the per-shard
	// cap (MaxKeys/shards) is far from MaxKeys: small caps get fewer
	// shards.
	minShardKeys = 256
	// inlineChecks is how many checks of one request fit in the scratch
	// space on the stack; a request with more allocates it.
	inlineChecks = 8
	// sweepEvery new keys of a shard trigger a sweep of sweepSample of its
	// entries, so idle keys are reclaimed faster than new ones arrive
	// (two looked at per insert), without a goroutine or a pause.
	sweepEvery  = 64
	sweepSample = 128
	// evictSample entries are looked at to pick a victim when a shard is
	// full: the Redis approximation of LRU, constant time per insert.
	evictSample = 8
)

// Entry kinds, so a limit renamed onto another's name (or changed from a
// rate to a quota, or to another window) starts afresh instead of reading
// the other's state.
const (
	kindGCRA     uint8 = 1
	kindCalendar uint8 = 0x10 // | Window
)

// memKey identifies a key's state: the limit's name, not its pointer, so
// the state survives a configuration reload as it does in Redis. A struct
// of two strings is hashed by the map without building name+"\x00"+key.
type memKey struct{ name, key string }

// entry is one key's state; see algo.go for the meaning of the fields.
// It is held by pointer so a check updates it in place with one map
// lookup, and so the key stored in the map is never replaced by the
// caller's string (which may pin a larger buffer).
type entry struct {
	a int64 // GCRA: TAT. Calendar: window start.
	b int64 // Calendar: window end (exclusive).
	n int64 // Calendar: count admitted in [a, b).
	// used is the second (Unix time, wrapping in 2106) of the last
	// admitted request, for LRU eviction; seconds keep the entry at 32
	// bytes, and LRU needs no finer order.
	used uint32
	kind uint8
}

// usedAt is the LRU stamp of a request at now.
func usedAt(now int64) uint32 { return uint32(now / int64(time.Second)) }

// idle reports whether e is equivalent to no state at all at now: a rate
// back to full or a quota window that has ended.
func (e *entry) idle(now int64) bool {
	if e.kind == kindGCRA {
		return e.a <= now
	}
	return now >= e.b
}

// shard is one lock and the keys hashed to it.
type shard struct {
	mu      sync.Mutex
	m       map[memKey]*entry
	max     int    // keys this shard may hold
	inserts uint32 // new keys so far, to pace sweeps
	peak    int    // most keys held since the map was last rebuilt
	_       [64]byte
}

// Memory is the single-node backend: sharded maps, no global lock on the
// hot path, zero allocations per check of a known key. A key's state is
// dropped once it is back to full (rate) or its window has passed (quota),
// so idle keys cost nothing.
//
// Keys are spread over up to 64 shards by a seeded hash of limit name and
// key, each with its own mutex. A request with several checks locks the
// shards it touches in increasing index order, so checks are atomic
// across limits without deadlock. Idle keys are dropped when a shard needs
// room, by a sample sweep every 64 new keys of a shard, and by Sweep.
//
// MaxKeys is enforced per shard (MaxKeys/shards each), so evictions may
// begin slightly before MaxKeys keys are held in total: filling the
// default cap with a million keys held 99.7% of them and evicted the
// rest (TestMemoryDefaultCapHoldsNearlyAMillion). A key costs about 150
// bytes with a 14-byte key: map slot, a 32-byte entry and the cloned key
// (149 bytes measured by TestMemoryMillionKeys, which fails above 200), so
// the default cap bounds the backend to about 150 MB.
type Memory struct {
	seed      maphash.Seed
	shards    []shard
	mask      uint64
	evictions atomic.Uint64
}

var _ Backend = (*Memory)(nil)

// NewMemory returns an empty memory backend.
func NewMemory(cfg MemoryConfig) *Memory {
	maxKeys := cfg.MaxKeys
	if maxKeys <= 0 {
		maxKeys = defaultMaxKeys
	}
	n := maxShards
	for n > 1 && maxKeys/n < minShardKeys {
		n /= 2
	}
	m := &Memory{seed: maphash.MakeSeed(), shards: make([]shard, n), mask: uint64(n - 1)}
	for i := range m.shards {
		m.shards[i].m = make(map[memKey]*entry)
		m.shards[i].max = maxKeys / n
	}
	return m
}

// Allow implements Backend. It never fails except on invalid input
// (ErrInvalidCheck), and ctx is not consulted: a check takes well under a
// microsecond.
func (m *Memory) Allow(ctx context.Context, checks []Check, now time.Time, states []State) (bool, error) {
	if err := ValidateChecks(checks, states); err != nil {
		return false, err
	}
	ns, err := unixNano(now)
	if err != nil {
		return false, err
	}
	n := len(checks)
	if n == 0 {
		return true, nil
	}
	var (
		idxBuf [inlineChecks]uint8
		ordBuf [inlineChecks]uint8
		ptrBuf [inlineChecks]*entry
		tenBuf [inlineChecks]entry
	)
	idx, ord, ptr, ten := idxBuf[:], ordBuf[:], ptrBuf[:], tenBuf[:]
	if n > inlineChecks {
		idx, ord, ptr, ten = make([]uint8, n), make([]uint8, n), make([]*entry, n), make([]entry, n)
	}
	idx, ptr, ten = idx[:n], ptr[:n], ten[:n]
	for i := range checks {
		idx[i] = m.shardIndex(&checks[i])
	}
	ord = m.lock(ord[:0], idx)
	defer m.unlock(ord)

	// Evaluate every check without writing, each on the state left by
	// the checks before it in this request.
	admit := true
	for i := range checks {
		c := &checks[i]
		var (
			cur  entry
			have bool
		)
		if j := prior(checks, idx, i); j >= 0 {
			cur, ptr[i], have = ten[j], ptr[j], true
		} else if e := m.shards[idx[i]].m[memKey{c.Limit.Name, c.Key}]; e != nil {
			cur, ptr[i], have = *e, e, true
		} else {
			ptr[i] = nil
		}
		ten[i], states[i] = step(c.Limit, cur, have, now, ns)
		if states[i].Denied {
			admit = false
		}
	}
	if !admit {
		// Nothing is written. The checks that admitted report their
		// stored state, which this request did not change.
		for i := range checks {
			if !states[i].Denied {
				states[i] = peekEntry(checks[i].Limit, ptr[i], now, ns)
			}
		}
		return false, nil
	}

	// Commit: update known keys first, which leaves none of them idle, so
	// making room for new keys below cannot drop a key of this request.
	for i := range ptr {
		if ptr[i] != nil {
			*ptr[i] = ten[i]
		}
	}
	for i := range checks {
		if ptr[i] == nil && !later(checks, idx, i) {
			m.insert(&m.shards[idx[i]], &checks[i], ten[i], ns, checks)
		}
	}
	return true, nil
}

// Peek implements Backend. Denied in a state reports that the limit alone
// would refuse a request now. Each check is read under its own shard's
// lock: for the admin API, not a snapshot atomic across limits.
func (m *Memory) Peek(ctx context.Context, checks []Check, now time.Time, states []State) error {
	if err := ValidateChecks(checks, states); err != nil {
		return err
	}
	ns, err := unixNano(now)
	if err != nil {
		return err
	}
	for i := range checks {
		c := &checks[i]
		s := &m.shards[m.shardIndex(c)]
		s.mu.Lock()
		states[i] = peekEntry(c.Limit, s.m[memKey{c.Limit.Name, c.Key}], now, ns)
		s.mu.Unlock()
	}
	return nil
}

// Len is the number of keys held.
func (m *Memory) Len() int {
	total := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		total += len(s.m)
		s.mu.Unlock()
	}
	return total
}

// Evictions counts keys dropped because MaxKeys was reached.
func (m *Memory) Evictions() uint64 { return m.evictions.Load() }

// Sweep drops every idle key at now and returns how many it dropped. It
// also gives back the memory of a shard that has shrunk to a quarter of
// its peak (Go maps never shrink on their own). The backend sweeps a
// little as keys arrive, so calling Sweep is optional: a periodic call
// (every minute, say) returns memory after a burst of one-off keys.
func (m *Memory) Sweep(now time.Time) int {
	ns, err := unixNano(now)
	if err != nil {
		return 0
	}
	dropped := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		dropped += s.sweep(ns, math.MaxInt)
		if s.peak > minShardKeys && len(s.m) < s.peak/4 {
			fresh := make(map[memKey]*entry, len(s.m))
			for k, e := range s.m {
				fresh[k] = e
			}
			s.m, s.peak = fresh, len(fresh)
		}
		s.mu.Unlock()
	}
	return dropped
}

// shardIndex hashes a check's limit name and key to a shard.
func (m *Memory) shardIndex(c *Check) uint8 {
	if m.mask == 0 {
		return 0
	}
	h := maphash.String(m.seed, c.Key) ^ bits.RotateLeft64(maphash.String(m.seed, c.Limit.Name), 29)
	return uint8(h & m.mask)
}

// lock locks the distinct shards of idx in increasing order (every
// caller takes them in the same order, so two requests never wait on each
// other in a cycle) and returns that order, built in dst.
func (m *Memory) lock(dst, idx []uint8) []uint8 {
	for _, x := range idx {
		j := len(dst)
		for j > 0 && dst[j-1] > x {
			j--
		}
		if j > 0 && dst[j-1] == x {
			continue
		}
		dst = append(dst, 0)
		copy(dst[j+1:], dst[j:])
		dst[j] = x
	}
	for _, x := range dst {
		m.shards[x].mu.Lock()
	}
	return dst
}

// unlock releases the shards taken by lock.
func (m *Memory) unlock(ord []uint8) {
	for i := len(ord) - 1; i >= 0; i-- {
		m.shards[ord[i]].mu.Unlock()
	}
}

// insert stores a new key's state in s (whose lock is held), first making
// room when s is full. keep are the checks of the current request, whose
// keys are never evicted to make that room.
func (m *Memory) insert(s *shard, c *Check, e entry, now int64, keep []Check) {
	for len(s.m) >= s.max {
		freed, evicted := m.makeRoom(s, now, keep)
		if evicted {
			m.evictions.Add(1)
		}
		if !freed {
			break
		}
	}
	p := new(entry)
	*p = e
	// Clone the key: the caller's string may point into a larger buffer
	// (a header, a token) that must not be pinned for the key's life.
	s.m[memKey{c.Limit.Name, strings.Clone(c.Key)}] = p
	s.peak = max(s.peak, len(s.m))
	s.inserts++
	if s.inserts%sweepEvery == 0 {
		s.sweep(now, sweepSample)
	}
}

// makeRoom frees at least one slot in a full shard and reports whether it
// did: idle keys among a random sample go first; failing that, the least
// recently used of the sample is evicted (evicted reports it). Keys of
// the current request are never chosen; if a shard holds nothing else
// (only with a tiny MaxKeys) nothing is freed and the shard grows by the
// request's own keys rather than lose one of them, until the next insert.
func (m *Memory) makeRoom(s *shard, now int64, keep []Check) (freed, evicted bool) {
	var (
		victim memKey
		oldest = uint32(math.MaxUint32)
		found  bool
		seen   int
	)
	for k, e := range s.m {
		switch {
		case e.idle(now):
			// Keys of this request are never idle here: known ones
			// were just written and new ones are not in the map yet.
			delete(s.m, k)
			freed = true
		case e.used < oldest && !inRequest(k, keep):
			victim, oldest, found = k, e.used, true
		}
		seen++
		if seen >= evictSample && (freed || found) {
			break
		}
	}
	if freed || !found {
		return freed, false
	}
	delete(s.m, victim)
	return true, true
}

// sweep drops idle keys among up to limit entries of s (whose lock is
// held), starting at a random point of the map, and returns how many.
func (s *shard) sweep(now int64, limit int) int {
	dropped, seen := 0, 0
	for k, e := range s.m {
		if seen >= limit {
			break
		}
		seen++
		if e.idle(now) {
			delete(s.m, k)
			dropped++
		}
	}
	return dropped
}

// inRequest reports whether k is the key of one of checks.
func inRequest(k memKey, checks []Check) bool {
	for i := range checks {
		if checks[i].Limit.Name == k.name && checks[i].Key == k.key {
			return true
		}
	}
	return false
}

// prior returns the last check before i with the same limit name and key
// as check i, or -1: that check's tentative state is i's starting point.
func prior(checks []Check, idx []uint8, i int) int {
	for j := i - 1; j >= 0; j-- {
		if idx[j] == idx[i] && sameKey(&checks[j], &checks[i]) {
			return j
		}
	}
	return -1
}

// later reports whether a check after i has the same limit name and key,
// so that i's new key is inserted once, by the last (cumulative) check.
func later(checks []Check, idx []uint8, i int) bool {
	for j := i + 1; j < len(checks); j++ {
		if idx[j] == idx[i] && sameKey(&checks[j], &checks[i]) {
			return true
		}
	}
	return false
}

func sameKey(a, b *Check) bool { return a.Key == b.Key && a.Limit.Name == b.Limit.Name }

// step evaluates one request of l on state e (have false: no state) and
// returns the state to store if the request is admitted.
func step(l *Limit, e entry, have bool, now time.Time, ns int64) (entry, State) {
	if l.IsGCRA() {
		t, b := l.gcra()
		tat := ns
		if have && e.kind == kindGCRA {
			tat = e.a
		}
		next, st := GCRA(tat, ns, t, b)
		return entry{a: next, used: usedAt(ns), kind: kindGCRA}, st
	}
	e = window(l, e, have, now, ns)
	var st State
	e.n, st = CalendarQuota(e.n, l.Count, e.b, ns)
	e.used = usedAt(ns)
	return e, st
}

// peekEntry returns the state of l at now given its stored entry (nil:
// none).
func peekEntry(l *Limit, p *entry, now time.Time, ns int64) State {
	if l.IsGCRA() {
		t, b := l.gcra()
		tat := ns
		if p != nil && p.kind == kindGCRA {
			tat = p.a
		}
		return PeekGCRA(tat, ns, t, b)
	}
	var e entry
	if p != nil {
		e = *p
	}
	e = window(l, e, p != nil, now, ns)
	return PeekCalendarQuota(e.n, l.Count, e.b, ns)
}

// window returns e if it holds l's calendar window containing now, and
// otherwise an empty count in that window. The window is computed (a
// time zone lookup) only when a key is new or its window has ended.
func window(l *Limit, e entry, have bool, now time.Time, ns int64) entry {
	kind := kindCalendar | uint8(l.Window)
	if have && e.kind == kind && e.a <= ns && ns < e.b {
		return e
	}
	start, end := WindowBounds(l.Window, l.Location, now)
	return entry{a: start.UnixNano(), b: end.UnixNano(), kind: kind}
}
