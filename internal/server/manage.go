package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/keys"
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

// Clients is the client service; it reads the master key only when a
// secret is issued.
func (in *Installation) Clients() *registry.Clients {
	return registry.NewClients(in.db, in.secretKey, in.now)
}

// Users is the user service.
func (in *Installation) Users() *registry.Users {
	return registry.NewUsers(in.db, nil, in.now)
}

// Keys returns the signing-key manager; it needs the existing master key.
func (in *Installation) Keys() (*keys.Manager, error) {
	master, err := loadMasterKey(in.cfg, in.getenv, in.logger, false)
	if err != nil {
		return nil, err
	}
	km, err := keys.NewManager(in.db, master, keysConfig(in.cfg), in.logger, in.now)
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	return km, nil
}

// Close releases the store.
func (in *Installation) Close() error {
	if err := in.db.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// secretKey is the key of client-secret digests, as the server derives it.
func (in *Installation) secretKey() ([]byte, error) {
	master, err := loadMasterKey(in.cfg, in.getenv, in.logger, false)
	if err != nil {
		return nil, err
	}
	return keys.DeriveKey(master, keys.PurposeClientSecrets), nil
}
