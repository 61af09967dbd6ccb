package oauth

import (
	"context"
	"sync"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// tokenCacheTTL bounds how long a token record read for introspection is
// reused. Revocations made through this node clear the cache at once;
// one made through another node sharing the database is seen here within
// this bound.
const tokenCacheTTL = 2 * time.Second

// maxCachedTokens bounds memory; when full the cache starts over.
const maxCachedTokens = 50000

// tokenCache keeps recently introspected access token records, so a
// gateway checking the same token many times a second costs one database
// read per TTL instead of one per check. Only records of access tokens are
// kept; refresh tokens change on every use and are always read.
//
// A read that races a revocation must not put the pre-revocation record
// back after the revocation cleared it (docs/endpoints.md promises that a
// same-node revocation takes effect at once). Every invalidation bumps
// epoch, and a fill is kept only when epoch is unchanged since its read
// began. The epoch is one counter for the whole cache, not one per key,
// because a grant revocation cannot name the digests a read in flight is
// about to return; the cost is a skipped fill (one more read later) for
// reads that merely overlapped an unrelated revocation, which is rare.
type tokenCache struct {
	mu    sync.RWMutex
	m     map[string]cachedToken
	epoch uint64
}

type cachedToken struct {
	t    store.Token
	read time.Time
	// phantom is the signed JWT form of t, once one was made: the same
	// token yields the same phantom token until the entry goes stale.
	phantom string
}

func newTokenCache() *tokenCache { return &tokenCache{m: map[string]cachedToken{}} }

// get returns the record of digest, from memory while fresh, with its
// phantom token when one was cached.
func (c *tokenCache) get(ctx context.Context, st Store, digest []byte, now time.Time) (store.Token, string, error) {
	key := string(digest)
	c.mu.RLock()
	e, ok := c.m[key]
	// Taken before the store read: an invalidation after this point
	// may have happened before or after the read saw the row.
	epoch := c.epoch
	c.mu.RUnlock()
	if ok && now.Sub(e.read) < tokenCacheTTL && now.Sub(e.read) >= 0 {
		return e.t, e.phantom, nil
	}
	t, err := st.GetToken(ctx, digest)
	if err != nil || t.Kind != store.KindAccess || t.Revoked {
		return t, "", err
	}
	c.mu.Lock()
	if c.epoch == epoch {
		if len(c.m) >= maxCachedTokens {
			clear(c.m)
		}
		c.m[key] = cachedToken{t: t, read: now}
	}
	c.mu.Unlock()
	return t, "", nil
}

// setPhantom remembers the phantom token of a cached record.
func (c *tokenCache) setPhantom(digest []byte, jws string) {
	c.mu.Lock()
	if e, ok := c.m[string(digest)]; ok {
		e.phantom = jws
		c.m[string(digest)] = e
	}
	c.mu.Unlock()
}

// forget drops the record of digest and keeps reads in flight from
// refilling it.
func (c *tokenCache) forget(digest []byte) {
	c.mu.Lock()
	c.epoch++
	delete(c.m, string(digest))
	c.mu.Unlock()
}

// forgetGrant drops every record of grantID and keeps reads in flight
// from refilling any of them.
func (c *tokenCache) forgetGrant(grantID string) {
	c.mu.Lock()
	c.epoch++
	for k, e := range c.m {
		if e.t.GrantID == grantID {
			delete(c.m, k)
		}
	}
	c.mu.Unlock()
}

// revokeToken revokes one token in the store and in the cache.
func (s *Server) revokeToken(ctx context.Context, digest []byte) error {
	err := s.o.Store.RevokeToken(ctx, digest)
	s.tokens.forget(digest)
	return err
}

// revokeGrant revokes every token of a grant in the store and the cache.
func (s *Server) revokeGrant(ctx context.Context, grantID string) (int64, error) {
	n, err := s.o.Store.RevokeGrant(ctx, grantID)
	s.tokens.forgetGrant(grantID)
	return n, err
}
