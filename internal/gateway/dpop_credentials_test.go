package gateway

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

// TestExtractCredentialScheme: the scheme comes back with the token, and
// with the errors that concern a token of that scheme.
func TestExtractCredentialScheme(t *testing.T) {
	long := strings.Repeat("a", 8<<10)
	tests := []struct {
		name   string
		value  string
		want   string
		scheme authScheme
		err    error
	}{
		{"bearer", "Bearer abc", "abc", schemeBearer, nil},
		{"dpop", "DPoP abc.def.ghi", "abc.def.ghi", schemeDPoP, nil},
		{"dpop lower-case, spaces", "dpop   abc", "abc", schemeDPoP, nil},
		{"dpop padding", "DPoP abc==", "abc==", schemeDPoP, nil},
		{"dpop scheme only", "DPoP", "", schemeDPoP, errMalformedCredential},
		{"dpop glued", "DPoPabc", "", schemeNone, errNoCredential},
		{"dpop tab", "DPoP\tabc", "", schemeNone, errNoCredential},
		{"dpop two tokens", "DPoP abc def", "", schemeDPoP, errMalformedCredential},
		{"dpop quote", `DPoP "abc"`, "", schemeDPoP, errMalformedCredential},
		{"dpop 8 KiB", "DPoP " + long, long, schemeDPoP, nil},
		{"dpop over 8 KiB", "DPoP " + long + "a", "", schemeDPoP, errCredentialTooLong},
		{"dpop 1 MB", "DPoP " + strings.Repeat("a", 1<<20), "", schemeDPoP, errCredentialTooLong},
		{"bearer scheme only", "Bearer", "", schemeBearer, errMalformedCredential},
		{"basic", "Basic abc", "", schemeNone, errNoCredential},
		{"dpopx", "DPoPx abc", "", schemeNone, errNoCredential},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, scheme, err := extractCredential(http.Header{"Authorization": {tc.value}})
			if got != tc.want || scheme != tc.scheme || !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
				t.Errorf("extractCredential = %.20q, %d, %v; want %.20q, %d, %v", got, scheme, err, tc.want, tc.scheme, tc.err)
			}
		})
	}
}
