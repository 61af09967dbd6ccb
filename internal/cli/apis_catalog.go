package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/portcullis/portcullis/internal/admin"
	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/server"
)

// APIsListCmd lists the stored catalog's API versions.
type APIsListCmd struct {
	Source `embed:""`
	Remote `embed:""`
	State  string `placeholder:"STATE" help:"Only versions in this state: draft, published, deprecated or retired."`
	Tag    string `placeholder:"TAG" help:"Only versions carrying this tag."`
	Group  string `name:"gateway-group" placeholder:"GROUP" help:"Only versions served by this gateway group."`
	JSON   bool   `name:"json" help:"Print JSON."`
}

// Run prints the stored versions, filtered.
func (c *APIsListCmd) Run(ctx context.Context, rt *Runtime) error {
	if c.State != "" && !catalog.State(c.State).Valid() {
		return fmt.Errorf("--state: %q is not one of draft, published, deprecated, retired", c.State)
	}
	if c.remote() {
		ac, err := c.client(c.Source, rt)
		if err != nil {
			return err
		}
		list, err := ac.ListAPIVersions(ctx, map[string]string{"state": c.State, "tag": c.Tag, "gateway_group": c.Group})
		if err != nil {
			return err
		}
		return c.print(rt, list)
	}
	return withInstallation(ctx, c.Source, rt, func(in *server.Installation) error {
		doc, err := in.Catalog().Export(ctx)
		if err != nil {
			return err
		}
		var list []admin.APIVersionSummary
		for _, e := range doc.APIs {
			if (c.State != "" && string(e.State) != c.State) || (c.Tag != "" && !slices.Contains(e.Tags, c.Tag)) ||
				(c.Group != "" && !e.ServedBy(c.Group)) {
				continue
			}
			list = append(list, admin.SummaryOf(e))
		}
		return c.print(rt, list)
	})
}

func (c *APIsListCmd) print(rt *Runtime, list []admin.APIVersionSummary) error {
	if list == nil {
		list = []admin.APIVersionSummary{}
	}
	if c.JSON {
		return writeJSON(rt.Stdout, list)
	}
	if len(list) == 0 {
		_, err := fmt.Fprintln(rt.Stdout, "No stored API versions.")
		return err
	}
	tw := tabwriter.NewWriter(rt.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tSTATE\tBASE PATH\tGATEWAY GROUPS\tTAGS")
	for _, s := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Version, s.State, s.BasePath,
			strings.Join(s.Gateways, ","), strings.Join(s.Tags, ","))
	}
	return tw.Flush()
}

// APIsSetStateCmd moves a stored API version through its lifecycle.
type APIsSetStateCmd struct {
	Source  `embed:""`
	Remote  `embed:""`
	Name    string `arg:"" help:"API name."`
	Version string `arg:"" help:"API version."`
	State   string `arg:"" enum:"published,deprecated,retired" help:"The new state: published, deprecated or retired."`
}

// Run makes the move; the catalog's lifecycle rules decide whether it
// is allowed, and the change is audited.
func (c *APIsSetStateCmd) Run(ctx context.Context, rt *Runtime) error {
	if c.remote() {
		ac, err := c.client(c.Source, rt)
		if err != nil {
			return err
		}
		if _, err := ac.SetAPIVersionState(ctx, c.Name, c.Version, c.State); err != nil {
			return err
		}
		return c.done(rt)
	}
	return withInstallation(ctx, c.Source, rt, func(in *server.Installation) error {
		if _, err := in.Catalog().SetState(ctx, c.Name, c.Version, catalog.State(c.State), nil); err != nil {
			return err
		}
		return c.done(rt)
	})
}

func (c *APIsSetStateCmd) done(rt *Runtime) error {
	_, err := fmt.Fprintf(rt.Stdout, "%s %s is now %s; gateways follow within their catalog poll.\n", c.Name, c.Version, c.State)
	return err
}
