// Package servertest builds the configuration of a throwaway node for
// tests: every listener on a loopback port the kernel picks, the store and
// the master key in a fresh directory, the issuer derived from the bound
// address. The server's, the demo's and the end-to-end tests start from it
// and change only what they test.
//
// It is for tests only: it must never be imported by non-test code.
package servertest

import (
	"path/filepath"
	"testing"

	"github.com/portcullis/portcullis/internal/config"
)

// Config returns the default configuration with every listener on
// 127.0.0.1:0 and its data in t.TempDir().
func Config(t testing.TB) *config.Config {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Store.DSN = filepath.Join(dir, "portcullis.db")
	cfg.MasterKeyFile = filepath.Join(dir, "master.key")
	cfg.Issuer = ""
	cfg.Listen.Authz = "127.0.0.1:0"
	cfg.Listen.Admin = "127.0.0.1:0"
	cfg.Listen.Gateway = "127.0.0.1:0"
	return cfg
}
