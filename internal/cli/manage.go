package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/demo"
	"github.com/portcullis/portcullis/internal/server"
)

// Source says which installation a management command works on: a config
// file, or the data directory of `portcullis demo`. Exactly one is given.
type Source struct {
	Config string `help:"Configuration file of the installation to manage." type:"path" placeholder:"FILE"`
	Data   string `help:"Data directory of a demo installation (its SQLite database and master key)." type:"path" placeholder:"DIR"`
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
		db := filepath.Join(s.Data, demo.DBFile)
		if _, err := os.Stat(db); err != nil {
			return nil, fmt.Errorf("demo data directory %s has no database (run portcullis demo --data %s first): %w",
				s.Data, s.Data, err)
		}
		return demo.DataDirConfig(s.Data), nil
	}
}

// open loads the configuration and opens (and migrates) its store. A demo
// directory is self-contained: it uses its own key file and ignores
// PORTCULLIS_MASTER_KEY.
func (s Source) open(ctx context.Context, rt *Runtime) (*server.Installation, error) {
	cfg, err := s.load()
	if err != nil {
		return nil, err
	}
	getenv := rt.getenv
	if s.Data != "" {
		getenv = nil
	}
	return server.OpenInstallation(ctx, cfg, getenv, rt.logger(), rt.now)
}

// withInstallation opens src, runs f and closes the store, reporting both
// errors.
func withInstallation(ctx context.Context, src Source, rt *Runtime, f func(in *server.Installation) error) (err error) {
	in, err := src.open(ctx, rt)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, in.Close()) }()
	return f(in)
}
