package config

import (
	"context"

	"github.com/portcullis/portcullis/internal/catalog"
)

// FileSource is the catalog declared by a configuration file's gateway
// and ratelimit sections. It reads the file again on every call, so that
// a reload sees the file's edits; an invalid file is an error naming the
// file, line and field, as Load's are.
type FileSource struct {
	// Path is the configuration file.
	Path string
}

var _ catalog.Source = FileSource{}

// Snapshot loads the file and returns its gateway section's catalog.
func (s FileSource) Snapshot(context.Context) (catalog.Snapshot, error) {
	c, err := Load(s.Path)
	if err != nil {
		return catalog.Snapshot{}, err
	}
	return c.Gateway.Snapshot(), nil
}
