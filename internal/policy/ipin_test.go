package policy

import (
	"net/netip"
	"testing"

	"cel.dev/cel-go/common/types"
)

func TestRewriteIPIn(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{`ip.in(request.ip, ["10.0.0.0/8"])`, `ip_in(request.ip, ["10.0.0.0/8"])`},
		{`ip.in (request.ip, [])`, `ip_in (request.ip, [])`},
		{"a && ip.in(\n request.ip, []) || !ip.in(x, y)", "a && ip_in(\n request.ip, []) || !ip_in(x, y)"},
		{`"ip.in(" == 'ip.in(' && ip.in(a, b)`, `"ip.in(" == 'ip.in(' && ip_in(a, b)`},
		{`"""ip.in(""" + '''x ' ip.in(''' + r"ip.in(\" + ip.in(a, b)`, `"""ip.in(""" + '''x ' ip.in(''' + r"ip.in(\" + ip_in(a, b)`},
		{`"a \" ip.in(" + ip.in(a, b)`, `"a \" ip.in(" + ip_in(a, b)`},
		{"// ip.in(\nip.in(a, b)", "// ip.in(\nip_in(a, b)"},
		{`request.ip.in(a, b)`, `request.ip.in(a, b)`},
		{`request. ip.in(a, b)`, `request. ip.in(a, b)`},
		{`zip.in(a, b)`, `zip.in(a, b)`},
		{`ip.inside(a, b)`, `ip.inside(a, b)`},
		{`ip.in`, `ip.in`},
		{`ip.in == 1`, `ip.in == 1`},
		{"a.`ip.in(`", "a.`ip.in(`"},
		{`"unterminated ip.in(`, `"unterminated ip.in(`},
		{`b'ip.in(' + ip.in(a, b)`, `b'ip.in(' + ip_in(a, b)`},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := rewriteIPIn(tc.in); got != tc.want {
				t.Errorf("rewriteIPIn(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestIPIn(t *testing.T) {
	known := map[string]netip.Prefix{"10.0.0.0/8": netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		name  string
		ip    string
		cidrs []string
		want  bool
	}{
		{"known prefix", "10.9.8.7", []string{"10.0.0.0/8"}, true},
		{"parsed at run time", "192.168.1.5", []string{"192.168.1.0/24"}, true},
		{"second prefix", "::1", []string{"10.0.0.0/8", "::1/128"}, true},
		{"no match", "192.0.2.1", []string{"10.0.0.0/8", "127.0.0.0/8"}, false},
		{"single address", "192.0.2.1", []string{"192.0.2.1"}, true},
		{"non-canonical prefix", "10.1.2.3", []string{"10.1.2.99/24"}, true},
		{"ipv4-mapped address", "::ffff:10.1.2.3", []string{"10.0.0.0/8"}, true},
		{"zone ignored", "fe80::1%eth0", []string{"fe80::/10"}, true},
		{"ipv4 prefix does not hold ipv6", "::1", []string{"0.0.0.0/0"}, false},
		{"bad prefix skipped", "10.1.2.3", []string{"not a cidr", "10.0.0.0/8"}, true},
		{"bad address", "10.1.2", []string{"0.0.0.0/0"}, false},
		{"empty address", "", []string{"0.0.0.0/0", "::/0"}, false},
		{"empty list", "10.1.2.3", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ipIn(types.String(tc.ip), types.NewStringList(types.DefaultTypeAdapter, tc.cidrs), known)
			if got != types.Bool(tc.want) {
				t.Errorf("ipIn(%q, %q) = %v, want %v", tc.ip, tc.cidrs, got, tc.want)
			}
		})
	}
	if got := ipIn(types.Int(1), types.NewStringList(types.DefaultTypeAdapter, nil), known); !types.IsError(got) {
		t.Errorf("ipIn(int) = %v, want an error", got)
	}
}

// TestConstantCIDRsParsedAtCompile checks that the literal prefixes of a
// condition are parsed once, when it compiles.
func TestConstantCIDRsParsedAtCompile(t *testing.T) {
	prefixes := map[string]netip.Prefix{}
	env, err := newEnv(prefixes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := compileCondition(env, "s", warehouseCondition, prefixes); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"127.0.0.0/8", "::1/128", "10.0.0.0/8"} {
		if _, ok := prefixes[c]; !ok {
			t.Errorf("prefix %q not parsed at compile time; have %v", c, prefixes)
		}
	}
}
