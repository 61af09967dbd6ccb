package verify

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/pkg/issuer"
)

// keyCache holds the issuer's key set. It fetches lazily: the first
// verification loads the set, a set older than KeysTTL is refetched in
// the background while requests keep using it, and an unknown kid
// triggers a refetch that the request waits for, so a key the issuer has
// just rotated in is found. Fetches not yet due are limited to one per
// MinRefetchInterval, and concurrent callers share one fetch. No
// goroutine outlives a fetch. Safe for concurrent use.
type keyCache struct {
	cfg *settings

	// current is the key set in use, replaced whole, never modified.
	current atomic.Pointer[jwkSet]

	// mu guards the fields below.
	mu sync.Mutex
	// lastAttempt is when the last fetch started.
	lastAttempt int64 // Unix nanoseconds; zero before the first
	// inflight is the fetch under way, which callers wait on rather
	// than start another.
	inflight *keyFetch
	// discovered is the jwks_uri found by discovery; empty means
	// discover again on the next fetch.
	discovered string
}

// keyFetch is one fetch of the key set that several callers may wait on.
type keyFetch struct {
	done chan struct{}
	err  error
}

// fetchedMeanwhile stands for a fetch that completed between a caller's
// look at the set and its request for a fetch: the caller simply looks
// again.
var fetchedMeanwhile = func() *keyFetch {
	f := &keyFetch{done: make(chan struct{})}
	close(f.done)
	return f
}()

func newKeyCache(cfg *settings) *keyCache {
	return &keyCache{cfg: cfg}
}

// key returns the issuer's key for kid and alg. Errors wrap
// ErrUnknownKey, ErrAlgorithm (the kid names a key for another
// algorithm) or ErrKeysUnavailable. The key is shared: never modify it.
func (c *keyCache) key(ctx context.Context, kid, alg string) (*jose.JSONWebKey, error) {
	set := c.current.Load()
	now := c.cfg.Now()
	switch {
	case !c.usable(set, now):
		// Nothing to verify with: wait for a fetch. Fail closed when
		// none may start yet (the last one failed moments ago).
		if err := c.await(ctx, c.start(ctx, set)); err != nil {
			return nil, err
		}
		if set = c.current.Load(); !c.usable(set, c.cfg.Now()) {
			return nil, fmt.Errorf("%w: no current key set", ErrKeysUnavailable)
		}
	case now.Sub(set.fetched) >= c.cfg.KeysTTL:
		// Due for a refresh: start one and go on with the cached set.
		c.start(ctx, set)
	}
	k, refetch, err := set.lookup(kid, alg)
	if !refetch {
		return k, err
	}
	// RFC 7517 §4.5 and OpenID Connect Core §10.1.1: an unknown kid is
	// how a verifier learns that the issuer rotated its keys.
	f := c.start(ctx, set)
	if f == nil {
		return nil, fmt.Errorf("%w (refetch limited)", err)
	}
	if err := c.await(ctx, f); err != nil {
		return nil, err
	}
	k, _, err = c.current.Load().lookup(kid, alg)
	return k, err
}

// usable reports whether set may still be used at now: fetched no longer
// than KeysTTL + KeysMaxStale ago.
func (c *keyCache) usable(set *jwkSet, now time.Time) bool {
	return set != nil && now.Sub(set.fetched) < c.cfg.KeysTTL+c.cfg.KeysMaxStale
}

// start returns the fetch under way, or starts one, unless the set has
// changed since the caller saw seen (then fetchedMeanwhile) or the last
// fetch started less than MinRefetchInterval ago (then nil).
func (c *keyCache) start(ctx context.Context, seen *jwkSet) *keyFetch {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inflight != nil {
		return c.inflight
	}
	if c.current.Load() != seen {
		return fetchedMeanwhile
	}
	now := c.cfg.Now().UnixNano()
	if c.lastAttempt != 0 && now-c.lastAttempt < int64(c.cfg.MinRefetchInterval) {
		return nil
	}
	c.lastAttempt = now
	f := &keyFetch{done: make(chan struct{})}
	c.inflight = f
	// The fetch outlives a caller that gives up, so the others waiting
	// on it are not cut short; issuer.FetchTimeout bounds it.
	go c.run(context.WithoutCancel(ctx), f)
	return f
}

// await waits for f, or for ctx. A nil f is a fetch refused by the rate
// limit.
func (c *keyCache) await(ctx context.Context, f *keyFetch) error {
	if f == nil {
		return fmt.Errorf("%w: the last fetch failed (refetch limited)", ErrKeysUnavailable)
	}
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrKeysUnavailable, ctx.Err())
	}
}

// run performs f. A panic (in a custom HTTP transport, say) becomes the
// fetch's error instead of taking the process down.
func (c *keyCache) run(ctx context.Context, f *keyFetch) {
	defer func() {
		if p := recover(); p != nil {
			f.err = fmt.Errorf("%w: fetch panicked: %v", ErrKeysUnavailable, p)
		}
		c.mu.Lock()
		c.inflight = nil
		c.mu.Unlock()
		close(f.done)
	}()
	if err := c.load(ctx); err != nil {
		// The previous set, if any, stays in use until it is too stale.
		c.cfg.Logger.Warn("verify: fetching the issuer's keys failed", "issuer", c.cfg.Issuer, "err", err)
		f.err = fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
	}
}

// load fetches the key set once and installs it.
func (c *keyCache) load(ctx context.Context) error {
	uri, discovered, err := c.jwksURL(ctx)
	if err != nil {
		return err
	}
	body, err := issuer.FetchJSON(ctx, c.cfg.HTTPClient, uri)
	var keys *issuer.KeySet
	if err == nil {
		keys, err = issuer.ParseKeySet(body)
	}
	if err != nil {
		if discovered {
			// The issuer may have moved its keys: discover again.
			c.mu.Lock()
			c.discovered = ""
			c.mu.Unlock()
		}
		return err
	}
	set := &jwkSet{keys: keys, fetched: c.cfg.Now()}
	if old := c.current.Load(); old == nil || old.keys.Fingerprint() != keys.Fingerprint() {
		c.cfg.Logger.Info("verify: loaded the issuer's keys", "issuer", c.cfg.Issuer, "keys", len(keys.Keys()))
	}
	c.current.Store(set)
	return nil
}

// jwksURL returns the configured or discovered JWK Set URL, discovering
// it when needed.
func (c *keyCache) jwksURL(ctx context.Context) (uri string, discovered bool, err error) {
	if c.cfg.JWKSURL != "" {
		return c.cfg.JWKSURL, false, nil
	}
	c.mu.Lock()
	uri = c.discovered
	c.mu.Unlock()
	if uri != "" {
		return uri, true, nil
	}
	if uri, err = issuer.DiscoverEndpoint(ctx, c.cfg.HTTPClient, c.cfg.Issuer, "jwks_uri"); err != nil {
		return "", false, err
	}
	c.mu.Lock()
	c.discovered = uri
	c.mu.Unlock()
	return uri, true, nil
}
