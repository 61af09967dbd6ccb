package catalog

import "testing"

// TestValidateMTLS: mtls is allowed, required or empty; off is refused
// with the reason, since a bound token is always checked.
func TestValidateMTLS(t *testing.T) {
	tests := []struct {
		mode string
		want string
	}{
		{"", ""},
		{MTLSAllowed, ""},
		{MTLSRequired, ""},
		{"off", `apis[0].mtls: "off" is not a mode: a certificate-bound token is always checked (RFC 8705 §3); use allowed or required`},
		{"Required", `apis[0].mtls: "Required" is not one of allowed, required`},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			s := validSnapshot()
			s.APIs[0].Audiences = []string{"shop"}
			s.APIs[0].MTLS = tc.mode
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
