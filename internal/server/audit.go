package server

import (
	"context"
	"fmt"
	"os/user"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/keys"
)

// Audit action and target of a signing-key rotation.
const (
	actionKeyRotate = "key.rotate"
	targetKeys      = "signing-keys"
)

// Auditor is the installation's audit trail. Changes made through the
// installation are recorded as made by the command's operator (actor
// kind cli, subject the operating-system user) unless the context names
// another actor.
func (in *Installation) Auditor() *audit.Auditor {
	return audit.New(in.db, in.now).WithDefaultActor(audit.Actor{Kind: audit.KindCLI, Subject: operator(in.getenv)})
}

// operator names the operating-system user running the command, or ""
// when neither the user database nor $USER says.
func operator(getenv func(string) string) string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return getenv("USER")
}

// keyState is how the signing keys of a use appear in an audit record:
// public facts only.
type keyState struct {
	Use  string    `json:"use"`
	Keys []keyView `json:"keys"`
}

type keyView struct {
	KID   string `json:"kid"`
	Alg   string `json:"alg"`
	State string `json:"state"`
}

// RotateKeys rotates the signing keys of each use, recording each
// rotation in the audit trail. The rotation is the keys package's own
// write, outside the audit transaction, so the record is appended first,
// with the keys as they were: a rotation the trail could not record does
// not happen, and a rotation that then fails leaves a record of the
// attempt next to the command's error.
func (in *Installation) RotateKeys(ctx context.Context, uses []keys.Use) ([]keys.KeyInfo, error) {
	km, err := in.Keys(ctx)
	if err != nil {
		return nil, err
	}
	if err := km.Init(ctx); err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	return rotateKeys(ctx, km, in.Auditor(), uses)
}

// rotateKeys rotates the keys of each use with km, appending each
// rotation's record to a first (see RotateKeys); the actor comes from
// ctx or a's default. The command line and the admin API both rotate
// through it.
func rotateKeys(ctx context.Context, km *keys.Manager, a *audit.Auditor, uses []keys.Use) ([]keys.KeyInfo, error) {
	var rotated []keys.KeyInfo
	for _, u := range uses {
		infos, err := km.List(ctx)
		if err != nil {
			return nil, fmt.Errorf("list keys: %w", err)
		}
		before := keyState{Use: string(u), Keys: []keyView{}}
		for _, k := range infos {
			if k.Use == u && k.State != keys.StateRetired {
				before.Keys = append(before.Keys, keyView{KID: k.KID, Alg: k.Alg, State: k.State})
			}
		}
		state, err := audit.State(before)
		if err != nil {
			return nil, err
		}
		rec := audit.Record{Action: actionKeyRotate, Target: audit.Target{Type: targetKeys, ID: string(u)}, Before: state}
		if err := a.Append(ctx, rec); err != nil {
			return nil, fmt.Errorf("rotate %s keys: %w", u, err)
		}
		k, err := km.Rotate(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("rotate %s keys: %w", u, err)
		}
		rotated = append(rotated, k)
	}
	return rotated, nil
}

// systemAuditor records the changes the node makes on its own (seeding
// the demo before it serves) as actor kind system. Request handlers that
// change anything (the admin API) get an Auditor without a default
// actor, so a handler that forgot to name its caller fails.
func (w *wiring) systemAuditor() *audit.Auditor {
	return audit.New(w.db, w.now).WithDefaultActor(audit.Actor{Kind: audit.KindSystem, Subject: "portcullis"})
}
