package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/keys"
	"github.com/portcullis/portcullis/internal/store"
)

// masterKeySource says where loadMasterKey reads the key from, for errors
// that must tell the operator which setting to fix.
func masterKeySource(cfg *config.Config, getenv func(string) string) string {
	if getenv(keys.MasterKeyEnv) != "" {
		return "$" + keys.MasterKeyEnv
	}
	path := cfg.MasterKeyFile
	if path == "" {
		path = filepath.Join(cfg.DataDir, "master.key")
	}
	return "key file " + path
}

// storeName names db in errors and logs: its dialect and a location
// without credentials.
func storeName(db *store.DB) string { return db.Dialect() + " " + db.Location() }

// checkMasterKey refuses master unless it is db's master key of record
// (recording it when the store has none and its signing keys open with
// it), before anything is sealed or digested with it. It then records
// master's id on client-secret digests written before ids were kept:
// they were made under the key of record. previous, when set, is only
// used to tell the operator that a rotation is half done.
func checkMasterKey(ctx context.Context, db *store.DB, master, previous []byte, source string, logger *slog.Logger, now time.Time) error {
	id := keys.KeyID(master)
	created, err := keys.VerifyMasterKey(ctx, db, master, keys.Target{Store: storeName(db), KeySource: source}, now)
	if err != nil {
		var mm *keys.MismatchError
		if previous != nil && errors.As(err, &mm) && mm.Want == keys.KeyID(previous) {
			return fmt.Errorf("master key: %w (the store is still under $%s: run `portcullis rekey` first)",
				err, keys.MasterKeyPreviousEnv)
		}
		return fmt.Errorf("master key: %w", err)
	}
	if created {
		logger.Info("recorded the master key of record", "store", storeName(db), "key_id", id)
	}
	n, err := db.FillClientSecretKeyIDs(ctx, id)
	if err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	if n > 0 {
		logger.Info("recorded the master key of existing client secret digests", "clients", n, "key_id", id)
	}
	return nil
}

// loadPreviousMasterKey reads $PORTCULLIS_MASTER_KEY_PREVIOUS, set while
// a master-key rotation is under way; nil when unset, or when it holds
// the current key (a leftover, and harmless).
func loadPreviousMasterKey(getenv func(string) string, master []byte, logger *slog.Logger) ([]byte, error) {
	prev, err := keys.LoadPreviousMasterKey(getenv(keys.MasterKeyPreviousEnv))
	if err != nil || prev == nil {
		return nil, err
	}
	if bytes.Equal(prev, master) {
		logger.Warn("the previous master key is the current one; ignoring it", "env", keys.MasterKeyPreviousEnv)
		return nil, nil
	}
	return prev, nil
}

// redigester stores the current key's digest of a client secret that
// authenticated under the previous master key, so the client no longer
// needs that key. A compare-and-swap: a secret rotated meanwhile, or a
// digest another node moved first, is left alone.
func (w *wiring) redigester(cache *clientauth.CachedStore) func(ctx context.Context, c store.Client, digest []byte) {
	log := w.logger.With("component", "clientauth")
	return func(ctx context.Context, c store.Client, digest []byte) {
		err := w.db.RedigestClientSecret(ctx, c.ID, c.SecretDigest, digest, w.keyID)
		switch {
		case err == nil:
			cache.Forget(c.ID)
			log.Info("client secret moved to the current master key", "client_id", c.ID, "key_id", w.keyID)
		case errors.Is(err, store.ErrChanged):
			cache.Forget(c.ID)
		default:
			// The client authenticated; it moves at a later request.
			log.Warn("could not move a client secret to the current master key", "client_id", c.ID, "err", err)
		}
	}
}
