package keys

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// RekeyStore is what Rekey needs from persistence.
type RekeyStore interface {
	CheckStore
	Rekey(ctx context.Context, from, to store.MasterKeyCheck, keys []store.Reseal) error
}

var _ RekeyStore = (*store.DB)(nil)

// RekeyResult says what Rekey did.
type RekeyResult struct {
	// From and To are the ids of the previous and the new key of record.
	From, To string
	// Resealed counts the signing keys sealed again under the new key.
	Resealed int
	// AlreadyDone is set when the new key was the key of record already
	// (a second run); nothing was written.
	AlreadyDone bool
}

// Rekey makes next the store's master key of record in place of prev: it
// seals every signing key again under next and records next's check
// value, in one transaction (store.DB.Rekey), so a failure leaves the
// store under prev. prev must be the key of record (see VerifyMasterKey;
// a store without a check value gets prev's first, when its keys open
// with prev); when next already is, Rekey reports AlreadyDone and changes
// nothing, so running it twice is safe.
//
// Client-secret digests cannot be recomputed without the secrets: they
// stay under prev's subkey, recorded by prev's key id, until each client
// authenticates (the server re-digests them while
// $PORTCULLIS_MASTER_KEY_PREVIOUS is set) or its secret is rotated.
// Everything else keyed from the master key (login-form seals, CSRF
// tokens) lives in browsers for minutes and is not stored.
func Rekey(ctx context.Context, st RekeyStore, prev, next []byte, t Target, now time.Time) (RekeyResult, error) {
	if err := checkMaster(prev); err != nil {
		return RekeyResult{}, fmt.Errorf("previous master key: %w", err)
	}
	if err := checkMaster(next); err != nil {
		return RekeyResult{}, err
	}
	res := RekeyResult{From: KeyID(prev), To: KeyID(next)}
	if bytes.Equal(prev, next) {
		return res, fmt.Errorf("keys: rekey: the new master key is the previous one (%s)", res.To)
	}
	cur, err := st.GetMasterKeyCheck(ctx)
	if err == nil && MatchesKeyCheck(cur, next) {
		res.AlreadyDone = true
		return res, nil
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return res, fmt.Errorf("keys: rekey: read master key check: %w", err)
	}
	if _, err := VerifyMasterKey(ctx, st, prev, t, now); err != nil {
		return res, err
	}
	from, err := st.GetMasterKeyCheck(ctx)
	if err != nil {
		return res, fmt.Errorf("keys: rekey: read master key check: %w", err)
	}
	rows, err := st.ListKeys(ctx)
	if err != nil {
		return res, fmt.Errorf("keys: rekey: list keys: %w", err)
	}
	plan, err := resealKeys(rows, prev, next)
	if err != nil {
		return res, fmt.Errorf("keys: rekey: %w", err)
	}
	to, err := NewKeyCheck(next, now)
	if err != nil {
		return res, err
	}
	if err := st.Rekey(ctx, from, to, plan); err != nil {
		return res, fmt.Errorf("keys: rekey: %w", err)
	}
	res.Resealed = len(plan)
	return res, nil
}

// resealKeys opens every key with prev (checking it against its public
// JWK, as loading does) and seals its private half under next, bound to
// the same kid. It fails before anything is written when a key does not
// open.
func resealKeys(rows []store.SigningKey, prev, next []byte) ([]store.Reseal, error) {
	from, err := NewSealer(prev, sealPurpose)
	if err != nil {
		return nil, err
	}
	to, err := NewSealer(next, sealPurpose)
	if err != nil {
		return nil, err
	}
	plan := make([]store.Reseal, 0, len(rows))
	for _, k := range rows {
		if _, _, err := openKey(from, k); err != nil {
			return nil, err
		}
		der, err := from.Open(k.PrivateSealed, []byte(k.KID))
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", k.KID, err)
		}
		sealed, err := to.Seal(der, []byte(k.KID))
		clear(der)
		if err != nil {
			return nil, fmt.Errorf("key %s: seal: %w", k.KID, err)
		}
		plan = append(plan, store.Reseal{KID: k.KID, Old: k.PrivateSealed, New: sealed})
	}
	return plan, nil
}
