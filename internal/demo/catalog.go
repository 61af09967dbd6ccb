package demo

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/server"
)

// The warehouse API's second version lives in the stored catalog, beside
// the file's first: the console and the admin API then have a version to
// show, and the gateway serves both. It cannot be "warehouse v2": an API
// name belongs to one source, and the file declares "warehouse".
const (
	catalogAPIName     = "warehouse-catalog"
	catalogAPIVersion  = "v2"
	catalogAPIBasePath = "/warehouse/v2"
	// catalogAPIGroup bundles the file's warehouse API and the stored one.
	catalogAPIGroup = "warehouse"
)

// catalogEntry is the stored version: the file's warehouse API (same
// upstream, audiences, operations, policies and limits) under its own
// name and base path, published. Limit names are unique across the
// catalog, so its limits take the version's name as a prefix: the two
// versions count apart.
func catalogEntry(file catalog.API) catalog.VersionEntry {
	api := file
	api.Name, api.Version, api.BasePath = catalogAPIName, catalogAPIVersion, catalogAPIBasePath
	api.Limits = prefixLimits(api.Limits)
	api.Operations = slices.Clone(api.Operations)
	for i := range api.Operations {
		api.Operations[i].Limits = prefixLimits(api.Operations[i].Limits)
	}
	return catalog.VersionEntry{
		API:         api,
		State:       catalog.StatePublished,
		Description: "The warehouse API as a stored catalog version (seeded by portcullis demo).",
		Owners:      []string{"warehouse"},
		Tags:        []string{"demo"},
	}
}

// seedCatalog adds the catalog version to whatever the stored catalog
// holds, audited as the system. A version that exists keeps its state
// and fields (a deprecation made with apply stays), and only follows
// the backend's address of this run; other versions and plans are left
// alone.
func seedCatalog(ctx context.Context, s server.Services, file catalog.API) error {
	if s.Catalog == nil {
		return errors.New("demo: the stored catalog is not available")
	}
	doc, err := s.Catalog.Export(ctx)
	if err != nil {
		return fmt.Errorf("demo catalog: %w", err)
	}
	want := catalogEntry(file)
	found := false
	for i := range doc.APIs {
		if doc.APIs[i].Key() == want.Key() {
			doc.APIs[i].Upstream, found = want.Upstream, true
		}
	}
	if !found {
		doc.APIs = append(doc.APIs, want)
	}
	if !slices.ContainsFunc(doc.APIGroups, func(g catalog.APIGroupEntry) bool { return g.Name == catalogAPIGroup }) {
		doc.APIGroups = append(doc.APIGroups, catalog.APIGroupEntry{
			Name: catalogAPIGroup, Description: "Both warehouse APIs: the configuration file's and the stored one.",
			APIs: []string{file.Name, catalogAPIName},
		})
	}
	plan, err := s.Catalog.Plan(ctx, doc)
	if err != nil {
		return fmt.Errorf("demo catalog: %w", err)
	}
	if plan.Empty() {
		return nil
	}
	if err := s.Catalog.Apply(ctx, plan); err != nil {
		return fmt.Errorf("demo catalog: %w", err)
	}
	return nil
}

func prefixLimits(ls []catalog.Limit) []catalog.Limit {
	out := slices.Clone(ls)
	for i := range out {
		out[i].Name = catalogAPIName + "-" + out[i].Name
	}
	return out
}
