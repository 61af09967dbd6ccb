package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/portcullis/portcullis/internal/admin"
	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/server"
)

// ApplyCmd makes the stored catalog equal to a document, showing the
// changes first.
type ApplyCmd struct {
	Source `embed:""`
	Remote `embed:""`
	File   string `short:"f" required:"" type:"path" placeholder:"FILE|DIR" help:"Catalog document (YAML), or a directory of them (*.yaml, *.yml, read in name order)."`
	Yes    bool   `name:"yes" help:"Apply the changes (without it they are only shown)."`
	DryRun bool   `name:"dry-run" help:"Only show the changes, even with --yes."`
}

// Run reads the document, shows the diff and, with --yes, applies it in
// one audited transaction. With --server the node plans and applies it:
// the plan's revision goes with the apply, so a catalog changed in
// between is refused rather than changed unseen.
func (c *ApplyCmd) Run(ctx context.Context, rt *Runtime) error {
	doc, err := readDocument(c.File)
	if err != nil {
		return err
	}
	if c.remote() {
		return c.runRemote(ctx, rt, doc)
	}
	return withInstallation(ctx, c.Source, rt, func(in *server.Installation) error {
		svc := in.Catalog()
		plan, err := svc.Plan(ctx, doc)
		if err != nil {
			return err
		}
		if apply, err := c.showPlan(rt, admin.PlanText(plan.Changes), plan.Empty()); !apply {
			return err
		}
		if err := svc.Apply(ctx, plan); err != nil {
			return err
		}
		return c.applied(rt, len(plan.Changes))
	})
}

func (c *ApplyCmd) runRemote(ctx context.Context, rt *Runtime, doc catalog.Document) error {
	ac, err := c.client(c.Source, rt)
	if err != nil {
		return err
	}
	b, err := doc.Marshal()
	if err != nil {
		return err
	}
	plan, err := ac.PlanCatalog(ctx, string(b))
	if err != nil {
		return err
	}
	if apply, err := c.showPlan(rt, plan.Text, plan.Empty); !apply {
		return err
	}
	done, err := ac.ApplyCatalog(ctx, string(b), plan.Revision)
	if err != nil {
		return err
	}
	return c.applied(rt, len(done.Changes))
}

// showPlan prints the plan's text and, unless it is empty, whether it is
// applied; it reports whether to apply it.
func (c *ApplyCmd) showPlan(rt *Runtime, text string, empty bool) (bool, error) {
	if _, err := io.WriteString(rt.Stdout, text); err != nil || empty {
		return false, err
	}
	if c.DryRun || !c.Yes {
		hint := "dry run: nothing applied"
		if !c.DryRun {
			hint = "nothing applied: run again with --yes to apply"
		}
		_, err := fmt.Fprintln(rt.Stdout, hint)
		return false, err
	}
	return true, nil
}

func (c *ApplyCmd) applied(rt *Runtime, n int) error {
	_, err := fmt.Fprintf(rt.Stdout, "applied %d changes\n", n)
	return err
}

// readDocument reads a file, or every YAML file of a directory, into one
// document.
func readDocument(path string) (catalog.Document, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return catalog.Document{}, err
	}
	files := []string{path}
	if fi.IsDir() {
		entries, err := os.ReadDir(path)
		if err != nil {
			return catalog.Document{}, err
		}
		files = files[:0]
		for _, e := range entries {
			if ext := filepath.Ext(e.Name()); !e.IsDir() && (ext == ".yaml" || ext == ".yml") {
				files = append(files, filepath.Join(path, e.Name()))
			}
		}
		slices.Sort(files)
		if len(files) == 0 {
			return catalog.Document{}, fmt.Errorf("%s: no *.yaml or *.yml files", path)
		}
	}
	var doc catalog.Document
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return catalog.Document{}, err
		}
		d, err := catalog.ParseDocument(f, b)
		if err != nil {
			return catalog.Document{}, err
		}
		doc.Merge(d)
	}
	return doc, nil
}

// ExportCmd writes the stored catalog as a document apply reads back.
type ExportCmd struct {
	Source `embed:""`
	Remote `embed:""`
	Output string `short:"o" type:"path" placeholder:"FILE" help:"Write to FILE instead of stdout."`
}

// Run writes the stored catalog, read from the store or, with --server,
// from the node's admin API (the same YAML).
func (c *ExportCmd) Run(ctx context.Context, rt *Runtime) error {
	if c.remote() {
		ac, err := c.client(c.Source, rt)
		if err != nil {
			return err
		}
		doc, err := ac.Catalog(ctx)
		if err != nil {
			return err
		}
		return c.write(rt, []byte(doc.Document))
	}
	return withInstallation(ctx, c.Source, rt, func(in *server.Installation) error {
		doc, err := in.Catalog().Export(ctx)
		if err != nil {
			return err
		}
		b, err := doc.Marshal()
		if err != nil {
			return err
		}
		return c.write(rt, b)
	})
}

func (c *ExportCmd) write(rt *Runtime, b []byte) error {
	if c.Output != "" {
		return writeFileAtomic(c.Output, b)
	}
	_, err := rt.Stdout.Write(b)
	return err
}

// writeFileAtomic writes b to path through a temporary file, so a reader
// never sees half a document.
func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".export-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
