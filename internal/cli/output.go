package cli

import (
	"encoding/json"
	"fmt"
	"io"
)

// writeJSON prints v as indented JSON, the --json output scripts read.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}
