package policy

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzCompile feeds arbitrary conditions to Compile: it must either return
// a *CompileError with a position inside the expression or a policy whose
// grants stay within what was requested and allowed, without panicking.
func FuzzCompile(f *testing.F) {
	for _, seed := range []string{
		warehouseCondition,
		`true`,
		`user.id == "alice"`,
		`ip.in(request.ip, ["10.0.0.0/8", "::1"])`,
		`request.time.getHours("Europe/Berlin") < 18`,
		"user.roles.exists(r,\n r == 'x')",
		`"ip.in(" + ip.in(`,
	} {
		f.Add(seed)
	}
	inputs := []Input{
		{GrantType: "authorization_code", ClientID: "spa", User: alice(), IP: netip.MustParseAddr("127.0.0.1"), Time: time.Unix(1_700_000_000, 0)},
		{GrantType: "client_credentials", ClientID: "svc"},
	}
	f.Fuzz(func(t *testing.T, cond string) {
		if len(rewriteIPIn(cond)) != len(cond) {
			t.Fatalf("rewriteIPIn changed the length of %q", cond)
		}
		p, err := Compile(Spec{Conditions: map[string]string{"s": cond}})
		if err != nil {
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("Compile(%q) error = %v, want a *CompileError", cond, err)
			}
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("Compile(%q) error %q spans lines", cond, err)
			}
			if ce.Line < 1 || ce.Column < 1 || ce.Scope != "s" {
				t.Fatalf("Compile(%q) error at %q %d:%d, want a 1-based position in scope s", cond, ce.Scope, ce.Line, ce.Column)
			}
			return
		}
		for _, in := range inputs {
			got := p.Grant([]string{"s", "t", "s"}, []string{"s"}, in)
			if len(got) > 1 || len(got) == 1 && got[0] != "s" || slices.Contains(got, "t") {
				t.Fatalf("Grant() = %v, want a subset of [s]", got)
			}
		}
	})
}
