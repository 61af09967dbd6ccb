package token

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestIsOpaque(t *testing.T) {
	good, err := NewOpaque(PrefixAccess)
	if err != nil {
		t.Fatal(err)
	}
	body := good[len(PrefixAccess):]
	tests := []struct {
		name string
		s    string
		want bool
	}{
		{"minted", good, true},
		{"other prefix", PrefixRefresh + body, false},
		{"no prefix", body, false},
		{"one short", good[:len(good)-1], false},
		{"one long", good + "A", false},
		{"padded", good + "=", false},
		{"standard alphabet", good[:len(good)-2] + "+A", false},
		{"non-canonical last char", good[:len(good)-1] + "B", false},
		{"a jwt", "eyJhbGciOiJFUzI1NiJ9.e30.sig", false},
		{"empty", "", false},
		{"junk of the right length", PrefixAccess + strings.Repeat("!", len(body)), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsOpaque(tc.s, PrefixAccess); got != tc.want {
				t.Errorf("IsOpaque(%q) = %v, want %v", tc.s, got, tc.want)
			}
		})
	}
}

func TestIsSplitSignature(t *testing.T) {
	sig := func(n int) string { return base64.RawURLEncoding.EncodeToString(make([]byte, n)) }
	tests := []struct {
		name string
		s    string
		want bool
	}{
		{"ES256 or EdDSA", sig(64), true},
		{"ES384", sig(96), true},
		{"ES512", sig(132), true},
		{"RSA 2048", sig(256), true},
		{"RSA 3072", sig(384), true},
		{"RSA 8192", sig(1024), true},
		{"RSA below 2048", sig(255), false},
		{"RSA above 8192", sig(1025), false},
		{"HS256 size", sig(32), false},
		{"65 bytes", sig(65), false},
		{"opaque token", "pca_" + sig(32), false},
		{"non-canonical", sig(64)[:85] + "B", false},
		{"a dot", sig(64)[:85] + ".", false},
		{"empty", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsSplitSignature(tc.s); got != tc.want {
				t.Errorf("IsSplitSignature(%q) = %v, want %v", tc.s, got, tc.want)
			}
		})
	}
}

func TestOpaqueFormatAllows(t *testing.T) {
	ours, err := NewOpaque(PrefixAccess)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name            string
		s               string
		portcullis, any bool
	}{
		{"ours", ours, true, true},
		{"a foreign opaque token", "2YotnFZFEjr1zCsicMWpAA", false, true},
		{"every b64token character", "aZ09-._~+/==", false, true},
		{"a jwt-like token", "abc.def.ghi", false, true},
		{"at the bound", strings.Repeat("a", MaxForeignOpaque), false, true},
		{"past the bound", strings.Repeat("a", MaxForeignOpaque+1), false, false},
		{"padding inside", "ab=c", false, false},
		{"only padding", "==", false, false},
		{"a space", "ab c", false, false},
		{"a quote", `ab"c`, false, false},
		{"a comma", "ab,c", false, false},
		{"non-ascii", "abcé", false, false},
		{"a control character", "ab\x00c", false, false},
		{"empty", "", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := OpaquePortcullis.Allows(tc.s); got != tc.portcullis {
				t.Errorf("OpaquePortcullis.Allows(%q) = %v, want %v", tc.s, got, tc.portcullis)
			}
			if got := OpaqueAny.Allows(tc.s); got != tc.any {
				t.Errorf("OpaqueAny.Allows(%q) = %v, want %v", tc.s, got, tc.any)
			}
		})
	}
}

func TestShapeChecksAllocateNothing(t *testing.T) {
	tok, _ := NewOpaque(PrefixAccess)
	sig := base64.RawURLEncoding.EncodeToString(make([]byte, 64))
	if n := testing.AllocsPerRun(100, func() {
		_ = IsOpaque(tok, PrefixAccess)
		_ = IsSplitSignature(sig)
		_ = OpaqueAny.Allows(sig)
	}); n != 0 {
		t.Errorf("shape checks allocate %v times", n)
	}
}

// FuzzShapes: a string that passes a shape check is exactly one canonical
// encoding of bytes of the allowed size.
func FuzzShapes(f *testing.F) {
	tok, _ := NewOpaque(PrefixAccess)
	for _, s := range []string{tok, tok + "=", "pca_", "", base64.RawURLEncoding.EncodeToString(make([]byte, 64)), "a.b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if IsOpaque(s, PrefixAccess) {
			b, err := base64.RawURLEncoding.DecodeString(s[len(PrefixAccess):])
			if err != nil || len(b) != 32 || PrefixAccess+base64.RawURLEncoding.EncodeToString(b) != s {
				t.Fatalf("IsOpaque(%q) but it is not prefix + 32 canonical bytes", s)
			}
		}
		if OpaqueAny.Allows(s) && (len(s) > MaxForeignOpaque || strings.ContainsAny(s, " \t\r\n\",\\") ||
			strings.Trim(s, "=") == "" || strings.Contains(strings.TrimRight(s, "="), "=")) {
			t.Fatalf("OpaqueAny.Allows(%q) but it is not a bounded RFC 6750 b64token", s)
		}
		if IsSplitSignature(s) {
			b, err := base64.RawURLEncoding.DecodeString(s)
			if err != nil || base64.RawURLEncoding.EncodeToString(b) != s {
				t.Fatalf("IsSplitSignature(%q) but it is not canonical base64url", s)
			}
		}
	})
}
