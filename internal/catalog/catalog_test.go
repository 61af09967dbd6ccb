package catalog

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestOriginProblem(t *testing.T) {
	tests := []struct {
		origin string
		ok     bool
	}{
		{"https://app.example.com", true},
		{"http://127.0.0.1:5173", true},
		{"http://localhost:5173", true},
		{"http://[::1]:5173", true},
		{"https://*.example.com", true},
		{"https://*.example.com:8443", true},
		{"capacitor://localhost", false},
		{"https://app.example.com:8443", true},
		{"https://app.example.com/", false},
		{"https://app.example.com/path", false},
		{"https://user@app.example.com", false},
		{"https://App.example.com", false},
		{"https://app.example.com:443", false},
		{"http://app.example.com:80", false},
		{"https://app.example.com:0", false},
		{"https://app.example.com:08443", false},
		{"https://app.example.com:", false},
		{"https://*.com", false},
		{"https://*", false},
		{"https://a.*.example.com", false},
		{"https://", false},
		{"app.example.com", false},
		{"null", false},
		{"https://[fe80::1%25eth0]", false},
		{"https://[::1", false},
		{"https://exa_mple.com", false},
		{"https://-a.example.com", false},
		{"1http://a.example", false},
	}
	for _, tc := range tests {
		t.Run(tc.origin, func(t *testing.T) {
			msg := OriginProblem(tc.origin)
			if got := msg == ""; got != tc.ok {
				t.Errorf("OriginProblem(%q) = %q, want ok %v", tc.origin, msg, tc.ok)
			}
		})
	}
}

func TestPathProblem(t *testing.T) {
	tests := []struct {
		path      string
		wildcards bool
		want      string
	}{
		{"/warehouse", false, ""},
		{"/api/v1/warehouse", false, ""},
		{"/a-b_c.d~e", false, ""},
		{"/a:b@c", false, `"/a:b@c": ":" is not allowed in a base path: letters, digits and -._~`},
		{"/a:b@c", true, ""},
		{"/", false, ""},
		{"/shop/", false, ""},
		{"/shop//", false, `"/shop//" has an empty segment (//)`},
		{"", false, "must not be empty: the path the API lives under, such as /warehouse"},
		{"/a/{id}", false, `"/a/{id}" must be literal: wildcards belong in operation paths`},
		{"/a?b", false, `"/a?b": "?" is not allowed in a base path: letters, digits and -._~`},
		{"/a#b", true, `"/a#b": "#" is not allowed in a path here: letters, digits and -._~!$&'()*+,;=:@`},
		{"/ä", false, `"/ä": "\xc3" is not allowed in a base path: letters, digits and -._~`},
		{"/ä", true, `"/ä": "\xc3" is not allowed in a path here: letters, digits and -._~!$&'()*+,;=:@`},
		{"/", true, ""},
		{"/items/{id}", true, ""},
		{"/{all...}", true, ""},
		{"/a/{_x1}/{y...}", true, ""},
		{"", true, "must not be empty: a path such as /items or /items/{id}"},
		{"/a/{}", true, `"/a/{}": wildcard name "" is not letters, digits and _ (not starting with a digit)`},
		{"/a/{b-c}", true, `"/a/{b-c}": wildcard name "b-c" is not letters, digits and _ (not starting with a digit)`},
		{"/a/{b}}", true, `"/a/{b}}": a wildcard is a whole segment, {name} or {name...}`},
		{"/a/{$}", true, `"/a/{$}": wildcard name "$" is not letters, digits and _ (not starting with a digit)`},
		{"/a/..", true, `"/a/.." must not contain . or .. segments`},
		{"/items/", true, ""},
		{"/items/{id}/", true, ""},
		{"/items//", true, `"/items//" has an empty segment (//)`},
		{"/{rest...}/", true, `"/{rest...}/": {rest...} must be the last segment`},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			if got := PathProblem(tc.path, tc.wildcards); got != tc.want {
				t.Errorf("PathProblem(%q, %v) = %q, want %q", tc.path, tc.wildcards, got, tc.want)
			}
		})
	}
}

func TestSnapshotLocation(t *testing.T) {
	tests := []struct {
		zone string
		want string
	}{
		{"", "UTC"},
		{"UTC", "UTC"},
		{"Europe/Berlin", "Europe/Berlin"},
		{"Local", "UTC"},
		{"Nowhere/Town", "UTC"},
	}
	for _, tc := range tests {
		t.Run(tc.zone, func(t *testing.T) {
			g := Snapshot{TimeZone: tc.zone}
			if got := g.Location().String(); got != tc.want {
				t.Errorf("Location() = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestSnapshotIssuerFor(t *testing.T) {
	one := Snapshot{Issuers: []Issuer{{Issuer: "https://a.example"}}}
	two := Snapshot{Issuers: []Issuer{{Issuer: "https://a.example"}, {Issuer: "https://b.example"}}}
	tests := []struct {
		name   string
		g      *Snapshot
		issuer string
		want   string // "" for nil
	}{
		{"only one, unnamed", &one, "", "https://a.example"},
		{"only one, named", &one, "https://a.example", "https://a.example"},
		{"only one, wrong name", &one, "https://b.example", ""},
		{"two, unnamed", &two, "", ""},
		{"two, named", &two, "https://b.example", "https://b.example"},
		{"none", &Snapshot{}, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ""
			if is := tc.g.IssuerFor(&API{Issuer: tc.issuer}); is != nil {
				got = is.Issuer
			}
			if got != tc.want {
				t.Errorf("IssuerFor(%q) = %q, want %q", tc.issuer, got, tc.want)
			}
		})
	}
	if is := two.IssuerFor(&API{Issuer: "https://b.example"}); is != &two.Issuers[1] {
		t.Error("IssuerFor() does not point into Issuers")
	}
}

func TestSnapshotTrustedProxyPrefixes(t *testing.T) {
	g := Snapshot{TrustedProxies: []string{
		"10.0.0.0/8", "192.0.2.7", "::1", "2001:db8::/32", "::ffff:10.0.0.0/104", "::ffff:192.0.2.8",
		"10.1.2.3/16", "junk", "fe80::1%eth0", "::ffff:0:0/90", "::ffff:10.0.0.0/97",
	}}
	want := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("192.0.2.7/32"),
		netip.MustParsePrefix("::1/128"),
		netip.MustParsePrefix("2001:db8::/32"),
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("192.0.2.8/32"),
	}
	if diff := cmp.Diff(want, g.TrustedProxyPrefixes(), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("TrustedProxyPrefixes() mismatch (-want +got):\n%s", diff)
	}
}

func TestAPIAcceptsAndNeedsToken(t *testing.T) {
	tests := []struct {
		name string
		api  API
		want bool
	}{
		{"operations with a token", API{Operations: []Operation{{Path: "/a", Public: true}, {Path: "/b"}}}, true},
		{"all operations public", API{Operations: []Operation{{Path: "/a", Public: true}}}, false},
		{"public API", API{Public: true, Operations: []Operation{{Path: "/a"}}}, false},
		{"openapi", API{OpenAPI: "o.yaml", Operations: []Operation{{Path: "/a", Public: true}}}, true},
		{"nothing declared", API{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.api.NeedsToken(); got != tc.want {
				t.Errorf("NeedsToken() = %v, want %v", got, tc.want)
			}
		})
	}
	a := API{Tokens: []string{TokenJWT, TokenSplit}}
	for kind, want := range map[string]bool{TokenJWT: true, TokenOpaque: false, TokenSplit: true, "": false} {
		if got := a.Accepts(kind); got != want {
			t.Errorf("Accepts(%q) = %v, want %v", kind, got, want)
		}
	}
}
