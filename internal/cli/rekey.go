package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/portcullis/portcullis/internal/keys"
	"github.com/portcullis/portcullis/internal/server"
)

// RekeyCmd rotates the master key of an installation.
type RekeyCmd struct {
	Source `embed:""`
	Status bool `help:"Only report how many client secrets still need the previous master key."`
	JSON   bool `name:"json" help:"Print JSON."`
}

// RekeyView is the --json output of rekey and rekey --status.
type RekeyView struct {
	// KeyID is the id of the store's master key of record.
	KeyID string `json:"key_id"`
	// PreviousKeyID is the key the rekey moved from (rekey only).
	PreviousKeyID string `json:"previous_key_id,omitempty"`
	// Resealed counts the signing keys sealed again (rekey only).
	Resealed    int  `json:"signing_keys_resealed"`
	AlreadyDone bool `json:"already_done,omitempty"`
	// ClientsCurrent and ClientsPending count client secrets digested
	// under the key of record and under other keys.
	ClientsCurrent int            `json:"clients_current"`
	ClientsPending int            `json:"clients_pending"`
	PendingByKey   map[string]int `json:"clients_pending_by_key"`
}

// Run re-keys the store, or with --status reports the client secrets left
// under a previous key.
func (c *RekeyCmd) Run(ctx context.Context, rt *Runtime) error {
	if c.Data != "" && !c.Status {
		// Management commands ignore the environment for a demo
		// directory, whose key is its key file.
		return errors.New("rekey works on a --config installation: a demo directory (--data) has only its own key file; " +
			"start a new demo directory instead")
	}
	return withInstallation(ctx, c.Source, rt, func(in *server.Installation) error {
		if c.Status {
			st, err := in.RekeyStatus(ctx)
			if err != nil {
				return err
			}
			return c.print(rt.Stdout, server.RekeyReport{RekeyResult: keys.RekeyResult{To: st.KeyID}, Status: st}, true)
		}
		rep, err := in.Rekey(ctx)
		if err != nil {
			return err
		}
		return c.print(rt.Stdout, rep, false)
	})
}

func (c *RekeyCmd) print(w io.Writer, rep server.RekeyReport, statusOnly bool) error {
	st := rep.Status
	if c.JSON {
		v := RekeyView{KeyID: st.KeyID, ClientsCurrent: st.Current, ClientsPending: st.Pending(), PendingByKey: st.Previous}
		if !statusOnly {
			v.PreviousKeyID, v.Resealed, v.AlreadyDone = rep.From, rep.Resealed, rep.AlreadyDone
		}
		return writeJSON(w, v)
	}
	var b strings.Builder
	switch {
	case statusOnly:
		fmt.Fprintf(&b, "master key: %s\n", st.KeyID)
	case rep.AlreadyDone:
		fmt.Fprintf(&b, "master key %s is the store's key already; nothing to re-key\n", rep.To)
	default:
		fmt.Fprintf(&b, "re-keyed from master key %s to %s: %d signing keys sealed again\n", rep.From, rep.To, rep.Resealed)
	}
	fmt.Fprintf(&b, "client secrets under the current key: %d\n", st.Current)
	fmt.Fprintf(&b, "client secrets under a previous key: %d\n", st.Pending())
	for _, id := range st.PreviousKeyIDs() {
		name := id
		if name == "" {
			name = "(unrecorded)"
		}
		fmt.Fprintf(&b, "  key %s: %d\n", name, st.Previous[id])
	}
	if st.Pending() > 0 {
		fmt.Fprintf(&b, "keep $%s set on every node until this says 0 (each client moves to the new key when it authenticates), "+
			"or rotate those clients' secrets\n", keys.MasterKeyPreviousEnv)
	} else {
		fmt.Fprintf(&b, "no client secret needs a previous key: $%s can be removed\n", keys.MasterKeyPreviousEnv)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
