package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/publish"
	"github.com/portcullis/portcullis/internal/store"
)

// catalogStore is what the gateway's catalog sync reads: the revision to
// poll, and the stored catalog itself.
type catalogStore interface {
	publish.Store
	CatalogRevision(ctx context.Context) (int64, error)
}

var _ catalogStore = (*store.DB)(nil)

// storeSource is the catalog.Source of a gateway: the configuration
// file's catalog plus the stored catalog's published and deprecated
// versions of the gateway's group and its plans (catalog.Merge). A
// stored entry that clashes with the file is left out, the file
// winning, with a warning: writes refuse clashes, but the file can
// change after a write.
type storeSource struct {
	st publish.Store
	// group is the gateway group served (gateway.group), never "":
	// catalog.Merge reads "" as every group.
	group  string
	logger *slog.Logger

	mu   sync.Mutex
	file catalog.Snapshot
}

var _ catalog.Source = (*storeSource)(nil)

// newStoreSource is the source of a gateway of the default group.
func newStoreSource(st publish.Store, file catalog.Snapshot, logger *slog.Logger) *storeSource {
	return newGroupSource(st, file, catalog.DefaultGatewayGroup, logger)
}

// newGroupSource is the source of a gateway of group (gateway.group);
// "" is the default group, as in the configuration.
func newGroupSource(st publish.Store, file catalog.Snapshot, group string, logger *slog.Logger) *storeSource {
	if group == "" {
		group = catalog.DefaultGatewayGroup
	}
	return &storeSource{st: st, group: group, file: file, logger: logger}
}

// setFile replaces the file's catalog (after SIGHUP).
func (s *storeSource) setFile(file catalog.Snapshot) {
	s.mu.Lock()
	s.file = file
	s.mu.Unlock()
}

// fileSnapshot returns the file's catalog alone.
func (s *storeSource) fileSnapshot() catalog.Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.file
}

// Snapshot reads the stored catalog and merges its group's versions
// with the file's.
func (s *storeSource) Snapshot(ctx context.Context) (catalog.Snapshot, error) {
	file := s.fileSnapshot()
	doc, err := publish.New(s.st, nil, file, nil, nil).Export(ctx)
	if err != nil {
		return catalog.Snapshot{}, fmt.Errorf("stored catalog: %w", err)
	}
	snap, skipped := catalog.Merge(file, doc, s.group)
	for _, why := range skipped {
		s.logger.Warn("stored catalog entry not served", "component", "catalog", "gateway_group", s.group, "reason", why)
	}
	return snap, nil
}

// reloader is the gateway's route-table swap.
type reloader interface {
	Reload(ctx context.Context, snap catalog.Snapshot) error
}

// catalogSync keeps a gateway's route table on the stored catalog's
// revision: every poll it reads the revision and, when it moved (or the
// file's catalog changed), rebuilds from the source and swaps the table.
// A failure keeps the table serving and is reported by status (for
// /readyz) and the sync-age metric.
type catalogSync struct {
	st     catalogStore
	src    *storeSource
	g      reloader
	now    func() time.Time
	logger *slog.Logger
	// kicks asks run for a sync before the next poll (a Redis notice);
	// one pending kick is enough.
	kicks chan struct{}
	// syncMu makes syncs one at a time: two overlapping rebuilds could
	// otherwise swap in the older snapshot last.
	syncMu sync.Mutex

	mu sync.Mutex
	// rev is the revision the table was built from; stale forces a
	// rebuild whatever the revision (a failed build, a file reload).
	rev   int64
	stale bool
	// synced is when the table was last known to be current.
	synced time.Time
	err    error
}

// newCatalogSync keeps g on what src serves. Every line it logs names
// the gateway group: nodes of different groups serve different tables
// from one store, and their lines must be told apart.
func newCatalogSync(st catalogStore, src *storeSource, g reloader, now func() time.Time, logger *slog.Logger) *catalogSync {
	return &catalogSync{st: st, src: src, g: g, now: now,
		logger: logger.With("component", "catalog", "gateway_group", src.group), stale: true,
		kicks: make(chan struct{}, 1)}
}

// initial builds the first snapshot. A store that cannot be read leaves
// the file's catalog alone and the sync stale, so the loop catches up
// once the store answers; the gateway starts either way.
func (c *catalogSync) initial(ctx context.Context) catalog.Snapshot {
	rev, err := c.st.CatalogRevision(ctx)
	var snap catalog.Snapshot
	if err == nil {
		snap, err = c.src.Snapshot(ctx)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.err = err
		c.logger.Warn("stored catalog unreadable at start; serving the configuration file's APIs only", "err", err)
		return c.src.fileSnapshot()
	}
	c.rev, c.stale, c.synced = rev, false, c.now()
	return snap
}

// setFile swaps the file's catalog and rebuilds the table now.
func (c *catalogSync) setFile(ctx context.Context, file catalog.Snapshot) error {
	c.src.setFile(file)
	c.mu.Lock()
	c.stale = true
	c.mu.Unlock()
	return c.sync(ctx)
}

// sync is one poll.
func (c *catalogSync) sync(ctx context.Context) error {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	rev, err := c.st.CatalogRevision(ctx)
	if err == nil {
		c.mu.Lock()
		current := !c.stale && rev == c.rev
		c.mu.Unlock()
		if current {
			c.mu.Lock()
			c.synced, c.err = c.now(), nil
			c.mu.Unlock()
			return nil
		}
		var snap catalog.Snapshot
		if snap, err = c.src.Snapshot(ctx); err == nil {
			err = c.g.Reload(ctx, snap)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		// Once per outage, not once per poll.
		if ctx.Err() == nil && c.err == nil {
			c.logger.Warn("catalog sync failed; the last route table keeps serving", "revision", c.rev, "err", err)
		}
		c.err, c.stale = err, true
		return err
	}
	if rev != c.rev {
		c.logger.Info("route table rebuilt from the catalog", "revision", rev)
	}
	c.rev, c.stale, c.synced, c.err = rev, false, c.now(), nil
	return nil
}

// status reports whether the last poll failed, and if so a short reason
// for /readyz: how long the table has gone unsynced, and its revision.
func (c *catalogSync) status() (ok bool, detail string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		return true, ""
	}
	reason := "catalog unreadable"
	var fe *catalog.FieldError
	if errors.As(c.err, &fe) {
		reason = "catalog invalid"
	}
	age := "never synced"
	if !c.synced.IsZero() {
		age = fmt.Sprintf("last synced %s ago", c.now().Sub(c.synced).Truncate(time.Second))
	}
	group := ""
	if c.src.group != catalog.DefaultGatewayGroup {
		group = " (gateway group " + c.src.group + ")"
	}
	return false, fmt.Sprintf("gateway: %s (%s); serving catalog revision %d%s", reason, age, c.rev, group)
}

// age is the seconds since the table was last known current; since the
// process started when it never was.
func (c *catalogSync) age(start time.Time) float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.synced
	if t.IsZero() {
		t = start
	}
	return c.now().Sub(t).Seconds()
}

// register adds the sync's metrics to reg.
func (c *catalogSync) register(reg prometheus.Registerer) error {
	start := c.now()
	return reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "portcullis_gateway_catalog_sync_age_seconds",
		Help:        "Seconds since the gateway's route table was last known to match the stored catalog (of its gateway group); it grows while the store cannot be read.",
		ConstLabels: prometheus.Labels{"gateway_group": c.src.group},
	}, func() float64 { return c.age(start) }))
}

// kick asks run to sync now; it never blocks.
func (c *catalogSync) kick() {
	select {
	case c.kicks <- struct{}{}:
	default:
	}
}

// run polls every period, and syncs on each kick, until ctx ends. A kick
// only brings the revision check forward.
func (c *catalogSync) run(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.kicks:
		}
		_ = c.sync(ctx)
	}
}
