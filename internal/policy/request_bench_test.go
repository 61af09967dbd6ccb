package policy

import (
	"net/http"
	"net/netip"
	"testing"
	"time"
)

// BenchmarkRequestRule measures one gateway decision per rule shape: the
// office-hours network rule a route would carry, and an object-level
// claims check. Run with -benchmem; the activation is pooled, so the
// allocations left are the values the rule reads.
func BenchmarkRequestRule(b *testing.B) {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		b.Fatal(err)
	}
	in := &RequestInput{
		IP:     netip.MustParseAddr("10.1.2.3"),
		Method: http.MethodPost,
		Path:   "/orgs/acme/items",
		Params: map[string]string{"org": "acme"},
		Header: http.Header{"Accept": {"application/json"}, "X-Request-Id": {"r1"}},
		Time:   time.Date(2025, 3, 4, 9, 30, 0, 0, london),
		Claims: map[string]any{"sub": "alice", "org": "acme", "roles": []any{"admin"}, "scope": "read write"},
	}
	for _, bc := range []struct {
		name, expr string
	}{
		{"ip+time", officeHoursRule},
		{"claims", `claims.org == request.params.org && "admin" in claims.roles`},
		{"method or scope", `request.method == "GET" || claims.scope.split(" ").exists(s, s == "write")`},
		{"header", `request.headers["x-request-id"] != ""`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r, err := CompileRequestRule(bc.expr, london)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if !r.Allow(in) {
					b.Fatal("Allow() = false, want true")
				}
			}
		})
	}
}

const officeHoursRule = `ip.in(request.ip, ["10.1.0.0/16"]) && time.between(request.time, "08:00", "18:00") && time.weekday(request.time) >= 1 && time.weekday(request.time) <= 5`

// BenchmarkCompileRequestRule measures what a config load or reload pays
// per rule: a fresh environment, parse, check, cost estimate and plan.
func BenchmarkCompileRequestRule(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CompileRequestRule(officeHoursRule, time.UTC); err != nil {
			b.Fatal(err)
		}
	}
}
