// Package warehouse embeds the warehouse example (portcullis.yaml and its
// OpenAPI document), so `portcullis demo` runs the very configuration the
// documentation shows instead of a copy written again in Go.
//
// It holds data only: no code may depend on more than these bytes.
package warehouse

import _ "embed"

// Config is examples/warehouse/portcullis.yaml.
//
//go:embed portcullis.yaml
var Config []byte

// OpenAPI is examples/warehouse/openapi.yaml, the warehouse API's contract.
//
//go:embed openapi.yaml
var OpenAPI []byte
