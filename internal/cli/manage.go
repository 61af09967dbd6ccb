package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/identity"
	"github.com/portcullis/portcullis/internal/keys"
	"github.com/portcullis/portcullis/internal/store"
)

// Source says which installation a management command works on: a config
// file, or the data directory of `portcullis demo`. Exactly one is given.
type Source struct {
	Config string `help:"Configuration file of the installation to manage." type:"path" placeholder:"FILE"`
	Data   string `help:"Data directory of a demo installation (its SQLite database and master key)." type:"path" placeholder:"DIR"`
}

// managed is an open installation for a management command.
type managed struct {
	cfg    *config.Config
	db     *store.DB
	rt     *Runtime
	logger *slog.Logger
	// getenv reads PORTCULLIS_MASTER_KEY; a demo directory is
	// self-contained and uses its own key file only.
	getenv func(string) string
}

// load returns the configuration Source names without opening anything.
func (s Source) load() (*config.Config, error) {
	switch {
	case (s.Config == "") == (s.Data == ""):
		return nil, errors.New("exactly one of --config or --data is required")
	case s.Config != "":
		return config.Load(s.Config)
	default:
		// A missing directory would silently become a new, empty
		// installation; refuse instead.
		db := filepath.Join(s.Data, demoDBFile)
		if _, err := os.Stat(db); err != nil {
			return nil, fmt.Errorf("demo data directory %s has no database (run portcullis demo --data %s first): %w",
				s.Data, s.Data, err)
		}
		return dataDirConfig(s.Data), nil
	}
}

// open loads the configuration and opens (and migrates) its store.
func (s Source) open(ctx context.Context, rt *Runtime) (*managed, error) {
	cfg, err := s.load()
	if err != nil {
		return nil, err
	}
	logger := rt.logger()
	db, err := openStore(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	m := &managed{cfg: cfg, db: db, rt: rt, logger: logger, getenv: rt.getenv}
	if s.Data != "" {
		m.getenv = noEnv
	}
	return m, nil
}

func (m *managed) Close() error {
	if err := m.db.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

// masterKey loads the existing master key; it never creates one.
func (m *managed) masterKey() ([]byte, error) {
	return loadMasterKey(m.cfg, m.getenv, m.logger, false)
}

// secretKey is the key of client-secret digests, as the server derives it.
func (m *managed) secretKey() ([]byte, error) {
	master, err := m.masterKey()
	if err != nil {
		return nil, err
	}
	return keys.DeriveKey(master, purposeClientSecrets), nil
}

func (m *managed) users() *identity.Users {
	return identity.NewUsers(m.db, identity.NewHasher(0), m.rt.now)
}

func (m *managed) keyManager() (*keys.Manager, error) {
	master, err := m.masterKey()
	if err != nil {
		return nil, err
	}
	km, err := keys.NewManager(m.db, master, keysConfig(m.cfg), m.logger, m.rt.now)
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	return km, nil
}

// withManaged opens src, runs f and closes the store, reporting both errors.
func withManaged(ctx context.Context, src Source, rt *Runtime, f func(m *managed) error) (err error) {
	m, err := src.open(ctx, rt)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, m.Close()) }()
	return f(m)
}
