package config

import (
	"strings"
	"testing"
)

// TestGatewayGroup: gateway.group defaults to the catalog's default
// group and takes only the catalog's group-name syntax, so the file and
// the stored catalog cannot spell one group two ways.
func TestGatewayGroup(t *testing.T) {
	tests := []struct {
		group   string
		wantErr string // "" for valid
	}{
		{"", ""},
		{"default", ""},
		{"edge", ""},
		{"eu-west-1", ""},
		{"0", ""},
		{strings.Repeat("a", 63), ""},
		{"Edge", `gateway.group: "Edge" may hold only lowercase letters, digits and hyphens`},
		{"-edge", `gateway.group: "-edge" may hold only`},
		{"edge_1", `gateway.group: "edge_1" may hold only`},
		{"edge 1", `gateway.group: "edge 1" may hold only`},
		{strings.Repeat("a", 64), "gateway.group: must hold 1 to 63 characters"},
	}
	for _, tc := range tests {
		t.Run(tc.group, func(t *testing.T) {
			g := validGateway()
			g.Group = tc.group
			err := g.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("Validate() = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
	var g Gateway
	g.ApplyDefaults()
	if g.Group != "default" {
		t.Errorf("ApplyDefaults: Group = %q, want %q", g.Group, "default")
	}
}
