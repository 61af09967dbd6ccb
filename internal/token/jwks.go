package token

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/pkg/issuer"
)

// JWKSConfig configures a JWKS cache for one issuer.
type JWKSConfig struct {
	// Issuer is the expected issuer; the JWKS URI is read from its
	// discovery document (/.well-known/openid-configuration, falling back
	// to /.well-known/oauth-authorization-server) unless JWKSURI is set.
	Issuer  string
	JWKSURI string
	// Refresh is how often keys are refetched in the background; zero
	// means 5m.
	Refresh time.Duration
	// MinRefetch bounds refetches triggered by an unknown kid: at most one
	// per MinRefetch (zero means 30s), so junk kids cannot flood the
	// issuer.
	MinRefetch time.Duration
	// Client fetches documents; nil means a client with a 10s timeout.
	Client *http.Client
}

// Defaults of JWKSConfig.
const (
	defaultRefresh    = 5 * time.Minute
	defaultMinRefetch = 30 * time.Second
	// firstRetry is the delay before retrying a failed background fetch;
	// it doubles up to Refresh, so an issuer that is down is not hammered
	// but a cache that never loaded recovers quickly.
	firstRetry = time.Second
)

// errStarted is returned by a second call of Start.
var errStarted = errors.New("token: jwks cache already started")

// JWKSCache holds an issuer's public keys, refreshed in the background.
// Lookups never block on the network except for the bounded refetch of an
// unknown kid. Safe for concurrent use.
type JWKSCache struct {
	cfg    JWKSConfig
	cfgErr error // a configuration mistake, reported by Start
	client *http.Client
	logger *slog.Logger
	now    func() time.Time

	// snap is the current key set. It is never modified after it is
	// stored, so readers need no lock.
	snap      atomic.Pointer[keySet]
	refreshes atomic.Uint64
	started   atomic.Bool

	// installMu orders snapshot swaps so generations only grow.
	installMu sync.Mutex

	// uriMu guards jwksURI, the URI found by discovery; empty means
	// discover again on the next fetch.
	uriMu   sync.Mutex
	jwksURI string

	// refetchMu guards the unknown-kid refetch state: when the last one
	// started and the one in flight, which concurrent misses wait for
	// instead of fetching again.
	refetchMu   sync.Mutex
	lastRefetch time.Time
	inflight    *refetchCall
}

// refetchCall is one unknown-kid refetch that several lookups may wait on.
type refetchCall struct {
	done chan struct{}
	err  error
}

// NewJWKSCache returns a cache; call Start to load and begin refreshing.
// A nil logger discards log lines; a nil now means time.Now. Configuration
// mistakes are reported by Start.
func NewJWKSCache(cfg JWKSConfig, logger *slog.Logger, now func() time.Time) *JWKSCache {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	c := &JWKSCache{
		logger: logger.With("component", "jwks", "issuer", cfg.Issuer),
		now:    now,
	}
	c.cfgErr = c.configure(cfg)
	return c
}

// configure applies defaults and validates cfg. It never fetches anything.
func (c *JWKSCache) configure(cfg JWKSConfig) error {
	if cfg.Refresh == 0 {
		cfg.Refresh = defaultRefresh
	}
	if cfg.MinRefetch == 0 {
		cfg.MinRefetch = defaultMinRefetch
	}
	base := cfg.Client
	if base == nil {
		base = &http.Client{Timeout: issuer.FetchTimeout}
	}
	c.client = issuer.RestrictRedirects(base)
	c.cfg = cfg
	switch {
	case cfg.Refresh < 0:
		return errors.New("token: jwks refresh interval must not be negative")
	case cfg.MinRefetch < 0:
		return errors.New("token: jwks minimum refetch interval must not be negative")
	case cfg.JWKSURI != "":
		if _, err := issuer.CheckURL(cfg.JWKSURI); err != nil {
			return fmt.Errorf("token: jwks uri: %w", err)
		}
		c.jwksURI = cfg.JWKSURI
	case cfg.Issuer == "":
		return errors.New("token: jwks cache needs an issuer or a jwks uri")
	}
	if cfg.Issuer != "" {
		if err := issuer.CheckIdentifier(cfg.Issuer); err != nil {
			return fmt.Errorf("token: issuer: %w", err)
		}
	}
	return nil
}

// Start fetches the keys once (the error says why when that fails; the
// cache keeps retrying in the background) and refreshes until ctx ends.
// A configuration mistake is returned without starting anything, and so
// is a second call.
func (c *JWKSCache) Start(ctx context.Context) error {
	if c.cfgErr != nil {
		return c.cfgErr
	}
	if !c.started.CompareAndSwap(false, true) {
		return errStarted
	}
	err := c.refresh(ctx)
	go c.run(ctx, err == nil)
	if err != nil {
		return fmt.Errorf("token: jwks: %w", err)
	}
	return nil
}

// run refreshes the key set until ctx ends: every Refresh, with jitter so
// a fleet of gateways does not fetch in lockstep, and sooner with backoff
// while fetches fail.
func (c *JWKSCache) run(ctx context.Context, ok bool) {
	retry := firstRetry
	for {
		wait := jitter(c.cfg.Refresh)
		if !ok {
			wait = min(retry, c.cfg.Refresh)
			retry = min(2*retry, c.cfg.Refresh)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if err := c.refresh(ctx); err != nil {
			// The old set stays in use: a failing issuer must not turn
			// every request away while its keys are still valid.
			c.logger.Warn("jwks refresh failed; keeping the previous key set", "err", err)
			ok = false
			continue
		}
		ok, retry = true, firstRetry
	}
}

// jitter returns d ± 10 %, uniformly.
func jitter(d time.Duration) time.Duration {
	span := int64(d / 5)
	if span <= 0 {
		return d
	}
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return d - d/10 + time.Duration(binary.LittleEndian.Uint64(b[:])%uint64(span))
}

// Ready reports whether a key set has been loaded.
func (c *JWKSCache) Ready() bool { return c.snap.Load() != nil }

// Refreshes counts successful fetches (for metrics).
func (c *JWKSCache) Refreshes() uint64 { return c.refreshes.Load() }

// generation identifies the key set in use; it changes only when a fetch
// brings different keys, so results verified under an older generation can
// be re-checked after a key is withdrawn.
func (c *JWKSCache) generation() uint64 {
	if s := c.snap.Load(); s != nil {
		return s.gen
	}
	return 0
}

// Key returns the key with kid; an unknown kid triggers at most one
// refetch per MinRefetch. An empty kid matches only when the set holds
// exactly one key usable with alg. Errors wrap ErrUnknownKey, or
// ErrAlgorithm when the key exists but may not be used with alg. The key
// returned is shared and must not be modified.
func (c *JWKSCache) Key(ctx context.Context, kid string, alg string) (*jose.JSONWebKey, error) {
	k, retry, err := c.snap.Load().lookup(kid, alg)
	if !retry {
		return k, err
	}
	if rerr := c.refetch(ctx, kid, alg); rerr != nil {
		return nil, rerr
	}
	k, _, err = c.snap.Load().lookup(kid, alg)
	return k, err
}

// refetch fetches the key set again after a lookup missed, unless another
// refetch is under way (then it waits for that one) or the last one began
// less than MinRefetch ago. It returns an error only when the caller
// should give up without looking again.
func (c *JWKSCache) refetch(ctx context.Context, kid, alg string) error {
	c.refetchMu.Lock()
	if call := c.inflight; call != nil {
		c.refetchMu.Unlock()
		return c.wait(ctx, call)
	}
	// A refetch may have completed while this caller waited for the
	// lock; its result is already in the snapshot.
	if _, retry, _ := c.snap.Load().lookup(kid, alg); !retry {
		c.refetchMu.Unlock()
		return nil
	}
	now := c.now()
	if !c.lastRefetch.IsZero() && now.Sub(c.lastRefetch) < c.cfg.MinRefetch {
		c.refetchMu.Unlock()
		return fmt.Errorf("%w: not in the key set (refetch limited)", ErrUnknownKey)
	}
	c.lastRefetch = now
	call := &refetchCall{done: make(chan struct{})}
	c.inflight = call
	c.refetchMu.Unlock()

	// The fetch outlives a caller that gives up, so the waiters it
	// serves are not cut short; issuer.FetchTimeout still bounds it.
	go func(ctx context.Context) {
		if err := c.refresh(ctx); err != nil {
			c.logger.Warn("jwks refetch for an unknown key failed", "err", err)
			call.err = fmt.Errorf("%w: key set unavailable", ErrUnknownKey)
		}
		c.refetchMu.Lock()
		c.inflight = nil
		c.refetchMu.Unlock()
		close(call.done)
	}(context.WithoutCancel(ctx))
	return c.wait(ctx, call)
}

// wait blocks until call finishes or ctx ends.
func (c *JWKSCache) wait(ctx context.Context, call *refetchCall) error {
	select {
	case <-call.done:
		return call.err
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrUnknownKey, ctx.Err())
	}
}

// refresh fetches the key set once and installs it. On failure the
// previous set stays in place.
func (c *JWKSCache) refresh(ctx context.Context) error {
	uri, discovered, err := c.keySetURI(ctx)
	if err != nil {
		return err
	}
	body, err := issuer.FetchJSON(ctx, c.client, uri)
	if err == nil {
		var set *issuer.KeySet
		if set, err = issuer.ParseKeySet(body); err == nil {
			c.install(&keySet{keys: set})
			c.refreshes.Add(1)
			return nil
		}
	}
	if discovered {
		// The issuer may have moved its keys: discover again next time.
		c.uriMu.Lock()
		c.jwksURI = ""
		c.uriMu.Unlock()
	}
	return err
}

// keySetURI returns the configured or discovered JWKS URI, discovering it
// when needed.
func (c *JWKSCache) keySetURI(ctx context.Context) (uri string, discovered bool, err error) {
	if c.cfg.JWKSURI != "" {
		return c.cfg.JWKSURI, false, nil
	}
	c.uriMu.Lock()
	uri = c.jwksURI
	c.uriMu.Unlock()
	if uri != "" {
		return uri, true, nil
	}
	uri, err = DiscoverEndpoint(ctx, c.client, c.cfg.Issuer, EndpointJWKS)
	if err != nil {
		return "", false, err
	}
	c.uriMu.Lock()
	c.jwksURI = uri
	c.uriMu.Unlock()
	return uri, true, nil
}

// install makes set current. A set holding the same keys as the current
// one keeps its generation, so routine refreshes do not invalidate
// verified tokens.
func (c *JWKSCache) install(set *keySet) {
	c.installMu.Lock()
	defer c.installMu.Unlock()
	old := c.snap.Load()
	switch {
	case old == nil:
		set.gen = 1
	case old.keys.Fingerprint() == set.keys.Fingerprint():
		return
	default:
		set.gen = old.gen + 1
		c.logger.Info("jwks key set changed", "keys", len(set.keys.Keys()))
	}
	c.snap.Store(set)
}
