package policy

import (
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// FuzzCompileRequestRule feeds arbitrary rules to CompileRequestRule: it
// must return either a *CompileError with a 1-based position and a
// one-line message, or a rule that decides any request without panicking.
func FuzzCompileRequestRule(f *testing.F) {
	for _, seed := range []string{
		officeHoursRule,
		`claims.org == request.params.org`,
		`"admin" in claims.roles`,
		`request.method == "GET" || claims.scope.split(" ").exists(s, s == "write")`,
		`request.headers["x-org"] == "acme"`,
		`time.between(request.time, "22:00", "06:00")`,
		`time.between(request.time, "8:00", "18:00")`,
		"time.weekday(\n request.time) == 0",
	} {
		f.Add(seed)
	}
	loc := time.FixedZone("test", 3600)
	inputs := []*RequestInput{
		orgRequest(loc),
		{},
		{IP: netip.MustParseAddr("::1"), Header: http.Header{"x-a": {}, "X-A": {"1"}}, Claims: map[string]any{"roles": 1.0}},
	}
	f.Fuzz(func(t *testing.T, expr string) {
		r, err := CompileRequestRule(expr, loc)
		if err != nil {
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("CompileRequestRule(%q) error = %v, want a *CompileError", expr, err)
			}
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("CompileRequestRule(%q) error %q spans lines", expr, err)
			}
			if ce.Line < 1 || ce.Column < 1 || ce.Scope != "" {
				t.Fatalf("CompileRequestRule(%q) error at %q %d:%d, want a 1-based position and no scope", expr, ce.Scope, ce.Line, ce.Column)
			}
			return
		}
		if r.Source() != expr {
			t.Fatalf("Source() = %q, want %q", r.Source(), expr)
		}
		for _, in := range inputs {
			r.Allow(in)
		}
	})
}
