package fieldrules

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseSelector(t *testing.T) {
	tests := []struct {
		in      string
		want    []step
		wantErr string
	}{
		{in: "$", want: nil},
		{in: "$.patients", want: []step{{kind: stepName, name: "patients"}}},
		{in: "$.patients[*].ssn", want: []step{{kind: stepName, name: "patients"}, {kind: stepAll}, {kind: stepName, name: "ssn"}}},
		{in: "$[0].a-b_c", want: []step{{kind: stepIndex, index: 0}, {kind: stepName, name: "a-b_c"}}},
		{in: "$[12][*]", want: []step{{kind: stepIndex, index: 12}, {kind: stepAll}}},
		{in: "", wantErr: "must start with $"},
		{in: "patients", wantErr: "must start with $"},
		{in: "$.", wantErr: "offset 1: . must be followed by a name"},
		{in: "$..ssn", wantErr: "offset 1: . must be followed by a name"},
		{in: "$.a b", wantErr: "offset 3: expected . or ["},
		{in: "$[", wantErr: "offset 1: [ is not closed"},
		{in: "$[01]", wantErr: "offset 2: brackets hold"},
		{in: "$[-1]", wantErr: "offset 2: brackets hold"},
		{in: "$['a']", wantErr: "offset 2: brackets hold"},
		{in: "$[?(@.a)]", wantErr: "offset 2: brackets hold"},
		{in: "$[99999999999999999999]", wantErr: "index is larger"},
		{in: "$" + strings.Repeat(".a", 33), wantErr: "more than 32 steps"},
		{in: "$." + strings.Repeat("a", 600), wantErr: "longer than 512 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSelector(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseSelector(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSelector(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got.steps, cmp.AllowUnexported(step{})); diff != "" {
				t.Errorf("ParseSelector(%q) steps (-want +got):\n%s", tt.in, diff)
			}
			if got.String() != tt.in {
				t.Errorf("String() = %q, want %q", got.String(), tt.in)
			}
		})
	}
}

// FuzzParseSelector checks that parsing never panics, that what parses
// renders back to a selector with the same steps, and that an error
// never quotes the input.
func FuzzParseSelector(f *testing.F) {
	for _, s := range []string{"$", "$.patients[*].ssn", "$[0][*].a", "$.a[", "$[01]", "$..a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := ParseSelector(s)
		if err != nil {
			if len(s) > 3 && strings.Contains(err.Error(), s) {
				t.Fatalf("error %q quotes the input", err)
			}
			return
		}
		var b strings.Builder
		b.WriteString("$")
		for _, st := range sel.steps {
			switch st.kind {
			case stepName:
				b.WriteString("." + st.name)
			case stepAll:
				b.WriteString("[*]")
			case stepIndex:
				b.WriteString("[" + itoa(st.index) + "]")
			}
		}
		if b.String() != s {
			t.Fatalf("ParseSelector(%q) renders back as %q", s, b.String())
		}
		// Walking any document with it never panics.
		_ = containers([]any{map[string]any{"a": []any{1.0}}}, sel.rooted(), func(any, step) error { return nil })
	})
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
