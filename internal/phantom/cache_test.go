package phantom

import (
	"fmt"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/token"
)

func key(i int) cacheKey {
	s := fmt.Sprintf("token-%d", i)
	var k cacheKey
	copy(k.digest[:], token.Digest(s))
	k.scope = "https://as.example/introspect"
	return k
}

func TestCacheBounded(t *testing.T) {
	tests := []struct {
		size       int
		wantShards int
	}{
		{size: 1, wantShards: 1},
		{size: 10, wantShards: 1},
		{size: 100, wantShards: 4},
		{size: 1000, wantShards: 32},
		{size: 100000, wantShards: 64},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.size), func(t *testing.T) {
			c := newCache(tc.size)
			if got := len(c.shards); got != tc.wantShards {
				t.Errorf("shards = %d, want %d", got, tc.wantShards)
			}
			v := &token.Verified{}
			far := time.Now().Add(time.Hour).UnixNano()
			for i := range 3 * tc.size {
				k := key(i)
				s := c.shard(&k)
				s.mu.Lock()
				c.put(s, k, entry{v: v, expires: far}, 0)
				s.mu.Unlock()
			}
			if got, limit := c.len(), len(c.shards)*c.perShard; got > limit {
				t.Errorf("len = %d after %d inserts, want at most %d", got, 3*tc.size, limit)
			}
			if limit := tc.size + len(c.shards) - 1; len(c.shards)*c.perShard > limit {
				t.Errorf("capacity %d exceeds size %d by more than rounding", len(c.shards)*c.perShard, tc.size)
			}
		})
	}
}

// TestCacheEvictsExpiredFirst: when a shard is full, expired entries go
// before any live one.
func TestCacheEvictsExpiredFirst(t *testing.T) {
	const size = 16
	c := newCache(size)
	now := int64(1000)
	s := &c.shards[0]
	v := &token.Verified{}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range size / 2 {
		c.put(s, key(i), entry{v: v, expires: now - 1}, now)
	}
	for i := size / 2; i < size; i++ {
		c.put(s, key(i), entry{v: v, expires: now + 1}, now)
	}
	// The shard is full; this insert must drop only expired entries.
	c.put(s, key(size), entry{v: v, expires: now + 1}, now)
	for i := size / 2; i <= size; i++ {
		if _, ok := s.entries[key(i)]; !ok {
			t.Errorf("live entry %d was evicted while expired ones remained", i)
		}
	}
	if got, want := len(s.entries), size/2+1; got != want {
		t.Errorf("entries = %d, want %d", got, want)
	}
}

// TestCacheKeyScope: the same token under two introspection URLs is two
// entries.
func TestCacheKeyScope(t *testing.T) {
	c := newCache(100)
	a := key(1)
	b := a
	b.scope = "https://other.example/introspect"
	sa := c.shard(&a)
	sa.mu.Lock()
	c.put(sa, a, entry{v: &token.Verified{JWT: "a"}, expires: 10}, 0)
	sa.mu.Unlock()
	sb := c.shard(&b)
	sb.mu.RLock()
	_, found := sb.entries[b]
	sb.mu.RUnlock()
	if found {
		t.Error("an entry for one introspection URL answered for another")
	}
}
