package gateway

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestExtractBearer(t *testing.T) {
	long := strings.Repeat("a", 8<<10)
	tests := []struct {
		name   string
		values []string
		want   string
		err    error
	}{
		{"none", nil, "", errNoCredential},
		{"plain", []string{"Bearer abc.def.ghi"}, "abc.def.ghi", nil},
		{"lower-case scheme", []string{"bearer abc"}, "abc", nil},
		{"mixed-case scheme", []string{"BeArEr abc"}, "abc", nil},
		{"several spaces", []string{"Bearer   abc"}, "abc", nil},
		{"padding", []string{"Bearer abc=="}, "abc==", nil},
		{"all b64token characters", []string{"Bearer aZ09-._~+/"}, "aZ09-._~+/", nil},
		{"basic", []string{"Basic abc"}, "", errNoCredential},
		{"dpop", []string{"DPoP abc"}, "abc", nil},
		{"scheme only", []string{"Bearer"}, "", errMalformedCredential},
		{"scheme glued", []string{"Bearerabc"}, "", errNoCredential},
		{"tab", []string{"Bearer\tabc"}, "", errNoCredential},
		{"two tokens", []string{"Bearer abc def"}, "", errMalformedCredential},
		{"inner padding", []string{"Bearer ab=c"}, "", errMalformedCredential},
		{"only padding", []string{"Bearer =="}, "", errMalformedCredential},
		{"comma", []string{"Bearer abc, Basic x"}, "", errMalformedCredential},
		{"quote", []string{`Bearer "abc"`}, "", errMalformedCredential},
		{"non-ascii", []string{"Bearer abcé"}, "", errMalformedCredential},
		{"8 KiB", []string{"Bearer " + long}, long, nil},
		{"over 8 KiB", []string{"Bearer " + long + "a"}, "", errCredentialTooLong},
		{"1 MB", []string{"Bearer " + strings.Repeat("a", 1<<20)}, "", errCredentialTooLong},
		{"1 MB other scheme", []string{"Basic " + strings.Repeat("a", 1<<20)}, "", errNoCredential},
		{"two headers", []string{"Bearer a", "Bearer b"}, "", errMultipleCredentials},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.values != nil {
				h["Authorization"] = tc.values
			}
			got, _, err := extractCredential(h)
			if got != tc.want || !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
				t.Errorf("extractCredential = %.20q, %v; want %.20q, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestLooksLikeJWT(t *testing.T) {
	tests := map[string]bool{
		"a.b.c":           true,
		"eyJ.eyJ.sig-_":   true,
		"a.b":             false,
		"a.b.c.d":         false,
		"a..c":            false,
		".b.c":            false,
		"a.b.":            false,
		"a.b.c=":          false,
		"a+b.c.d":         false,
		"pca_abc":         false,
		"":                false,
		"a.b/c.d":         false,
		"abcdefghijklmno": false,
	}
	for in, want := range tests {
		if got := looksLikeJWT(in); got != want {
			t.Errorf("looksLikeJWT(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestExtractBearerAllocatesNothing(t *testing.T) {
	for _, v := range []string{"Bearer abc.def.ghi", "DPoP abc.def.ghi"} {
		h := http.Header{"Authorization": {v}}
		if n := testing.AllocsPerRun(100, func() { _, _, _ = extractCredential(h) }); n != 0 {
			t.Errorf("extractCredential(%.6q) allocates %v times", v, n)
		}
	}
}
