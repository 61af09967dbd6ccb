package server

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/portcullis/portcullis/internal/keys"
	"github.com/portcullis/portcullis/internal/store"
)

// RekeyReport says what Rekey did and what is left for the rotation.
type RekeyReport struct {
	keys.RekeyResult
	// Status is the state of the client secrets after the rekey.
	Status RekeyStatus
}

// RekeyStatus counts client-secret digests by the master key that made
// them.
type RekeyStatus struct {
	// KeyID is the id of the store's master key of record.
	KeyID string
	// Current counts the client secrets digested under KeyID.
	Current int
	// Previous counts those digested under other keys, by key id (""
	// for digests whose key was never recorded): they authenticate only
	// while the node has the key that made them in
	// $PORTCULLIS_MASTER_KEY_PREVIOUS, and move to KeyID when they do.
	Previous map[string]int
}

// Pending is how many client secrets are not digested under the key of
// record.
func (s RekeyStatus) Pending() int {
	n := 0
	for _, c := range s.Previous {
		n += c
	}
	return n
}

// PreviousKeyIDs lists the ids in Previous, sorted.
func (s RekeyStatus) PreviousKeyIDs() []string { return slices.Sorted(maps.Keys(s.Previous)) }

// Rekey makes the master key in $PORTCULLIS_MASTER_KEY (or the key file)
// the store's key of record in place of the one in
// $PORTCULLIS_MASTER_KEY_PREVIOUS: every signing key is sealed again under
// the new key and the check value replaced, in one transaction. Client
// secrets stay digested under the previous key until each client
// authenticates at a node that has both keys, or its secret is rotated;
// the report's Status counts them.
func (in *Installation) Rekey(ctx context.Context) (RekeyReport, error) {
	prevText := in.getenv(keys.MasterKeyPreviousEnv)
	if prevText == "" {
		return RekeyReport{}, fmt.Errorf("rekey needs the current master key in $%s and the new one in $%s (or the key file)",
			keys.MasterKeyPreviousEnv, keys.MasterKeyEnv)
	}
	prev, err := keys.LoadPreviousMasterKey(prevText)
	if err != nil {
		return RekeyReport{}, fmt.Errorf("master key: %w", err)
	}
	next, err := loadMasterKey(in.cfg, in.getenv, in.logger, false)
	if err != nil {
		return RekeyReport{}, err
	}
	res, err := keys.Rekey(ctx, in.db, prev, next,
		keys.Target{Store: storeName(in.db), KeySource: "$" + keys.MasterKeyPreviousEnv}, in.now())
	if err != nil {
		var mm *keys.MismatchError
		if errors.As(err, &mm) && mm.Want != "" {
			return RekeyReport{}, fmt.Errorf("%w (neither $%s, %s, nor the new key, %s, is the store's master key)",
				err, keys.MasterKeyPreviousEnv, res.From, res.To)
		}
		if errors.Is(err, store.ErrChanged) {
			return RekeyReport{}, fmt.Errorf("%w (nothing was changed; run rekey again)", err)
		}
		return RekeyReport{}, err
	}
	if !res.AlreadyDone {
		in.logger.Info("re-keyed the store", "store", storeName(in.db), "from", res.From, "to", res.To,
			"signing_keys", res.Resealed)
	}
	// Checks next against the new key of record and records it, so the
	// commands that follow in this process use it.
	if _, err := in.masterKey(ctx); err != nil {
		return RekeyReport{}, err
	}
	st, err := in.RekeyStatus(ctx)
	if err != nil {
		return RekeyReport{}, err
	}
	return RekeyReport{RekeyResult: res, Status: st}, nil
}

// RekeyStatus counts the client secrets by the master key that digested
// them; the master key given must be the store's key of record.
func (in *Installation) RekeyStatus(ctx context.Context) (RekeyStatus, error) {
	master, err := in.masterKey(ctx)
	if err != nil {
		return RekeyStatus{}, err
	}
	counts, err := in.db.CountClientSecretsByKey(ctx)
	if err != nil {
		return RekeyStatus{}, fmt.Errorf("count client secrets: %w", err)
	}
	st := RekeyStatus{KeyID: keys.KeyID(master), Previous: map[string]int{}}
	for id, n := range counts {
		if id == st.KeyID {
			st.Current = n
		} else {
			st.Previous[id] = n
		}
	}
	return st, nil
}
