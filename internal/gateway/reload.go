package gateway

import (
	"context"
	"net/http"
	"sync/atomic"

	"github.com/portcullis/portcullis/internal/catalog"
)

// Reload builds a new route table from snap and swaps it in; on error the
// current table keeps serving and the error (a *ConfigError) says why.
// The snapshot is copied, defaulted and validated first; snap itself is
// never modified.
func (g *Gateway) Reload(ctx context.Context, snap catalog.Snapshot) error {
	snap = snap.Clone()
	snap.ApplyDefaults()
	if err := snap.Validate(); err != nil {
		return &ConfigError{Err: err}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	b := &builder{
		f:             g.f,
		logger:        g.logger,
		root:          g.root,
		now:           g.now,
		tracer:        g.tracer,
		baseDir:       g.baseDir,
		getenv:        g.getenv,
		split:         g.split,
		clientKeys:    g.clientKeys,
		dpopReplay:    g.dpopReplay,
		clientCerts:   g.clientCerts,
		metrics:       g.metrics,
		limiter:       g.limiter,
		blocks:        g.blocks,
		limitRT:       g.limitRT,
		preAuthMem:    g.preAuthMem,
		oldIssuers:    g.issuers,
		oldBackend:    g.backend,
		backendShared: g.backendShared,
		oldTransports: g.transports,
	}
	t, err := b.build(ctx, &snap)
	if err != nil {
		return err
	}
	warnAnyAudience(g.logger, &snap)
	// Only now, with the whole snapshot accepted, do new issuers
	// fetch their keys.
	startKeys(b.fresh, g.runKeys, g.logger)
	g.commit(t, b)
	return nil
}

// commit swaps t in, then retires what only the old table used: issuers
// (their key refresh stops; their cache counts are kept for the metrics)
// and transports (idle connections closed; in-flight ones finish).
func (g *Gateway) commit(t *table, b *builder) {
	g.table.Store(t)
	src := &sources{}
	for _, is := range b.issuers {
		src.keys = append(src.keys, is.keys)
		for _, r := range is.combos {
			src.add(r)
		}
	}
	old := g.sources.Swap(src)
	live := map[any]bool{}
	for _, s := range src.opaque {
		live[s] = true
	}
	for _, s := range src.split {
		live[s] = true
	}
	for _, s := range old.opaque {
		if !live[s] {
			st := s.Stats()
			g.retired.opaqueHits.Add(st.Hits + st.NegativeHits)
			g.retired.opaqueMisses.Add(st.Misses)
		}
	}
	for _, s := range old.split {
		if !live[s] {
			st := s.Stats()
			g.retired.splitHits.Add(st.Hits + st.NegativeHits)
			g.retired.splitMisses.Add(st.Misses)
		}
	}
	for url, is := range g.issuers {
		if b.issuers[url] != is {
			g.retired.refreshes.Add(is.keys.Refreshes())
			if is.stop != nil {
				is.stop()
			}
		}
	}
	for k, tr := range g.transports {
		if b.transports[k] != tr {
			tr.CloseIdleConnections()
		}
	}
	g.issuers, g.transports = b.issuers, b.transports
	g.backend = b.backend
}

// sources are the current issuers' key caches and token caches.
type sources struct {
	keys          []keySource
	opaque, split []cacheStats
}

func (s *sources) add(r *resolvers) {
	if c, ok := r.opaque.(cacheStats); ok {
		s.opaque = append(s.opaque, c)
	}
	if c, ok := r.split.(cacheStats); ok {
		s.split = append(s.split, c)
	}
}

// retiredCounts keep counters monotonic across reloads that drop an
// issuer or a resolver.
type retiredCounts struct {
	opaqueHits, opaqueMisses, splitHits, splitMisses, refreshes atomic.Uint64
}

// tokenCacheCounts sums cache hits and misses for a token kind.
func (g *Gateway) tokenCacheCounts(kind string) (hits, misses uint64) {
	src := g.sources.Load()
	list := src.opaque
	hits, misses = g.retired.opaqueHits.Load(), g.retired.opaqueMisses.Load()
	if kind == "split" {
		list = src.split
		hits, misses = g.retired.splitHits.Load(), g.retired.splitMisses.Load()
	}
	for _, s := range list {
		st := s.Stats()
		hits += st.Hits + st.NegativeHits
		misses += st.Misses
	}
	return hits, misses
}

// keyRefreshes sums the key sets fetched.
func (g *Gateway) keyRefreshes() uint64 {
	n := g.retired.refreshes.Load()
	for _, k := range g.sources.Load().keys {
		n += k.Refreshes()
	}
	return n
}

var _ http.Handler = (*Gateway)(nil)
