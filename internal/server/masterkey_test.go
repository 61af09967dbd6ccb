package server

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/keys"
	"github.com/portcullis/portcullis/internal/registry"
)

var (
	masterK1 = bytes.Repeat([]byte{0x11}, 32)
	masterK2 = bytes.Repeat([]byte{0x22}, 32)
)

// withKey is an environment holding master (and previous, if not nil).
func withKey(master, previous []byte) func(string) string {
	return func(k string) string {
		switch {
		case k == keys.MasterKeyEnv:
			return base64.StdEncoding.EncodeToString(master)
		case k == keys.MasterKeyPreviousEnv && previous != nil:
			return base64.StdEncoding.EncodeToString(previous)
		}
		return ""
	}
}

// startAuthz starts only the authorization server of cfg with the given
// environment, returning Start's error.
func startAuthz(t *testing.T, cfg *config.Config, getenv func(string) string) error {
	t.Helper()
	r, err := Start(t.Context(), cfg, slog.New(slog.DiscardHandler), WithRoles(RoleAuthz), WithGetenv(getenv))
	if err == nil {
		closeRunning(t, r)
	}
	return err
}

// rawDB opens cfg's SQLite file directly, as someone with database access
// (or an older release) would see it.
func rawDB(t *testing.T, cfg *config.Config) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", cfg.Store.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func count(t *testing.T, db *sql.DB, query string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestStartChecksTheMasterKey(t *testing.T) {
	tests := []struct {
		name string
		// setup prepares the store; legacy drops what a store made before
		// check values existed would not have.
		setup  func(t *testing.T, cfg *config.Config)
		env    func(string) string
		wantOK bool
		// wantIn are parts of the refusal.
		wantIn []string
	}{
		{name: "fresh store takes the key", setup: func(*testing.T, *config.Config) {}, env: withKey(masterK1, nil), wantOK: true},
		{name: "matching key", setup: startedWith(masterK1, false), env: withKey(masterK1, nil), wantOK: true},
		{name: "mismatching key", setup: startedWith(masterK1, false), env: withKey(masterK2, nil),
			wantIn: []string{"the store's master key is " + keys.KeyID(masterK1), "given master key " + keys.KeyID(masterK2), "$" + keys.MasterKeyEnv}},
		{name: "mismatching key, previous is the key of record", setup: startedWith(masterK1, false), env: withKey(masterK2, masterK1),
			wantIn: []string{keys.KeyID(masterK1), "run `portcullis rekey` first"}},
		{name: "legacy store whose keys open", setup: startedWith(masterK1, true), env: withKey(masterK1, nil), wantOK: true},
		{name: "legacy store whose keys do not open", setup: startedWith(masterK1, true), env: withKey(masterK2, nil),
			wantIn: []string{"signing keys do not open with master key " + keys.KeyID(masterK2)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			tc.setup(t, cfg)
			db := rawDB(t, cfg)
			keysBefore := 0
			if tc.name != "fresh store takes the key" {
				keysBefore = count(t, db, `SELECT count(*) FROM signing_keys`)
			}
			err := startAuthz(t, cfg, tc.env)
			if tc.wantOK {
				if err != nil {
					t.Fatalf("Start: %v", err)
				}
				if n := count(t, db, `SELECT count(*) FROM master_key_check WHERE key_id = '`+keys.KeyID(masterK1)+`'`); n != 1 {
					t.Errorf("after Start the store holds %d check values of the key, want 1", n)
				}
				if n := count(t, db, `SELECT count(*) FROM clients WHERE secret_key_id <> '`+keys.KeyID(masterK1)+`'`); n != 0 {
					t.Errorf("%d client secrets without the key's id after Start, want 0", n)
				}
				return
			}
			if !errors.Is(err, keys.ErrWrongMasterKey) {
				t.Fatalf("Start error = %v, want ErrWrongMasterKey", err)
			}
			msg := err.Error()
			for _, part := range append(tc.wantIn, "sqlite "+cfg.Store.DSN, "nothing was written") {
				if !strings.Contains(msg, part) {
					t.Errorf("Start error %q does not contain %q", msg, part)
				}
			}
			if n := count(t, db, `SELECT count(*) FROM signing_keys`); n != keysBefore {
				t.Errorf("the refused start changed the signing keys: %d, want %d", n, keysBefore)
			}
		})
	}
}

// startedWith runs a node once with master and registers a client; with
// legacy it then removes the check value and the client's key id, as a
// store from before this check looks after migration.
func startedWith(master []byte, legacy bool) func(t *testing.T, cfg *config.Config) {
	return func(t *testing.T, cfg *config.Config) {
		t.Helper()
		r, err := Start(t.Context(), cfg, slog.New(slog.DiscardHandler), WithRoles(RoleAuthz), WithGetenv(withKey(master, nil)),
			WithBeforeServe(func(ctx context.Context, s Services) error {
				_, _, err := s.Clients.Create(ctx, registry.ClientSpec{ID: "svc", GrantTypes: []string{registry.GrantClientCredentials}})
				return err
			}))
		if err != nil {
			t.Fatal(err)
		}
		closeRunning(t, r)
		if !legacy {
			return
		}
		db := rawDB(t, cfg)
		for _, q := range []string{`DELETE FROM master_key_check`, `UPDATE clients SET secret_key_id = ''`} {
			if _, err := db.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestInstallationChecksTheMasterKey(t *testing.T) {
	cfg := testConfig(t)
	if err := startAuthz(t, cfg, withKey(masterK1, nil)); err != nil {
		t.Fatal(err)
	}
	in, err := OpenInstallation(t.Context(), cfg, withKey(masterK2, nil), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	spec := registry.ClientSpec{ID: "svc", GrantTypes: []string{registry.GrantClientCredentials}}
	if _, _, err := in.Clients().Create(t.Context(), spec); !errors.Is(err, keys.ErrWrongMasterKey) {
		t.Errorf("Clients().Create with the wrong key: error %v, want ErrWrongMasterKey", err)
	}
	if _, err := in.Keys(t.Context()); !errors.Is(err, keys.ErrWrongMasterKey) {
		t.Errorf("Keys() with the wrong key: error %v, want ErrWrongMasterKey", err)
	}
	// Commands that need no key still work, and the refusal stored
	// nothing.
	if got, err := in.Clients().List(t.Context()); err != nil || len(got) != 0 {
		t.Errorf("Clients().List = %d clients, %v; want 0, nil", len(got), err)
	}
}
