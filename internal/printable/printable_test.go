package printable

import "testing"

func TestHasControl(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"warehouse app", false},
		{"café ünïcode", false},
		{"", false},
		{"line\nbreak", true},
		{"tab\t", true},
		{"nul\x00", true},
		{"del\x7f", true},
		{"c1\u0085", true},
		{"csi\u009b", true},
	}
	for _, tt := range tests {
		if got := HasControl(tt.in); got != tt.want {
			t.Errorf("HasControl(%q) = %t, want %t", tt.in, got, tt.want)
		}
	}
}
