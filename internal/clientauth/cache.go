package clientauth

import (
	"context"
	"sync"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// DefaultCacheTTL is how long a client record is reused before it is read
// from the store again. It bounds how long a deleted client, or a rotated
// secret, keeps working on a node: a few seconds, in exchange for one
// database read fewer on every token and introspection request.
const DefaultCacheTTL = 5 * time.Second

// maxCached bounds the cache; when full it starts over, which costs one
// read per client and cannot be used to grow memory.
const maxCached = 10000

// CachedStore keeps client records in memory for a short TTL in front of
// a Store. Only found clients are cached: an unknown client id is read
// from the store every time, so a client created a moment ago works at
// once. It is safe for concurrent use.
type CachedStore struct {
	Store
	ttl time.Duration
	now func() time.Time

	mu      sync.RWMutex
	clients map[string]cachedClient
}

type cachedClient struct {
	c       store.Client
	expires time.Time
}

var _ Store = (*CachedStore)(nil)

// NewCachedStore wraps st; ttl ≤ 0 means DefaultCacheTTL, nil now means
// time.Now.
func NewCachedStore(st Store, ttl time.Duration, now func() time.Time) *CachedStore {
	if ttl <= 0 {
		ttl = DefaultCacheTTL
	}
	if now == nil {
		now = time.Now
	}
	return &CachedStore{Store: st, ttl: ttl, now: now, clients: map[string]cachedClient{}}
}

// GetClient returns the cached record of id while it is fresh, else reads
// and caches it.
func (s *CachedStore) GetClient(ctx context.Context, id string) (store.Client, error) {
	now := s.now()
	s.mu.RLock()
	e, ok := s.clients[id]
	s.mu.RUnlock()
	if ok && now.Before(e.expires) {
		return e.c, nil
	}
	c, err := s.Store.GetClient(ctx, id)
	if err != nil {
		return c, err
	}
	s.mu.Lock()
	if len(s.clients) >= maxCached {
		clear(s.clients)
	}
	s.clients[id] = cachedClient{c: c, expires: now.Add(s.ttl)}
	s.mu.Unlock()
	return c, nil
}

// Forget drops id from the cache, for changes made through this process.
func (s *CachedStore) Forget(id string) {
	s.mu.Lock()
	delete(s.clients, id)
	s.mu.Unlock()
}
