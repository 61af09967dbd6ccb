package clientauth

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// DefaultCacheTTL is how long a client record, or the store's answer that
// there is no such client, is reused before the store is asked again. It
// bounds how long a deleted client, a rotated secret or a client created
// on another node is seen late on this node: a few seconds, in exchange
// for one database read fewer on every token and introspection request.
const DefaultCacheTTL = 5 * time.Second

// maxCached bounds the cache. When it is full, one entry picked at random
// makes room, whether it records a client or a miss, so flooding the
// cache with unknown ids evicts known and unknown ids alike and cannot
// grow memory.
const maxCached = 10000

// CachedStore keeps client records in memory for a short TTL in front of
// a Store. It is safe for concurrent use.
//
// Misses (store.ErrNotFound) are cached exactly like hits, for the same
// TTL and in the same bounded map: if only known clients were cached, a
// repeated lookup of a known id would answer from memory and one of an
// unknown id from the database, and the difference in response time would
// tell which client ids exist (docs/security.md promises that an unknown
// client costs the same as a known one). Other store errors are never
// cached. A client created through this process should be Forget-ten so
// that a recent miss does not hide it for up to the TTL.
type CachedStore struct {
	Store
	ttl time.Duration
	now func() time.Time

	mu      sync.RWMutex
	clients map[string]cachedClient
}

type cachedClient struct {
	c store.Client
	// missing records that the store had no such client.
	missing bool
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

// GetClient returns the cached answer for id while it is fresh (the
// record, or store.ErrNotFound), else asks the store and caches its
// answer.
func (s *CachedStore) GetClient(ctx context.Context, id string) (store.Client, error) {
	now := s.now()
	s.mu.RLock()
	e, ok := s.clients[id]
	s.mu.RUnlock()
	if ok && now.Before(e.expires) {
		if e.missing {
			return store.Client{}, store.ErrNotFound
		}
		return e.c, nil
	}
	c, err := s.Store.GetClient(ctx, id)
	missing := errors.Is(err, store.ErrNotFound)
	if err != nil && !missing {
		return c, err
	}
	s.mu.Lock()
	if _, present := s.clients[id]; !present && len(s.clients) >= maxCached {
		for k := range s.clients {
			// Map iteration starts at a random place: a random victim.
			delete(s.clients, k)
			break
		}
	}
	s.clients[id] = cachedClient{c: c, missing: missing, expires: now.Add(s.ttl)}
	s.mu.Unlock()
	return c, err
}

// Forget drops id from the cache, for changes made through this process.
func (s *CachedStore) Forget(id string) {
	s.mu.Lock()
	delete(s.clients, id)
	s.mu.Unlock()
}
