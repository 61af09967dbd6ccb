package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/portcullis/portcullis/internal/admin"
	"github.com/portcullis/portcullis/internal/keys"
	"github.com/portcullis/portcullis/internal/server"
)

// KeysCmd groups the signing key commands.
type KeysCmd struct {
	List   KeysListCmd   `cmd:"" help:"List signing keys (public information only)."`
	Rotate KeysRotateCmd `cmd:"" help:"Promote the next key to active and publish a new next key."`
}

// KeyView is how commands show a key; keys.KeyInfo never holds the private
// half.
type KeyView struct {
	KID         string     `json:"kid"`
	Alg         string     `json:"alg"`
	Use         string     `json:"use"`
	State       string     `json:"state"`
	CreatedAt   time.Time  `json:"created_at"`
	ActivatedAt *time.Time `json:"activated_at,omitempty"`
	RetiredAt   *time.Time `json:"retired_at,omitempty"`
}

// NewKeyView describes k.
func NewKeyView(k keys.KeyInfo) KeyView {
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	return KeyView{
		KID: k.KID, Alg: k.Alg, Use: string(k.Use), State: k.State, CreatedAt: k.CreatedAt,
		ActivatedAt: opt(k.ActivatedAt), RetiredAt: opt(k.RetiredAt),
	}
}

// KeysListCmd lists keys.
type KeysListCmd struct {
	Source `embed:""`
	Remote `embed:""`
	JSON   bool `name:"json" help:"Print JSON."`
}

// Run prints every stored key.
func (c *KeysListCmd) Run(ctx context.Context, rt *Runtime) error {
	if c.remote() {
		ac, err := c.client(c.Source, rt)
		if err != nil {
			return err
		}
		remote, err := ac.ListKeys(ctx)
		if err != nil {
			return err
		}
		return c.print(rt, remoteKeyViews(remote))
	}
	return withInstallation(ctx, c.Source, rt, func(in *server.Installation) error {
		km, err := in.Keys(ctx)
		if err != nil {
			return err
		}
		infos, err := km.List(ctx)
		if err != nil {
			return fmt.Errorf("list keys: %w", err)
		}
		views := make([]KeyView, len(infos))
		for i, k := range infos {
			views[i] = NewKeyView(k)
		}
		return c.print(rt, views)
	})
}

func (c *KeysListCmd) print(rt *Runtime, views []KeyView) error {
	if c.JSON {
		return writeJSON(rt.Stdout, views)
	}
	tw := tabwriter.NewWriter(rt.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tUSE\tALG\tSTATE\tCREATED")
	for _, v := range views {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.KID, v.Use, v.Alg, v.State, v.CreatedAt.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

// remoteKeyViews shows the admin API's keys as the local commands do.
func remoteKeyViews(ks []admin.KeyView) []KeyView {
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	views := make([]KeyView, len(ks))
	for i, k := range ks {
		views[i] = KeyView{KID: k.KID, Alg: k.Alg, Use: k.Use, State: k.State, CreatedAt: k.CreatedAt,
			ActivatedAt: opt(k.ActivatedAt), RetiredAt: opt(k.RetiredAt)}
	}
	return views
}

// KeysRotateCmd rotates keys.
type KeysRotateCmd struct {
	Source `embed:""`
	Remote `embed:""`
	Use    string `default:"all" enum:"access,id,all" help:"Which keys to rotate: access, id or all."`
	JSON   bool   `name:"json" help:"Print JSON."`
}

// Run rotates the keys of the chosen uses. Running servers pick the change
// up at their next key reload; because the new active key was published as
// the next key beforehand, verifiers already know it.
func (c *KeysRotateCmd) Run(ctx context.Context, rt *Runtime) error {
	uses := []keys.Use{keys.UseAccess, keys.UseID}
	if c.Use != "all" {
		uses = []keys.Use{keys.Use(c.Use)}
	}
	if c.remote() {
		ac, err := c.client(c.Source, rt)
		if err != nil {
			return err
		}
		names := make([]string, len(uses))
		for i, u := range uses {
			names[i] = string(u)
		}
		// The node records each rotation in the audit trail, with the
		// token's caller.
		rotated, err := ac.RotateKeys(ctx, names)
		if err != nil {
			return err
		}
		return c.print(rt, remoteKeyViews(rotated))
	}
	return withInstallation(ctx, c.Source, rt, func(in *server.Installation) error {
		// The installation records each rotation in the audit trail.
		rotated, err := in.RotateKeys(ctx, uses)
		if err != nil {
			return err
		}
		var views []KeyView
		for _, k := range rotated {
			views = append(views, NewKeyView(k))
		}
		return c.print(rt, views)
	})
}

func (c *KeysRotateCmd) print(rt *Runtime, views []KeyView) error {
	if c.JSON {
		return writeJSON(rt.Stdout, views)
	}
	for _, v := range views {
		if _, err := fmt.Fprintf(rt.Stdout, "%s: %s (%s) is now active\n", v.Use, v.KID, v.Alg); err != nil {
			return err
		}
	}
	return nil
}
