package verify

import (
	"errors"
	"slices"
	"testing"
)

func TestAccessToken(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		dpop   bool
		tok    string
		scheme scheme
		err    error
	}{
		{"bearer", []string{"Bearer abc.def.ghi"}, false, "abc.def.ghi", schemeBearer, nil},
		{"lower case", []string{"bearer abc"}, false, "abc", schemeBearer, nil},
		{"several spaces", []string{"Bearer   abc"}, false, "abc", schemeBearer, nil},
		{"token68 padding", []string{"Bearer abc=="}, false, "abc==", schemeBearer, nil},
		{"dpop", []string{"DPoP abc"}, true, "abc", schemeDPoP, nil},
		{"dpop while off", []string{"DPoP abc"}, false, "", schemeBearer, ErrNoToken},
		{"none", nil, false, "", schemeBearer, ErrNoToken},
		{"basic", []string{"Basic dXNlcjpwYXNz"}, true, "", schemeBearer, ErrNoToken},
		{"empty", []string{""}, false, "", schemeBearer, ErrNoToken},
		{"scheme only", []string{"Bearer"}, false, "", schemeBearer, ErrInvalidRequest},
		{"scheme and space", []string{"Bearer "}, false, "", schemeBearer, ErrInvalidRequest},
		{"two tokens", []string{"Bearer a b"}, false, "", schemeBearer, ErrInvalidRequest},
		{"padding inside", []string{"Bearer a=b"}, false, "", schemeBearer, ErrInvalidRequest},
		{"trailing space", []string{"Bearer abc "}, false, "", schemeBearer, ErrInvalidRequest},
		{"tab", []string{"Bearer\tabc"}, false, "", schemeBearer, ErrNoToken},
		{"two headers", []string{"Bearer a", "Bearer a"}, false, "", schemeBearer, ErrInvalidRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, s, err := accessToken(tc.values, tc.dpop)
			if tok != tc.tok || s != tc.scheme || !errors.Is(err, tc.err) {
				t.Errorf("accessToken(%q) = %q, %v, %v; want %q, %v, %v", tc.values, tok, s, err, tc.tok, tc.scheme, tc.err)
			}
		})
	}
}

// The replay cache of a middleware is the one VerifyDPoPProof uses.
var _ ReplayCache = fxDownReplay{}

// TestProofAlgorithmsAccepted: every algorithm a middleware may be
// configured with for proofs is one VerifyDPoPProof accepts, so a valid
// configuration never turns into refused proofs.
func TestProofAlgorithmsAccepted(t *testing.T) {
	for _, a := range proofAlgorithmsAllowed {
		if !slices.Contains(DPoPAlgorithms, a) {
			t.Errorf("%s may be configured but VerifyDPoPProof refuses it", a)
		}
	}
	for _, a := range proofAlgorithmsDefault {
		if !slices.Contains(proofAlgorithmsAllowed, a) {
			t.Errorf("default proof algorithm %s is not allowed", a)
		}
	}
}
