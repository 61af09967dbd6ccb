package keys

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// MasterKeyPreviousEnv names the environment variable holding the previous
// master key while a master-key rotation is under way (see Rekey).
const MasterKeyPreviousEnv = "PORTCULLIS_MASTER_KEY_PREVIOUS"

// keyCheckLabel is the fixed message of the check value. Changing it makes
// every stored check value mismatch.
const keyCheckLabel = "portcullis master key check v1"

// ErrWrongMasterKey means a master key is not the store's key of record.
// Errors wrapping it are *MismatchError.
var ErrWrongMasterKey = errors.New("keys: wrong master key")

// MismatchError says which store refused which key. It names keys by
// KeyID only.
type MismatchError struct {
	// Store names the store: its dialect and a location without
	// credentials.
	Store string
	// Want is the id of the store's key of record; empty when the store
	// has no check value yet and its signing keys did not open with the
	// given key.
	Want string
	// Got is the id of the key that was given, and Source where it came
	// from ("$PORTCULLIS_MASTER_KEY", "key file PATH").
	Got    string
	Source string
	// Cause is why a store without a check value was refused (a signing
	// key that did not open).
	Cause error
}

// Error names the store and both key ids, never a key.
func (e *MismatchError) Error() string {
	given := "master key " + e.Got
	if e.Source != "" {
		given += " (from " + e.Source + ")"
	}
	if e.Want == "" {
		return fmt.Sprintf("keys: wrong master key for store %s: its signing keys do not open with %s; "+
			"nothing was written", e.Store, given)
	}
	return fmt.Sprintf("keys: wrong master key for store %s: the store's master key is %s, "+
		"this process was given %s; nothing was written", e.Store, e.Want, given)
}

// Is makes errors.Is(err, ErrWrongMasterKey) hold.
func (e *MismatchError) Is(target error) bool { return target == ErrWrongMasterKey }

// Unwrap returns the cause, if any.
func (e *MismatchError) Unwrap() error { return e.Cause }

// KeyID returns a short public id of master: the first 8 hex digits of the
// SHA-256 of a subkey derived for PurposeKeyID. It names a key in messages
// and records which key made a client-secret digest. It is one-way and
// reveals nothing about the keys derived for other purposes; with 32 bits
// it tells keys apart, while the check value (NewKeyCheck) is what proves
// a key.
func KeyID(master []byte) string {
	sum := sha256.Sum256(DeriveKey(master, PurposeKeyID))
	return hex.EncodeToString(sum[:4])
}

// NewKeyCheck returns the check value of master as the store keeps it:
// HMAC-SHA-256 of a fixed label under a subkey derived for
// PurposeKeyCheck, with KeyID(master).
func NewKeyCheck(master []byte, now time.Time) (store.MasterKeyCheck, error) {
	if err := checkMaster(master); err != nil {
		return store.MasterKeyCheck{}, err
	}
	return store.MasterKeyCheck{
		KeyID:     KeyID(master),
		Value:     keyCheckMAC(master),
		CreatedAt: now,
		UpdatedAt: now,
	}, nil
}

// MatchesKeyCheck reports whether c is the check value of master. The MAC
// is compared in constant time; the key id is not trusted on its own.
func MatchesKeyCheck(c store.MasterKeyCheck, master []byte) bool {
	if checkMaster(master) != nil {
		return false
	}
	return hmac.Equal(c.Value, keyCheckMAC(master))
}

func keyCheckMAC(master []byte) []byte {
	m := hmac.New(sha256.New, DeriveKey(master, PurposeKeyCheck))
	m.Write([]byte(keyCheckLabel))
	return m.Sum(nil)
}

// LoadPreviousMasterKey decodes the value of $PORTCULLIS_MASTER_KEY_PREVIOUS
// (same encodings as LoadMasterKey); empty means no rotation is under way
// and returns nil.
func LoadPreviousMasterKey(envValue string) ([]byte, error) {
	if envValue == "" {
		return nil, nil
	}
	key, err := decodeMasterKey([]byte(envValue))
	if err != nil {
		return nil, fmt.Errorf("keys: $%s: %w", MasterKeyPreviousEnv, err)
	}
	return key, nil
}

// CheckStore is what VerifyMasterKey needs from persistence.
type CheckStore interface {
	GetMasterKeyCheck(ctx context.Context) (store.MasterKeyCheck, error)
	CreateMasterKeyCheck(ctx context.Context, c store.MasterKeyCheck) error
	ListKeys(ctx context.Context) ([]store.SigningKey, error)
}

var _ CheckStore = (*store.DB)(nil)

// Target names what VerifyMasterKey checks, for its errors: the store
// (dialect and a location without credentials) and where the key came
// from.
type Target struct {
	Store     string
	KeySource string
}

// VerifyMasterKey makes sure master is the store's master key of record
// before anything is sealed or digested with it, and reports whether it
// made master the key of record just now.
//
// A store with a check value accepts only the key that made it. A store
// without one (new, or created before check values existed) records
// master as its key of record, but only when every stored signing key
// opens with it: a store with no keys takes the given key, one whose keys
// were sealed under another key is refused. A refusal is a
// *MismatchError (errors.Is ErrWrongMasterKey) and writes nothing.
func VerifyMasterKey(ctx context.Context, st CheckStore, master []byte, t Target, now time.Time) (created bool, err error) {
	if err := checkMaster(master); err != nil {
		return false, err
	}
	got := KeyID(master)
	c, err := st.GetMasterKeyCheck(ctx)
	switch {
	case err == nil:
		return false, compareKeyCheck(c, master, t)
	case !errors.Is(err, store.ErrNotFound):
		return false, fmt.Errorf("keys: read master key check: %w", err)
	}

	rows, err := st.ListKeys(ctx)
	if err != nil {
		return false, fmt.Errorf("keys: list keys: %w", err)
	}
	sealer, err := NewSealer(master, sealPurpose)
	if err != nil {
		return false, err
	}
	for _, k := range rows {
		if _, _, err := openKey(sealer, k); err != nil {
			return false, &MismatchError{Store: t.Store, Got: got, Source: t.KeySource, Cause: err}
		}
	}
	c, err = NewKeyCheck(master, now)
	if err != nil {
		return false, err
	}
	err = st.CreateMasterKeyCheck(ctx, c)
	if errors.Is(err, store.ErrConflict) {
		// Another node recorded its key first; this one must match it.
		if c, err = st.GetMasterKeyCheck(ctx); err != nil {
			return false, fmt.Errorf("keys: read master key check: %w", err)
		}
		return false, compareKeyCheck(c, master, t)
	}
	if err != nil {
		return false, fmt.Errorf("keys: record master key check: %w", err)
	}
	return true, nil
}

func compareKeyCheck(c store.MasterKeyCheck, master []byte, t Target) error {
	if MatchesKeyCheck(c, master) {
		return nil
	}
	return &MismatchError{Store: t.Store, Want: c.KeyID, Got: KeyID(master), Source: t.KeySource}
}
