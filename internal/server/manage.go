package server

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/keys"
	"github.com/portcullis/portcullis/internal/publish"
	"github.com/portcullis/portcullis/internal/registry"
	"github.com/portcullis/portcullis/internal/store"
)

// Installation is an installation opened by a management command: its
// store, and the domain services over it built the way the server builds
// them, so a client created from the command line authenticates at the
// server. It never creates a master key.
type Installation struct {
	cfg    *config.Config
	db     *store.DB
	logger *slog.Logger
	getenv func(string) string
	now    func() time.Time

	// master is the master key once checked against the store's key of
	// record (masterKey); nil before. mu guards it.
	mu     sync.Mutex
	master []byte
	// redis publishes catalog notices (ratelimit.backend redis); made on
	// the first Catalog call, nil before or without Redis. mu guards it.
	redis redis.UniversalClient
}

// OpenInstallation opens (and migrates) the store of cfg. getenv reads
// PORTCULLIS_MASTER_KEY (nil means none: the key file only); now is the
// clock (nil means time.Now).
func OpenInstallation(ctx context.Context, cfg *config.Config, getenv func(string) string, logger *slog.Logger, now func() time.Time) (*Installation, error) {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	db, err := openStore(ctx, cfg, logger, true)
	if err != nil {
		return nil, err
	}
	return &Installation{cfg: cfg, db: db, logger: logger, getenv: getenv, now: now}, nil
}

// Dialect names the database in use ("sqlite" or "postgres").
func (in *Installation) Dialect() string { return in.db.Dialect() }

// Clients is the client service; it reads (and checks) the master key
// only when a secret is issued.
func (in *Installation) Clients() *registry.Clients {
	return registry.NewClients(in.db, in.Auditor(), in.secretKey, in.now)
}

// Users is the user service.
func (in *Installation) Users() *registry.Users {
	return registry.NewUsers(in.db, in.Auditor(), nil, in.now)
}

// Keys returns the signing-key manager; it needs the existing master key,
// and refuses one that is not the store's key of record.
func (in *Installation) Keys(ctx context.Context) (*keys.Manager, error) {
	master, err := in.masterKey(ctx)
	if err != nil {
		return nil, err
	}
	km, err := keys.NewManager(in.db, master, keysConfig(in.cfg), in.logger, in.now)
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	return km, nil
}

// Close releases the store (and the Redis client of catalog notices).
func (in *Installation) Close() error {
	in.mu.Lock()
	if in.redis != nil {
		_ = in.redis.Close() // only notices went through it
		in.redis = nil
	}
	in.mu.Unlock()
	if err := in.db.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// secretKey is the key of client-secret digests, as the server derives it.
func (in *Installation) secretKey(ctx context.Context) (registry.SecretKey, error) {
	master, err := in.masterKey(ctx)
	if err != nil {
		return registry.SecretKey{}, err
	}
	return registry.SecretKey{Key: keys.DeriveKey(master, keys.PurposeClientSecrets), ID: keys.KeyID(master)}, nil
}

// masterKey loads the existing master key (never creating one) and checks
// it against the store's key of record once, as the server does at start:
// a command given the wrong key fails before it digests or seals anything.
func (in *Installation) masterKey(ctx context.Context) ([]byte, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.master != nil {
		return in.master, nil
	}
	master, err := loadMasterKey(in.cfg, in.getenv, in.logger, false)
	if err != nil {
		return nil, err
	}
	previous, err := loadPreviousMasterKey(in.getenv, master, in.logger)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	if err := checkMasterKey(ctx, in.db, master, previous, masterKeySource(in.cfg, in.getenv), in.logger, in.now()); err != nil {
		return nil, err
	}
	in.master = master
	return master, nil
}

// Catalog is the stored catalog's service (`portcullis apply`, `export`),
// writing through the audit trail; the configuration file's APIs and
// plans own their names and base paths. With ratelimit.backend redis,
// each apply also publishes a notice so gateways sync before their next
// poll.
func (in *Installation) Catalog() *publish.Service {
	in.mu.Lock()
	if in.redis == nil {
		in.redis = newRedisClient(in.cfg.RateLimit, in.getenv)
	}
	client := in.redis
	in.mu.Unlock()
	return publish.New(in.db, in.Auditor(), in.cfg.Gateway.Snapshot(), nil, in.now).
		Notify(newRedisNotifier(client, in.cfg.RateLimit.Redis.Prefix, in.logger))
}
