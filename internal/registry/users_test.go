package registry

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseAttrs(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		want    map[string]string
		wantErr string
	}{
		{name: "none", in: nil, want: map[string]string{}},
		{name: "pairs", in: []string{"office=head", "team=a=b", "empty="}, want: map[string]string{"office": "head", "team": "a=b", "empty": ""}},
		{name: "no equals", in: []string{"office"}, wantErr: "KEY=VALUE"},
		{name: "empty key", in: []string{"=x"}, wantErr: "key"},
		{name: "key not an identifier", in: []string{"off-ice=x"}, wantErr: "key"},
		{name: "key starting with digit", in: []string{"1a=x"}, wantErr: "key"},
		{name: "duplicate", in: []string{"a=1", "a=2"}, wantErr: "twice"},
		{name: "control character", in: []string{"a=x\ny"}, wantErr: "printable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAttrs(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseAttrs error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAttrs: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseAttrs mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseRoleNames(t *testing.T) {
	got, err := CheckRoles([]string{"warehouse_admin", "warehouse_staff", "warehouse_admin"})
	if err != nil {
		t.Fatalf("CheckRoles: %v", err)
	}
	if diff := cmp.Diff([]string{"warehouse_admin", "warehouse_staff"}, got); diff != "" {
		t.Errorf("CheckRoles mismatch (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"", "a b", strings.Repeat("r", maxRoleLen+1)} {
		if _, err := CheckRoles([]string{bad}); err == nil {
			t.Errorf("CheckRoles(%q) = nil error, want one", bad)
		}
	}
}
