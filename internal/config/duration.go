package config

import (
	"github.com/portcullis/portcullis/internal/duration"
)

// Duration is a time.Duration written as "15m", "1h30m" in YAML; the type
// is shared with the catalog (see package duration).
type Duration = duration.Duration
