package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/ratelimit"
)

// Revoker revokes tokens at the authorization server, for abuse rules
// with revoke_tokens: every token of clientID, or only subject's when it
// is not empty. It returns how many tokens it revoked. On one node the
// store does it; across the network, the authorization server's admin
// API.
type Revoker interface {
	RevokeTokens(ctx context.Context, clientID, subject string) (int64, error)
}

// Block keys name what is blocked, so the admin API lists readable keys
// and a client id can never be mistaken for a subject.
const (
	blockPrefixClient = "client_id:"
	blockPrefixSub    = "sub:"
)

// revokeTimeout bounds a revocation, which runs on a refused request's
// path and must not hold it for long.
const revokeTimeout = 5 * time.Second

// backendWarnInterval spaces the warnings about a failing backend: one
// per interval, however many requests see the failure (the metric counts
// them all).
const backendWarnInterval = 10 * time.Second

// abuseRule is a compiled abuse rule: the hidden limit that counts its
// rejections per key (a rolling quota of Rejections per Window, in the
// same backend as the limits, so every node counts together).
type abuseRule struct {
	name   string
	bySub  bool
	block  time.Duration
	revoke bool
	lim    *ratelimit.Limit
	blocks counter
}

// abuseRule compiles one rule of a validated snapshot; what it refuses
// is what the gateway lacks to enforce it (a block list, a revoker).
func (b *builder) abuseRule(c *catalog.AbuseRule) (*abuseRule, error) {
	a := &abuseRule{
		name:   c.Name,
		block:  c.Block.Duration(),
		revoke: c.RevokeTokens,
		lim: &ratelimit.Limit{
			Name:    catalog.AbuseLimitPrefix + c.Name,
			Kind:    ratelimit.Quota,
			Rolling: true,
			Count:   c.Rejections,
			Period:  c.Window.Duration(),
			// Counting rejections is best effort: while the backend is
			// away, each node counts its own.
			OnError: ratelimit.Local,
		},
		blocks: b.limitRT.metrics.blocksBy(c.Name),
	}
	switch catalog.KeyKind(c.Key) {
	case catalog.KeyClientID:
	case catalog.KeySub:
		a.bySub = true
	default:
		return nil, fmt.Errorf("abuse rule %s: key %q is not client_id or sub", c.Name, c.Key)
	}
	if b.blocks == nil {
		return nil, errors.New("abuse rules need a block list, and the gateway has none")
	}
	if a.revoke && b.limitRT.revoker == nil {
		return nil, fmt.Errorf("abuse rule %s: revoke_tokens is set, but the gateway has no way to revoke tokens", c.Name)
	}
	return a, nil
}

// limitRuntime is what the limits share across reloads: the interned keys
// and header values, metrics, the logger, the revoker, and the state
// that keeps logs and blocks to one per event.
type limitRuntime struct {
	keys    *interner[string]
	headers *interner[[]string]
	metrics *limitMetrics
	logger  *slog.Logger
	revoker Revoker
	// lastWarn is when the backend failure was last logged (unix nanos).
	lastWarn atomic.Int64
	// blockMu guards blocking, the keys this node is blocking right now:
	// "not blocked yet, block it" is decided under it, so concurrent
	// rejections of one key block (and revoke) once. The blocking itself
	// (a Redis call, a revocation in the database) runs after the lock
	// is released, so a slow one holds up only its own request, never
	// the blocks of other keys.
	blockMu  sync.Mutex
	blocking map[string]struct{}
}

// internedKeys bounds the interned keys and header values: past it,
// shards are emptied and keys are made again.
const internedKeys = 1 << 16

func newLimitRuntime(logger *slog.Logger, m *limitMetrics, revoker Revoker) *limitRuntime {
	return &limitRuntime{
		keys:     newInterner(internedKeys, internedString),
		headers:  newInterner(internedKeys, internedHeader),
		metrics:  m,
		logger:   logger,
		revoker:  revoker,
		blocking: map[string]struct{}{},
	}
}

// backendError counts a backend failure and logs it at most once per
// backendWarnInterval.
func (rt *limitRuntime) backendError(ctx context.Context, err error, allowed bool, now time.Time) {
	outcome := "denied"
	if allowed {
		outcome = "allowed"
	}
	rt.metrics.backendError(allowed)
	last := rt.lastWarn.Load()
	if last != 0 && now.UnixNano()-last < int64(backendWarnInterval) {
		return
	}
	if !rt.lastWarn.CompareAndSwap(last, now.UnixNano()) {
		return // another request is logging it
	}
	rt.logger.LogAttrs(ctx, slog.LevelWarn, "rate limit backend unavailable",
		slog.String("outcome", outcome), slog.String("err", err.Error()))
}

// claimBlock reports whether the caller is the one to block key: it is
// not blocked yet (Blocked is a local lookup) and no other request of
// this node is blocking it. A true answer must be followed by
// releaseBlock.
func (rt *limitRuntime) claimBlock(blocks ratelimit.Blocks, key string, now time.Time) bool {
	rt.blockMu.Lock()
	defer rt.blockMu.Unlock()
	if _, busy := rt.blocking[key]; busy {
		return false
	}
	if _, ok := blocks.Blocked(key, now); ok {
		return false
	}
	rt.blocking[key] = struct{}{}
	return true
}

// releaseBlock ends a claim: by then the block is in the block list (or
// failed, and the next rejection over the limit tries again).
func (rt *limitRuntime) releaseBlock(key string) {
	rt.blockMu.Lock()
	delete(rt.blocking, key)
	rt.blockMu.Unlock()
}

// recordRejection counts a refused request against every abuse rule and
// blocks the keys that went over. It runs only on refusals, so its
// allocations cost the refused caller, not the admitted ones.
func (t *limitTable) recordRejection(ctx context.Context, clientID, sub string, now time.Time) {
	var states [1]ratelimit.State
	for _, a := range t.abuse {
		value, prefix := clientID, blockPrefixClient
		if a.bySub {
			value, prefix = sub, blockPrefixSub
		}
		if value == "" {
			continue // nothing to count or block
		}
		key := string(appendKeyValue(nil, value))
		ok, err := t.backend.Allow(ctx, []ratelimit.Check{{Limit: a.lim, Key: key}}, now, states[:])
		if err != nil && !ok {
			t.rt.backendError(ctx, err, false, now)
			continue
		}
		if ok {
			continue
		}
		t.block(ctx, a, prefix+value, clientID, sub, now)
	}
}

// block blocks key under rule a, once: a key already blocked (by this
// node or another), or being blocked by another request of this node, is
// left alone. It decides under rt.blockMu and acts after releasing it.
func (t *limitTable) block(ctx context.Context, a *abuseRule, key, clientID, sub string, now time.Time) {
	rt := t.rt
	if !rt.claimBlock(t.blocks, key, now) {
		return
	}
	defer rt.releaseBlock(key)
	until := now.Add(a.block)
	// The block outlives the request that triggered it.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), revokeTimeout)
	defer cancel()
	if err := t.blocks.Block(bctx, ratelimit.Block{Key: key, Until: until, Reason: "abuse rule " + a.name}); err != nil {
		rt.logger.LogAttrs(ctx, slog.LevelError, "abuse block failed",
			slog.String("rule", a.name), slog.String("key", key), slog.String("err", err.Error()))
		return
	}
	a.blocks.inc()
	attrs := []slog.Attr{
		slog.String("rule", a.name),
		slog.String("key", key),
		slog.String("client_id", clientID),
		slog.String("sub", sub),
		slog.Time("until", until),
	}
	if a.revoke {
		subject := ""
		if a.bySub {
			subject = sub
		}
		switch {
		case clientID == "":
			// The authorization server revokes per client; without one
			// there is nothing it can find.
			attrs = append(attrs, slog.String("revoke", "skipped: the token names no client"))
		default:
			n, err := rt.revoker.RevokeTokens(bctx, clientID, subject)
			if err != nil {
				attrs = append(attrs, slog.String("revoke_err", err.Error()))
			} else {
				attrs = append(attrs, slog.Int64("revoked", n))
			}
		}
	}
	rt.logger.LogAttrs(ctx, slog.LevelWarn, "abuse block", attrs...)
}
