package policy

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// london is the zone of the office-hours rules below: its clocks change,
// so a rule read in UTC would be an hour off for half the year.
func london(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatalf("load Europe/London: %v", err)
	}
	return loc
}

// orgRequest is a call to /orgs/acme/items by an admin of acme from the
// office network on a Tuesday morning, London time.
func orgRequest(loc *time.Location) *RequestInput {
	return &RequestInput{
		IP:     netip.MustParseAddr("10.1.2.3"),
		Method: http.MethodGet,
		Path:   "/orgs/acme/items",
		Params: map[string]string{"org": "acme"},
		Header: http.Header{"Accept": {"application/json", "text/plain"}, "X-Org": {"acme"}},
		Time:   time.Date(2025, 3, 4, 9, 30, 0, 0, loc),
		Claims: map[string]any{
			"sub":   "alice",
			"org":   "acme",
			"roles": []any{"admin", "staff"},
			"scope": "list_items write",
			"level": 3.0,
			"exp":   1.7e9,
		},
	}
}

// with returns a copy of in changed by f.
func with(in *RequestInput, f func(*RequestInput)) *RequestInput {
	c := *in
	f(&c)
	return &c
}

func TestRequestRuleDecisions(t *testing.T) {
	loc := london(t)
	base := orgRequest(loc)
	at := func(y int, m time.Month, d, hh, mm, ss int) *RequestInput {
		return with(base, func(in *RequestInput) { in.Time = time.Date(y, m, d, hh, mm, ss, 0, loc) })
	}
	from := func(ip string) *RequestInput {
		return with(base, func(in *RequestInput) { in.IP = netip.MustParseAddr(ip) })
	}
	const nightShift = `time.between(request.time, "22:00", "06:00")`
	tests := []struct {
		name string
		expr string
		in   *RequestInput
		want bool
	}{
		{"office hours from the office", officeHoursRule, base, true},
		{"office hours from outside", officeHoursRule, from("192.0.2.1"), false},
		{"office hours from ipv4-mapped office address", officeHoursRule, from("::ffff:10.1.200.1"), true},
		{"office hours with unknown address", officeHoursRule, with(base, func(in *RequestInput) { in.IP = netip.Addr{} }), false},
		{"office hours before eight", officeHoursRule, at(2025, 3, 4, 7, 59, 59), false},
		{"office hours at eight", officeHoursRule, at(2025, 3, 4, 8, 0, 0), true},
		{"office hours last second", officeHoursRule, at(2025, 3, 4, 17, 59, 59), true},
		{"office hours end excluded", officeHoursRule, at(2025, 3, 4, 18, 0, 0), false},
		{"office hours on saturday", officeHoursRule, at(2025, 3, 8, 10, 0, 0), false},
		{"office hours on sunday", officeHoursRule, at(2025, 3, 9, 10, 0, 0), false},
		{"office hours on friday", officeHoursRule, at(2025, 3, 7, 10, 0, 0), true},
		// 07:30 UTC is 08:30 in London in summer (BST): inside.
		{"office hours read in the rule's zone in summer", officeHoursRule,
			with(base, func(in *RequestInput) { in.Time = time.Date(2025, 7, 1, 7, 30, 0, 0, time.UTC) }), true},
		// 17:30 UTC is 18:30 BST: outside, though 17:30 is inside in UTC.
		{"office hours end in summer", officeHoursRule,
			with(base, func(in *RequestInput) { in.Time = time.Date(2025, 7, 1, 17, 30, 0, 0, time.UTC) }), false},
		// Sunday 23:30 UTC is Monday 00:30 BST.
		{"weekday in the rule's zone", `time.weekday(request.time) == 1`,
			with(base, func(in *RequestInput) { in.Time = time.Date(2025, 6, 29, 23, 30, 0, 0, time.UTC) }), true},
		{"weekday sunday is zero", `time.weekday(request.time) == 0`, at(2025, 3, 9, 12, 0, 0), true},
		{"weekday saturday is six", `time.weekday(request.time) == 6`, at(2025, 3, 8, 12, 0, 0), true},
		{"night shift late evening", nightShift, at(2025, 3, 4, 23, 0, 0), true},
		{"night shift at the start", nightShift, at(2025, 3, 4, 22, 0, 0), true},
		{"night shift after midnight", nightShift, at(2025, 3, 4, 0, 0, 0), true},
		{"night shift early morning", nightShift, at(2025, 3, 4, 5, 59, 59), true},
		{"night shift over", nightShift, at(2025, 3, 4, 6, 0, 0), false},
		{"night shift daytime", nightShift, at(2025, 3, 4, 12, 0, 0), false},
		{"window to midnight", `time.between(request.time, "18:00", "00:00")`, at(2025, 3, 4, 23, 59, 59), true},
		{"window to midnight excludes midnight", `time.between(request.time, "18:00", "00:00")`, at(2025, 3, 4, 0, 0, 0), false},
		{"bounds computed at run time", `time.between(request.time, request.params.from, "18:00")`,
			with(base, func(in *RequestInput) { in.Params = map[string]string{"from": "09:00"} }), true},
		{"bad bound at run time denies", `time.between(request.time, request.params.from, "18:00")`,
			with(base, func(in *RequestInput) { in.Params = map[string]string{"from": "9am"} }), false},
		{"empty window at run time holds nothing", `time.between(request.time, request.params.from, "09:30")`,
			with(base, func(in *RequestInput) { in.Params = map[string]string{"from": "09:30"} }), false},
		{"org in path matches claim", `claims.org == request.params.org`, base, true},
		{"org in path differs from claim", `claims.org == request.params.org`,
			with(base, func(in *RequestInput) { in.Params = map[string]string{"org": "globex"} }), false},
		{"no org claim denies", `claims.org == request.params.org`,
			with(base, func(in *RequestInput) { in.Claims = map[string]any{"sub": "bob"} }), false},
		{"public route has no claims", `claims.org == request.params.org`,
			with(base, func(in *RequestInput) { in.Claims = nil }), false},
		{"no params denies a param read", `request.params.org == "acme"`,
			with(base, func(in *RequestInput) { in.Params = nil }), false},
		{"no params is empty", `size(request.params) == 0`, with(base, func(in *RequestInput) { in.Params = nil }), true},
		{"role in claims", `"admin" in claims.roles`, base, true},
		{"role not in claims", `"auditor" in claims.roles`, base, false},
		{"roles claim of strings", `"admin" in claims.roles`,
			with(base, func(in *RequestInput) { in.Claims = map[string]any{"roles": []string{"admin"}} }), true},
		{"roles claim not a list denies", `"admin" in claims.roles`,
			with(base, func(in *RequestInput) { in.Claims = map[string]any{"roles": 7.0} }), false},
		{"get or write scope: a get", `request.method == "GET" || claims.scope.split(" ").exists(s, s == "write")`, base, true},
		{"get or write scope: a post with write", `request.method == "GET" || claims.scope.split(" ").exists(s, s == "write")`,
			with(base, func(in *RequestInput) { in.Method = http.MethodPost }), true},
		{"get or write scope: a post without write", `request.method == "GET" || claims.scope.split(" ").exists(s, s == "write")`,
			with(base, func(in *RequestInput) { in.Method = http.MethodPost; in.Claims = map[string]any{"scope": "list_items"} }), false},
		{"a scope that only contains write", `claims.scope.split(" ").exists(s, s == "write")`,
			with(base, func(in *RequestInput) { in.Claims = map[string]any{"scope": "overwrite"} }), false},
		{"double claim compares with int", `claims.level >= 3 && claims.level < 4`, base, true},
		{"path", `request.path.startsWith("/orgs/")`, base, true},
		{"header lower-case name, first value", `request.headers["accept"] == "application/json"`, base, true},
		{"header with upper-case name is absent", `"Accept" in request.headers`, base, false},
		{"header present", `"x-org" in request.headers && has(request.headers.accept)`, base, true},
		{"header absent denies a read", `request.headers["x-tenant"] == ""`, base, false},
		{"header absent tested first", `!("x-tenant" in request.headers) || request.headers["x-tenant"] == "acme"`, base, true},
		{"header map as a whole", `request.headers == {"accept": "application/json", "x-org": "acme"}`, base, true},
		{"header map size", `size(request.headers) == 2`, base, true},
		{"header map iteration", `request.headers.all(k, k == k.lowerAscii())`, base, true},
		{"no headers", `size(request.headers) == 0 && !("accept" in request.headers)`,
			with(base, func(in *RequestInput) { in.Header = nil }), true},
		{"header set without canonical spelling", `request.headers["x-custom"] == "1"`,
			with(base, func(in *RequestInput) { in.Header = http.Header{"x-custom": {"1"}} }), true},
		{"canonical spelling wins", `request.headers["x-custom"] == "canonical" && request.headers == {"x-custom": "canonical"}`,
			with(base, func(in *RequestInput) {
				in.Header = http.Header{"x-custom": {"lower"}, "X-Custom": {"canonical"}, "X-CUSTOM": {"upper"}}
			}), true},
		{"header with no values is absent", `!("x-empty" in request.headers) && size(request.headers) == 0`,
			with(base, func(in *RequestInput) { in.Header = http.Header{"X-Empty": {}} }), true},
		{"ip rendered plainly", `request.ip == "10.1.2.3"`, base, true},
		{"ip zone dropped", `request.ip == "fe80::1"`, from("fe80::1%eth0"), true},
		{"ip.in single address", `ip.in(request.ip, ["10.1.2.3"])`, base, true},
		{"ip.in runtime list", `ip.in(request.ip, [request.params.net])`,
			with(base, func(in *RequestInput) { in.Params = map[string]string{"net": "10.0.0.0/8"} }), true},
		{"ip.in list from claims", `ip.in(request.ip, claims.nets)`,
			with(base, func(in *RequestInput) { in.Claims = map[string]any{"nets": []any{"192.0.2.0/24", "10.1.0.0/16"}} }), true},
		{"dynamic field read", `dyn(request).method == "GET"`, base, true},
		{"dynamic missing field denies", `dyn(request).nosuch == "GET"`, base, false},
		{"type of request", `type(request) == portcullis.HTTPRequest`, base, true},
		{"request cannot be built", `portcullis.HTTPRequest{method: "GET"}.method == "GET"`, base, false},
		{"strings extension", `request.path.lowerAscii().indexOf("acme") == 6`, base, true},
		{"false", `false`, base, false},
		{"true", `true`, base, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := CompileRequestRule(tc.expr, loc)
			if err != nil {
				t.Fatalf("CompileRequestRule(%q) error = %v", tc.expr, err)
			}
			if got := r.Allow(tc.in); got != tc.want {
				t.Errorf("Allow() = %v, want %v (rule %s)", got, tc.want, tc.expr)
			}
		})
	}
}

func TestRequestRuleNilZoneIsUTC(t *testing.T) {
	r, err := CompileRequestRule(`time.between(request.time, "08:00", "18:00")`, nil)
	if err != nil {
		t.Fatal(err)
	}
	loc := london(t)
	tests := []struct {
		at   time.Time
		want bool
	}{
		{time.Date(2025, 7, 1, 7, 30, 0, 0, time.UTC), false},
		{time.Date(2025, 7, 1, 17, 30, 0, 0, time.UTC), true},
		// 08:30 BST is 07:30 UTC: the input's own zone does not matter.
		{time.Date(2025, 7, 1, 8, 30, 0, 0, loc), false},
	}
	for _, tc := range tests {
		t.Run(tc.at.String(), func(t *testing.T) {
			if got := r.Allow(&RequestInput{Time: tc.at}); got != tc.want {
				t.Errorf("Allow() at %v = %v, want %v", tc.at, got, tc.want)
			}
		})
	}
}

func TestRequestRuleFailsClosed(t *testing.T) {
	var nilRule *RequestRule
	if nilRule.Allow(&RequestInput{}) {
		t.Error("nil rule Allow() = true, want false")
	}
	if got := nilRule.Source(); got != "" {
		t.Errorf("nil rule Source() = %q, want empty", got)
	}
	r, err := CompileRequestRule(`true`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Allow(nil) {
		t.Error("Allow(nil) = true, want false")
	}
}

func TestRequestRuleSource(t *testing.T) {
	const expr = "// office only\n ip.in(request.ip, [\"10.0.0.0/8\"])"
	r, err := CompileRequestRule(expr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Source(); got != expr {
		t.Errorf("Source() = %q, want %q", got, expr)
	}
}

// TestRequestRuleActivationReset checks that a pooled activation carries
// nothing from one call into the next: a request without claims must not
// see the claims of the request before it.
func TestRequestRuleActivationReset(t *testing.T) {
	r, err := CompileRequestRule(`claims.org == "acme" && request.headers["x-org"] == "acme"`, nil)
	if err != nil {
		t.Fatal(err)
	}
	full := orgRequest(time.UTC)
	bare := &RequestInput{Method: http.MethodGet}
	for i := range 20 {
		if !r.Allow(full) {
			t.Fatalf("call %d: Allow(full) = false, want true", i)
		}
		if r.Allow(bare) {
			t.Fatalf("call %d: Allow(bare) = true, want false", i)
		}
	}
}

func TestRequestRuleCostLimit(t *testing.T) {
	r, err := CompileRequestRule(`claims.roles.all(a, claims.roles.all(b, claims.roles.all(c, a + b + c != "")))`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !r.costTracked {
		t.Fatal("rule over claims of unbounded size is not cost-tracked")
	}
	roles := make([]any, 40)
	for i := range roles {
		roles[i] = fmt.Sprintf("r%d", i)
	}
	if r.Allow(&RequestInput{Claims: map[string]any{"roles": roles}}) {
		t.Error("Allow() = true over the cost limit, want false")
	}
	if !r.Allow(&RequestInput{Claims: map[string]any{"roles": roles[:3]}}) {
		t.Error("Allow() = false within the cost limit, want true")
	}
}

// TestRequestRuleCostTracking checks which rules the static estimate
// frees from the runtime cost tracker: only those whose cost cannot grow
// with the input.
func TestRequestRuleCostTracking(t *testing.T) {
	tests := []struct {
		expr    string
		tracked bool
	}{
		{officeHoursRule, false},
		{`claims.org == "acme" && request.params.org == "acme"`, false},
		// Comparing two strings of the input costs their length.
		{`claims.org == request.params.org`, true},
		{`request.method == "GET" && request.headers["x-org"] == "acme"`, false},
		{`"admin" in claims.roles`, true},
		{`claims.scope.split(" ").exists(s, s == "write")`, true},
		{`request.headers.exists(k, k.startsWith("x-"))`, true},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			r, err := CompileRequestRule(tc.expr, nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.costTracked != tc.tracked {
				t.Errorf("costTracked = %v, want %v", r.costTracked, tc.tracked)
			}
		})
	}
}

func TestCompileRequestRuleErrors(t *testing.T) {
	tests := []struct {
		name    string
		expr    string
		line    int
		column  int
		msgPart string
	}{
		{"syntax error", `request.method == "GET" &&`, 1, 27, "Syntax error"},
		{"non-bool result", `request.path`, 1, 1, "must be a bool expression, not string"},
		{"dyn result", "\n  claims.admin", 2, 3, "must be a bool expression, not dyn"},
		{"unknown variable", `user.id == "alice"`, 1, 1, "undeclared reference to 'user'"},
		{"misspelled field", "request.method == \"GET\" &&\n  request.adress == \"x\"", 2, 10, "undefined field 'adress'"},
		{"issuance-only field", `request.grant_type == "x"`, 1, 8, "undefined field 'grant_type'"},
		{"invalid CIDR", `ip.in(request.ip, ["10.1.0.0/16", "10.1.0.0/99"])`, 1, 35, `ip.in: invalid CIDR "10.1.0.0/99"`},
		{"time of day without leading zero", `time.between(request.time, "8:00", "18:00")`, 1, 28, `time.between: invalid time of day "8:00", want HH:MM`},
		{"time of day out of range", "time.between(request.time,\n  \"08:00\", \"24:00\")", 2, 12, `time.between: invalid time of day "24:00", want 00:00 to 23:59`},
		{"time of day with seconds", `time.between(request.time, "08:00:00", "18:00")`, 1, 28, `invalid time of day "08:00:00"`},
		{"minutes out of range", `time.between(request.time, "08:60", "18:00")`, 1, 28, `invalid time of day "08:60"`},
		{"empty window", `time.between(request.time, "08:00", "08:00")`, 1, 28, "time.between: empty window 08:00 to 08:00"},
		{"time.between on a string", `time.between(request.path, "08:00", "18:00")`, 1, 13, "no matching overload for 'time.between'"},
		{"time.weekday result is int", `time.weekday(request.time) == "monday"`, 1, 28, "no matching overload for '_==_'"},
		{"unknown time function", `time.hour(request.time) > 8`, 1, 1, "undeclared reference to 'time'"},
		{"too long", strings.Repeat("true && ", 600) + "true", 1, 1, "exceeds"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := CompileRequestRule(tc.expr, nil)
			if r != nil {
				t.Errorf("CompileRequestRule() = %v, want nil on error", r)
			}
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("CompileRequestRule() error = %v, want a *CompileError", err)
			}
			if ce.Scope != "" || ce.Line != tc.line || ce.Column != tc.column {
				t.Errorf("CompileError at %q %d:%d, want \"\" %d:%d (%s)", ce.Scope, ce.Line, ce.Column, tc.line, tc.column, ce.Msg)
			}
			if !strings.Contains(ce.Msg, tc.msgPart) {
				t.Errorf("CompileError.Msg = %q, want it to contain %q", ce.Msg, tc.msgPart)
			}
			if want := fmt.Sprintf("policy: request rule %d:%d: ", tc.line, tc.column); !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Error() = %q, want prefix %q", err, want)
			}
		})
	}
}

// TestRequestRuleTypesStayApart checks that neither environment knows the
// other's request type.
func TestRequestRuleTypesStayApart(t *testing.T) {
	if _, err := Compile(Spec{Conditions: map[string]string{"s": `type(request) == portcullis.HTTPRequest`}}); err == nil {
		t.Error("issuance condition compiled with the gateway request type")
	}
	if _, err := CompileRequestRule(`type(request) == portcullis.Request`, nil); err == nil {
		t.Error("request rule compiled with the issuance request type")
	}
}

// TestRequestRuleConcurrent shares one rule between goroutines; run with
// -race.
func TestRequestRuleConcurrent(t *testing.T) {
	loc := london(t)
	r, err := CompileRequestRule(officeHoursRule+` && claims.org == request.params.org && request.headers["x-org"] == claims.org`, loc)
	if err != nil {
		t.Fatal(err)
	}
	good := orgRequest(loc)
	bad := with(good, func(in *RequestInput) { in.Params = map[string]string{"org": "globex"} })
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 200 {
				in, want := good, true
				if i%2 == 1 {
					in, want = bad, false
				}
				if got := r.Allow(in); got != want {
					t.Errorf("goroutine %d: Allow() = %v, want %v", i, got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestParseClock(t *testing.T) {
	tests := []struct {
		in      string
		want    int
		wantErr bool
	}{
		{"00:00", 0, false},
		{"08:30", 510, false},
		{"23:59", 1439, false},
		{"24:00", 0, true},
		{"12:60", 0, true},
		{"8:00", 0, true},
		{"08:0", 0, true},
		{"08-00", 0, true},
		{" 08:00", 0, true},
		{"+8:00", 0, true},
		{"", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseClock(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("parseClock(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}
