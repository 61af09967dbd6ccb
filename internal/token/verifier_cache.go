package token

import (
	"hash/maphash"
	"math"
	"sync"
	"time"
)

// maxCacheShards is the most shards a verified-token cache splits into, so
// concurrent requests rarely contend on one lock.
const maxCacheShards = 64

// verifiedCache remembers verified tokens until they expire. It is the
// gateway's hot path, so a hit costs one seeded hash, one read-locked map
// lookup and one constant-time comparison, and allocates nothing.
//
// Entries are keyed by maphash(token) with a per-cache random seed rather
// than by SHA-256: the key only finds the candidate, and a constant-time
// comparison with the token the entry was verified for decides the hit, so
// a hash collision can cost a re-verification but never let one token pass
// as another. SHA-256 of a typical 600-byte token alone costs ~500 ns;
// maphash costs ~50 ns.
type verifiedCache struct {
	seed     maphash.Seed
	mask     uint64
	perShard int
	shards   []cacheShard
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[uint64]cacheEntry
	_  [32]byte // keep neighbouring shards' locks off one cache line
}

// cacheEntry is a verified result and the window (Unix nanoseconds) in
// which it may be served again without verifying.
type cacheEntry struct {
	v         *Verified
	notBefore int64  // nbf / iat less the leeway
	expires   int64  // exp itself, never extended by the leeway
	gen       uint64 // key set generation the token was verified under
}

// newVerifiedCache returns a cache holding at most size entries (size > 0).
func newVerifiedCache(size int) *verifiedCache {
	n := maxCacheShards
	for n > 1 && n > size {
		n /= 2
	}
	return &verifiedCache{
		seed:     maphash.MakeSeed(),
		mask:     uint64(n - 1),
		perShard: size / n,
		shards:   make([]cacheShard, n),
	}
}

func (c *verifiedCache) hash(raw string) uint64 { return maphash.String(c.seed, raw) }

// get returns the entry for raw when it is still valid at now and was
// verified under key set generation gen, else nil.
func (c *verifiedCache) get(h uint64, raw string, now int64, gen uint64) *Verified {
	s := &c.shards[h&c.mask]
	s.mu.RLock()
	e, ok := s.m[h]
	s.mu.RUnlock()
	// nbf is re-checked too, in case the clock stepped back.
	if !ok || e.gen != gen || now < e.notBefore || now >= e.expires {
		return nil
	}
	if !constantTimeEqual(e.v.JWT, raw) {
		return nil
	}
	return e.v
}

// put stores e under h unless it has already expired at now. A full shard
// first drops expired entries, then arbitrary ones (Go randomises map
// iteration) until an eighth of it is free, so the cost of making room is
// spread over many inserts.
func (c *verifiedCache) put(h uint64, e cacheEntry, now int64) {
	if now >= e.expires {
		return
	}
	s := &c.shards[h&c.mask]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[uint64]cacheEntry)
	}
	if _, ok := s.m[h]; !ok && len(s.m) >= c.perShard {
		for k, old := range s.m {
			if now >= old.expires {
				delete(s.m, k)
			}
		}
		if len(s.m) >= c.perShard {
			target := c.perShard - max(1, c.perShard/8)
			for k := range s.m {
				if len(s.m) <= target {
					break
				}
				delete(s.m, k)
			}
		}
	}
	s.m[h] = e
}

// len counts the entries (for tests).
func (c *verifiedCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}

// constantTimeEqual compares two strings in time that depends only on
// their lengths, eight bytes at a time. Lengths are not secret: every
// token of an issuer has much the same length.
func constantTimeEqual(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	var acc uint64
	i := 0
	for ; i+8 <= len(a); i += 8 {
		acc |= load64(a, i) ^ load64(b, i)
	}
	for ; i < len(a); i++ {
		acc |= uint64(a[i] ^ b[i])
	}
	return acc == 0
}

// load64 reads eight bytes of s at i, little-endian; the compiler turns
// it into one load.
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// unixNano converts t for cache windows: the zero time is "no bound"
// (math.MinInt64), and times past 2262 saturate instead of overflowing.
func unixNano(t time.Time) int64 {
	switch {
	case t.IsZero():
		return math.MinInt64
	case t.Unix() >= math.MaxInt64/int64(time.Second):
		return math.MaxInt64
	}
	return t.UnixNano()
}
