package scope

import "testing"

func TestIsToken(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"list_items", true},
		{"urn:portcullis:api:read", true},
		{"a!#$[]^~", true},
		{"", false},
		{"two words", false},
		{`quo"te`, false},
		{`back\slash`, false},
		{"tab\t", false},
		{"del\x7f", false},
		{"é", false},
	}
	for _, tt := range tests {
		if got := IsToken(tt.in); got != tt.want {
			t.Errorf("IsToken(%q) = %t, want %t", tt.in, got, tt.want)
		}
	}
}
