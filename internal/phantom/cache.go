package phantom

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/portcullis/portcullis/internal/token"
)

// maxShards is the shard count of a large cache: enough that two cores
// rarely meet on one lock, few enough that a small cache still gets a
// useful number of entries per shard.
const maxShards = 64

// minPerShard keeps small caches from being cut into shards of one entry.
const minPerShard = 16

// cacheKey is SHA-256 of what the client presented plus the resolver's
// scope (the introspection URL), so two issuers never share entries.
type cacheKey struct {
	digest [sha256.Size]byte
	scope  string
}

// entry is one cached answer: a verified token, or (err non-nil) a
// negative answer. expires is in Unix nanoseconds.
type entry struct {
	v       *token.Verified
	err     error
	expires int64
}

// call is one resolution in flight; waiters block on done. epoch is the
// core's when it started.
type call struct {
	done  chan struct{}
	v     *token.Verified
	err   error
	epoch uint64
}

type shard struct {
	mu       sync.RWMutex
	entries  map[cacheKey]entry
	inflight map[cacheKey]*call
	// Hit counters live in the shard, beside the lock every hit touches
	// anyway, so the hot path shares no counter between cores.
	hits, negHits atomic.Uint64
	_             [64]byte // keep neighbouring shards off one cache line
}

// cache is a bounded, sharded map from token digests to answers.
type cache struct {
	shards   []shard
	perShard int
	// seed keys the shard choice so that nobody can aim a flood of
	// chosen junk tokens at a single shard and evict its neighbours.
	seed maphash.Seed
}

func newCache(size int) *cache {
	n := maxShards
	for n > 1 && size/n < minPerShard {
		n /= 2
	}
	c := &cache{
		shards:   make([]shard, n),
		perShard: (size + n - 1) / n,
		seed:     maphash.MakeSeed(),
	}
	for i := range c.shards {
		c.shards[i].entries = make(map[cacheKey]entry)
		c.shards[i].inflight = make(map[cacheKey]*call)
	}
	return c
}

func (c *cache) shard(k *cacheKey) *shard {
	if len(c.shards) == 1 {
		return &c.shards[0]
	}
	return &c.shards[maphash.Bytes(c.seed, k.digest[:])%uint64(len(c.shards))]
}

// put stores e; the caller holds s.mu.
func (c *cache) put(s *shard, k cacheKey, e entry, now int64) {
	if _, ok := s.entries[k]; !ok && len(s.entries) >= c.perShard {
		c.makeRoom(s, now)
	}
	s.entries[k] = e
}

// makeRoom drops expired entries and, if the shard is still full, an
// eighth of it at random, so the next inserts do not each pay for a full
// scan. Go randomises where map iteration starts, which is all the
// randomness eviction needs: it only has to be unpredictable enough that
// a flood cannot keep chosen entries alive. The caller holds s.mu.
func (c *cache) makeRoom(s *shard, now int64) {
	for k, e := range s.entries {
		if e.expires <= now {
			delete(s.entries, k)
		}
	}
	drop := len(s.entries) - c.perShard + 1
	if drop <= 0 {
		return
	}
	drop = max(drop, c.perShard/8)
	for k := range s.entries {
		if drop == 0 {
			break
		}
		delete(s.entries, k)
		drop--
	}
}

func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.entries)
		s.mu.RUnlock()
	}
	return n
}

// core is what the two resolvers share: the cache, the coalescing of
// misses and the counters.
type core struct {
	cache   *cache
	scope   string
	maxTTL  time.Duration
	negTTL  time.Duration
	timeout time.Duration
	// limit caps the fetches in flight; nil means no cap.
	limit *CallLimit
	now   func() time.Time
	log   *slog.Logger
	// traced is set when the config has a tracer: only then does a
	// lookup read the span from its context (traceCache).
	traced bool

	misses, calls, errs, busy atomic.Uint64
	// epoch moves on every forget and flush. A resolution stores what it
	// found only if no forget ran while it was in flight: one that began
	// before a revocation must not put the revoked token back.
	epoch atomic.Uint64
	// flushed is when the last flush ran (UnixNano; 0: never). For
	// flushSettle after it, what the issuer says "active" is cached only
	// until the window ends (see flushSettle).
	flushed atomic.Int64
}

// flushSettle bounds what is cached right after a flush. A flush stands
// for revocations nobody could name (a client deleted, notices missed),
// so it cannot leave tombstones as forget does, and an issuer node that
// has not processed the same notice yet may still answer "active" from
// its record cache (2 s on a Portcullis authorization server). Such an
// answer is cached until the window ends, not for MaxTTL: the bound on a
// stale "active" after a flush is flushSettle rather than cache_ttl.
const flushSettle = 3 * time.Second

func newCore(cfg IntrospectorConfig, scope string, logger *slog.Logger, now func() time.Time) *core {
	cfg = cfg.withDefaults()
	if now == nil {
		now = time.Now
	}
	return &core{
		cache:   newCache(cfg.CacheSize),
		scope:   scope,
		maxTTL:  cfg.MaxTTL,
		negTTL:  cfg.NegativeTTL,
		timeout: cfg.Timeout,
		limit:   cfg.Calls,
		now:     now,
		log:     logger,
		traced:  cfg.Tracer != nil,
	}
}

// traceCache marks the caller's span with whether the cache answered,
// when tracing is on.
func (c *core) traceCache(ctx context.Context, hit bool) {
	if !c.traced {
		return
	}
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.SetAttributes(attribute.Bool("portcullis.token.cache_hit", hit))
	}
}

// cached answers from the cache; ok is false on a miss. It allocates
// nothing: this is the path nearly every gateway request takes.
func (c *core) cached(k cacheKey) (v *token.Verified, err error, ok bool) {
	now := c.now().UnixNano()
	s := c.cache.shard(&k)
	s.mu.RLock()
	e, found := s.entries[k]
	s.mu.RUnlock()
	if !found || now >= e.expires {
		return nil, nil, false
	}
	if e.err != nil {
		s.negHits.Add(1)
		return nil, e.err, true
	}
	s.hits.Add(1)
	return e.v, nil, true
}

// errRevoked answers a token this node was told is revoked.
var errRevoked = fmt.Errorf("%w: revoked", ErrInactive)

// forget replaces the entry of k with a tombstone: k is answered inactive
// without asking the issuer, for as long as a positive answer could have
// been cached (the longer of MaxTTL and NegativeTTL). Revocation is
// final, so refusing is always right; asking again at once is not. The
// node of the issuer that answers may not have heard of the revocation
// yet (an authorization server keeps its records for a moment and hears
// of revocations through the same notices as the gateway), and its stale
// "active" would then be cached for MaxTTL. A resolution in flight stores
// nothing either (the epoch moved).
func (c *core) forget(k cacheKey) {
	now := c.now().UnixNano()
	s := c.cache.shard(&k)
	s.mu.Lock()
	c.epoch.Add(1)
	c.cache.put(s, k, entry{err: errRevoked, expires: now + int64(max(c.maxTTL, c.negTTL))}, now)
	s.mu.Unlock()
}

// flush drops every entry, as after a gap in the revocation notices
// during which any cached token may have been revoked.
func (c *core) flush() {
	c.flushed.Store(c.now().UnixNano())
	for i := range c.cache.shards {
		s := &c.cache.shards[i]
		s.mu.Lock()
		c.epoch.Add(1)
		clear(s.entries)
		s.mu.Unlock()
	}
}

// fetchFunc resolves one token for real. Its error must wrap ErrInactive
// (the answer is cached for NegativeTTL) or ErrUnavailable (not cached).
type fetchFunc func(ctx context.Context) (*token.Verified, error)

// load resolves a missed key: it joins the call in flight for k, or starts
// one. The call runs in its own goroutine under a context detached from
// any one caller, bounded by the configured timeout, so a client hanging
// up does not fail the other waiters or waste the answer.
func (c *core) load(ctx context.Context, k cacheKey, fetch fetchFunc) (*token.Verified, error) {
	c.misses.Add(1)
	c.traceCache(ctx, false)
	s := c.cache.shard(&k)
	s.mu.Lock()
	// Another caller may have filled the entry since cached looked.
	if e, ok := s.entries[k]; ok && c.now().UnixNano() < e.expires {
		s.mu.Unlock()
		return e.v, e.err
	}
	cl, ok := s.inflight[k]
	if !ok {
		// A new call needs a slot; waiting for one would queue without
		// bound, so a full limit answers at once.
		if c.limit != nil && !c.limit.tryAcquire() {
			s.mu.Unlock()
			c.busy.Add(1)
			return nil, ErrBusy
		}
		cl = &call{done: make(chan struct{}), epoch: c.epoch.Load()}
		s.inflight[k] = cl
		c.calls.Add(1)
		go c.run(context.WithoutCancel(ctx), k, s, cl, fetch)
	}
	s.mu.Unlock()
	select {
	case <-cl.done:
		return cl.v, cl.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: caller gave up: %w", ErrUnavailable, context.Cause(ctx))
	}
}

// run makes the shared call and publishes its result to the cache and to
// every waiter.
func (c *core) run(ctx context.Context, k cacheKey, s *shard, cl *call, fetch fetchFunc) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	v, err := c.safeFetch(ctx, &k, fetch)
	if err == nil && (v == nil || v.Claims == nil) {
		// A verifier answering nil, nil is a bug; never let it through.
		v, err = nil, fmt.Errorf("%w: verifier returned no claims", ErrUnavailable)
	}
	cl.v, cl.err = v, err

	now := c.now()
	s.mu.Lock()
	delete(s.inflight, k)
	// A forget or flush since the call began (the token may have been
	// revoked after the issuer answered): answer the waiters, cache
	// nothing. The epoch is read under the shard lock that forget holds
	// while it moves it, so no forget of k slips between check and put.
	stale := c.epoch.Load() != cl.epoch
	switch {
	case stale:
		if err != nil && !errors.Is(err, ErrInactive) {
			c.errs.Add(1)
		}
	case err == nil:
		exp := now.Add(c.maxTTL)
		if e := v.Claims.ExpiresAt; !e.IsZero() && e.Before(exp) {
			exp = e
		}
		if f := c.flushed.Load(); f != 0 {
			if settled := time.Unix(0, f).Add(flushSettle); now.Before(settled) && settled.Before(exp) {
				exp = settled
			}
		}
		// A token the verifier accepted within its clock leeway may
		// already be past exp: answer this once, cache nothing.
		if exp.After(now) {
			c.cache.put(s, k, entry{v: v, expires: exp.UnixNano()}, now.UnixNano())
		}
	case errors.Is(err, ErrInactive):
		c.cache.put(s, k, entry{err: err, expires: now.Add(c.negTTL).UnixNano()}, now.UnixNano())
	default:
		c.errs.Add(1)
	}
	s.mu.Unlock()
	// The slot is free before anyone hears the answer, so a caller that
	// resolves again at once is not refused for this call's sake.
	if c.limit != nil {
		c.limit.release()
	}
	close(cl.done)
}

// safeFetch runs fetch and turns a panic into ErrUnavailable: the call
// runs on a goroutine of its own, where a panic would end the whole
// process rather than one request.
func (c *core) safeFetch(ctx context.Context, k *cacheKey, fetch fetchFunc) (v *token.Verified, err error) {
	defer func() {
		if p := recover(); p != nil {
			// The panic value could quote its input, a token; the type
			// and the stack (which shows no string contents) cannot.
			c.log.ErrorContext(ctx, "token resolution panicked",
				"panic_type", fmt.Sprintf("%T", p), "stack", string(debug.Stack()))
			v, err = nil, fmt.Errorf("%w: internal error", ErrUnavailable)
		}
	}()
	return fetch(ctx)
}

func (c *core) stats() Stats {
	st := Stats{
		Misses:         c.misses.Load(),
		Introspections: c.calls.Load(),
		Errors:         c.errs.Load(),
		Busy:           c.busy.Load(),
	}
	for i := range c.cache.shards {
		st.Hits += c.cache.shards[i].hits.Load()
		st.NegativeHits += c.cache.shards[i].negHits.Load()
	}
	return st
}

// digest is sha256.Sum256 of s (the value token.Digest returns) without
// the heap copy a []byte(s) conversion of a token makes: tokens that fit
// (opaque ones, split signatures of every allowed algorithm) are copied
// into a buffer on the stack instead.
func digest(s string) [sha256.Size]byte {
	var buf [512]byte
	if len(s) <= len(buf) {
		n := copy(buf[:], s)
		return sha256.Sum256(buf[:n])
	}
	return sha256.Sum256([]byte(s))
}
