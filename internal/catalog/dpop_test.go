package catalog

import "testing"

// TestValidateDPoP: dpop is one of its modes, or empty.
func TestValidateDPoP(t *testing.T) {
	tests := []struct {
		mode string
		want string
	}{
		{"", ""},
		{DPoPAllowed, ""},
		{DPoPRequired, ""},
		{DPoPOff, ""},
		{"Required", `apis[0].dpop: "Required" is not one of allowed, required, off`},
		{"on", `apis[0].dpop: "on" is not one of allowed, required, off`},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			s := validSnapshot()
			s.APIs[0].Audiences = []string{"shop"}
			s.APIs[0].DPoP = tc.mode
			got := ""
			if err := s.Validate(); err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("Validate() error =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}
