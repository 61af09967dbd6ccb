package server

import (
	"context"
	"sync"
	"time"

	"github.com/portcullis/portcullis/internal/config"
)

// Fallbacks for intervals a configuration left at zero (config's defaults
// normally fill them; a zero ticker period would panic).
const (
	defaultReloadInterval = 30 * time.Second
	defaultPurgeInterval  = time.Minute
)

// startLoops runs the background maintenance of the roles this node runs
// until ctx ends (the gateway's catalog sync, the authorization server's
// key reloads, purges and audit stream); wg tracks the goroutines so
// shutdown can wait for them and none outlives the server. Key reloads
// and purges belong to the authorization server: a node without it holds
// no keys to reload and must not delete the shared store's rows.
func (w *wiring) startLoops(ctx context.Context, wg *sync.WaitGroup) {
	if w.catalog != nil {
		poll := time.Duration(w.cfg.Gateway.CatalogPoll)
		if poll <= 0 {
			poll = config.DefaultCatalogPoll
		}
		wg.Go(func() { w.catalog.run(ctx, poll) })
		if w.redis != nil {
			// Redis notices bring the sync forward; the poll stays.
			f := newNoticeFollower(w.redis, w.cfg.RateLimit.Redis.Prefix, w.catalog.kick, w.logger)
			wg.Go(func() { f.run(ctx) })
		}
	}
	if w.redis != nil && w.revocations != nil && (w.gateway != nil || w.oauth != nil) {
		// Tokens revoked on other nodes leave this node's caches at once.
		var sink nodeSink
		if w.gateway != nil {
			sink.gateway = w.gateway
		}
		if w.oauth != nil {
			sink.oauth = w.oauth
		}
		f := w.revocations.follower(sink)
		wg.Go(func() { f.run(ctx) })
	}
	if w.auditStream != nil {
		wg.Go(func() { w.auditStream.run(ctx) })
	}
	if w.keys == nil {
		return
	}
	reload := time.Duration(w.cfg.Keys.ReloadInterval)
	if reload <= 0 {
		reload = defaultReloadInterval
	}
	purge := time.Duration(w.cfg.PurgeInterval)
	if purge <= 0 {
		purge = defaultPurgeInterval
	}
	wg.Go(func() { every(ctx, reload, w.reloadKeys) })
	wg.Go(func() { every(ctx, purge, w.purge) })
}

// every calls f each period until ctx ends.
func every(ctx context.Context, period time.Duration, f func(context.Context)) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f(ctx)
		}
	}
}

// reloadKeys picks up rotations made by the CLI or another node. A failed
// reload keeps the keys already in memory, so signing goes on.
func (w *wiring) reloadKeys(ctx context.Context) {
	if err := w.keys.Reload(ctx); err != nil && ctx.Err() == nil {
		w.logger.Warn("reloading signing keys failed", "component", "keys", "err", err)
	}
}

// purge deletes expired tokens, codes, sessions and jti records, and
// retired keys past their retention.
func (w *wiring) purge(ctx context.Context) {
	log := w.logger.With("component", "purge")
	rows, err := w.db.PurgeExpired(ctx, w.now())
	if err != nil && ctx.Err() == nil {
		log.Warn("purging expired records failed", "err", err)
	}
	purgedKeys, err := w.keys.Purge(ctx)
	if err != nil && ctx.Err() == nil {
		log.Warn("purging retired keys failed", "err", err)
	}
	log.Debug("purged", "rows", rows, "keys", purgedKeys)
}
