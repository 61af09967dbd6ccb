package token

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestAccessClaimsAct: the act claim of RFC 8693 §4.1 comes only from
// AccessClaims.Act; an extra claim (a user attribute) can neither forge
// nor drop it, nor set may_act.
func TestAccessClaimsAct(t *testing.T) {
	chain := map[string]any{"sub": "svc2", "act": map[string]any{"sub": "svc1"}}
	tests := []struct {
		name string
		c    AccessClaims
		want any
	}{
		{"no actor", AccessClaims{Extra: map[string]any{"act": map[string]any{"sub": "forged"}}}, nil},
		{"actor", AccessClaims{Act: chain}, chain},
		{"extra cannot override", AccessClaims{Act: chain, Extra: map[string]any{"act": "forged"}}, chain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.c.Map()
			if diff := cmp.Diff(tt.want, m["act"]); diff != "" {
				t.Errorf("act mismatch (-want +got):\n%s", diff)
			}
		})
	}
	m := AccessClaims{Extra: map[string]any{"may_act": map[string]any{"sub": "x"}}}.Map()
	if _, ok := m["may_act"]; ok {
		t.Error("an extra claim set may_act")
	}
}
