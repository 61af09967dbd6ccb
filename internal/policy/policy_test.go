package policy

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

var (
	loopback  = netip.MustParseAddr("127.0.0.1")
	testNet   = netip.MustParseAddr("192.0.2.1")
	morning   = time.Date(2025, 3, 3, 9, 30, 0, 0, time.UTC)
	allScopes = []string{"openid", "profile", "list_items", "order_item"}
)

// warehouseCases are the decisions of the warehouse example; their reasons
// are kept in testdata/warehouse_decisions.golden.
var warehouseCases = []struct {
	name      string
	requested []string
	client    []string
	in        Input
	want      []string
}{
	{
		name:      "alice from loopback gets both",
		requested: []string{"list_items", "order_item"},
		client:    allScopes,
		in:        Input{GrantType: "authorization_code", ClientID: "spa", User: alice(), IP: loopback, Time: morning},
		want:      []string{"list_items", "order_item"},
	},
	{
		name:      "alice from ipv6 loopback gets both",
		requested: []string{"list_items", "order_item"},
		client:    allScopes,
		in:        Input{GrantType: "authorization_code", ClientID: "spa", User: alice(), IP: netip.MustParseAddr("::1"), Time: morning},
		want:      []string{"list_items", "order_item"},
	},
	{
		name:      "alice from ipv4-mapped internal address gets both",
		requested: []string{"list_items", "order_item"},
		client:    allScopes,
		in:        Input{GrantType: "authorization_code", ClientID: "spa", User: alice(), IP: netip.MustParseAddr("::ffff:10.1.2.3"), Time: morning},
		want:      []string{"list_items", "order_item"},
	},
	{
		name:      "alice from outside loses order_item",
		requested: []string{"list_items", "order_item"},
		client:    allScopes,
		in:        Input{GrantType: "authorization_code", ClientID: "spa", User: alice(), IP: testNet, Time: morning},
		want:      []string{"list_items"},
	},
	{
		name:      "alice with unknown address loses order_item",
		requested: []string{"list_items", "order_item"},
		client:    allScopes,
		in:        Input{GrantType: "authorization_code", ClientID: "spa", User: alice(), Time: morning},
		want:      []string{"list_items"},
	},
	{
		name:      "bob never gets order_item",
		requested: []string{"list_items", "order_item"},
		client:    allScopes,
		in:        Input{GrantType: "authorization_code", ClientID: "spa", User: bob(), IP: loopback, Time: morning},
		want:      []string{"list_items"},
	},
	{
		name:      "bob promoted but at the regional office",
		requested: []string{"order_item"},
		client:    allScopes,
		in: Input{GrantType: "authorization_code", ClientID: "spa", IP: loopback, Time: morning,
			User: &User{ID: "bob", Roles: []string{"warehouse_admin"}, Attrs: map[string]string{"office": "regional"}}},
		want: []string{},
	},
	{
		name:      "admin without an office attribute is denied by the error",
		requested: []string{"order_item"},
		client:    allScopes,
		in: Input{GrantType: "authorization_code", ClientID: "spa", IP: loopback, Time: morning,
			User: &User{ID: "carol", Roles: []string{"warehouse_admin"}}},
		want: []string{},
	},
	{
		name:      "user without roles gets only unmanaged scopes",
		requested: []string{"openid", "profile", "list_items"},
		client:    allScopes,
		in:        Input{GrantType: "authorization_code", ClientID: "spa", User: &User{ID: "dave"}, IP: loopback, Time: morning},
		want:      []string{"openid", "profile"},
	},
	{
		name:      "openid passes with no role",
		requested: []string{"openid"},
		client:    allScopes,
		in:        Input{GrantType: "authorization_code", ClientID: "spa", User: bob(), IP: testNet, Time: morning},
		want:      []string{"openid"},
	},
	{
		name:      "client credentials get role scopes by client permission alone",
		requested: []string{"list_items"},
		client:    []string{"list_items"},
		in:        Input{GrantType: "client_credentials", ClientID: "svc", IP: loopback, Time: morning},
		want:      []string{"list_items"},
	},
	{
		name:      "client credentials fail the user condition",
		requested: []string{"list_items", "order_item"},
		client:    []string{"list_items", "order_item"},
		in:        Input{GrantType: "client_credentials", ClientID: "svc", IP: loopback, Time: morning},
		want:      []string{"list_items"},
	},
	{
		name:      "scope not allowed for client dropped",
		requested: []string{"openid", "order_item", "list_items"},
		client:    []string{"openid", "list_items"},
		in:        Input{GrantType: "authorization_code", ClientID: "spa", User: alice(), IP: loopback, Time: morning},
		want:      []string{"openid", "list_items"},
	},
	{
		name:      "order kept and duplicates dropped",
		requested: []string{"order_item", "openid", "order_item", "list_items", "openid"},
		client:    allScopes,
		in:        Input{GrantType: "authorization_code", ClientID: "spa", User: alice(), IP: loopback, Time: morning},
		want:      []string{"order_item", "openid", "list_items"},
	},
	{
		name:      "unknown and empty scopes dropped",
		requested: []string{"", "admin", "openid"},
		client:    append(slices.Clone(allScopes), ""),
		in:        Input{GrantType: "authorization_code", ClientID: "spa", User: alice(), IP: loopback, Time: morning},
		want:      []string{"openid"},
	},
	{
		name:      "nothing requested",
		requested: nil,
		client:    allScopes,
		in:        Input{GrantType: "authorization_code", ClientID: "spa", User: alice(), IP: loopback, Time: morning},
		want:      []string{},
	},
}

func TestGrantWarehouse(t *testing.T) {
	p, err := Compile(warehouseSpec())
	if err != nil {
		t.Fatalf("Compile() error = %v", err)
	}
	var report strings.Builder
	for _, tc := range warehouseCases {
		t.Run(tc.name, func(t *testing.T) {
			got := p.Grant(tc.requested, tc.client, tc.in)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Grant() mismatch (-want +got):\n%s", diff)
			}
			for _, s := range got {
				if !slices.Contains(tc.requested, s) || !slices.Contains(tc.client, s) {
					t.Errorf("Grant() = %v: %q was not both requested and allowed", got, s)
				}
			}
		})
		fmt.Fprintf(&report, "# %s\n", tc.name)
		for _, d := range p.Explain(tc.requested, tc.client, tc.in) {
			fmt.Fprintf(&report, "%-12s %s\n", d.Scope, d.Reason)
		}
		report.WriteString("\n")
	}
	golden(t, "warehouse_decisions.golden", []byte(report.String()))
}

func TestGrantNilPolicyGrantsNothing(t *testing.T) {
	var p *Issuance
	got := p.Grant([]string{"openid"}, []string{"openid"}, Input{})
	if len(got) != 0 {
		t.Errorf("nil policy Grant() = %v, want nothing", got)
	}
	if got, want := p.Explain([]string{"openid"}, []string{"openid"}, Input{}), []Decision{{"openid", NoPolicy}}; !cmp.Equal(got, want) {
		t.Errorf("nil policy Explain() = %v, want %v", got, want)
	}
}

func TestGrantZeroPolicyIsClientPermissionOnly(t *testing.T) {
	p, err := Compile(Spec{})
	if err != nil {
		t.Fatal(err)
	}
	got := p.Grant([]string{"a", "b"}, []string{"b"}, Input{User: &User{}})
	if diff := cmp.Diff([]string{"b"}, got); diff != "" {
		t.Errorf("Grant() mismatch (-want +got):\n%s", diff)
	}
}

// TestConditionVariables checks that every variable of the environment has
// the value the documentation promises.
func TestConditionVariables(t *testing.T) {
	in := Input{
		GrantType: "authorization_code",
		ClientID:  "spa",
		User:      alice(),
		IP:        netip.MustParseAddr("fe80::1%eth0"),
		Time:      morning,
	}
	cc := Input{GrantType: "client_credentials", ClientID: "svc", IP: loopback, Time: morning}
	tests := []struct {
		cond string
		in   Input
		want Reason
	}{
		{`user.id == "alice"`, in, Granted},
		{`user.roles == ["warehouse_admin"]`, in, Granted},
		{`user.attrs == {"office": "head"}`, in, Granted},
		{`"office" in user.attrs && !("floor" in user.attrs)`, in, Granted},
		{`has(user.attrs.office) && !has(user.attrs.floor)`, in, Granted},
		{`client.id == "spa" && grant_type == "authorization_code"`, in, Granted},
		{`request.ip == "fe80::1"`, in, Granted},
		{`request.time == timestamp("2025-03-03T09:30:00Z")`, in, Granted},
		{`request.time.getHours("UTC") >= 8 && request.time.getHours("UTC") < 18`, in, Granted},
		{`request.time.getDayOfWeek() == 0`, in, ConditionFalse},
		{`type(user) == portcullis.User && type(request) == portcullis.Request`, in, Granted},
		{`dyn(user).roles.size() == 1 && dyn(client).id == "spa"`, in, Granted},
		{`user.id == "" && user.roles.size() == 0 && size(user.attrs) == 0`, cc, Granted},
		{`grant_type == "client_credentials" && client.id == "svc"`, cc, Granted},
		{`user.attrs.office == "head"`, cc, ConditionError},
		{`dyn(user).nosuch == 1`, in, ConditionError},
		{`portcullis.User{id: "x"}.id == "x"`, in, ConditionError},
		{`ip.in(request.ip, [user.attrs.office, "fe80::/10"])`, in, Granted},
		{`ip.in(request.ip, [user.attrs.office])`, in, ConditionFalse},
		{`ip.in(request.ip, ["fe80::/10"])`, in, Granted},
	}
	for _, tc := range tests {
		t.Run(tc.cond, func(t *testing.T) {
			p, err := Compile(Spec{Conditions: map[string]string{"s": tc.cond}})
			if err != nil {
				t.Fatalf("Compile() error = %v", err)
			}
			got := p.Explain([]string{"s"}, []string{"s"}, tc.in)
			if want := []Decision{{"s", tc.want}}; !cmp.Equal(got, want) {
				t.Errorf("Explain() = %v, want %v", got, want)
			}
		})
	}
}

func TestCostLimitDenies(t *testing.T) {
	p, err := Compile(Spec{Conditions: map[string]string{
		"s": `user.roles.all(a, user.roles.all(b, user.roles.all(c, a + b + c != "")))`,
	}})
	if err != nil {
		t.Fatal(err)
	}
	roles := make([]string, 40)
	for i := range roles {
		roles[i] = fmt.Sprintf("r%d", i)
	}
	in := Input{User: &User{Roles: roles}}
	if got, want := p.Explain([]string{"s"}, []string{"s"}, in), []Decision{{"s", ConditionError}}; !cmp.Equal(got, want) {
		t.Errorf("Explain() = %v, want %v (cost limit exceeded)", got, want)
	}
	in.User.Roles = roles[:3]
	if got, want := p.Explain([]string{"s"}, []string{"s"}, in), []Decision{{"s", Granted}}; !cmp.Equal(got, want) {
		t.Errorf("Explain() = %v, want %v (within the limit)", got, want)
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name    string
		cond    string
		line    int
		column  int
		msgPart string
	}{
		{"syntax error", `user.id == "a" &&`, 1, 18, "Syntax error"},
		{"syntax error on line two", "user.id == \"a\" &&\n  (user.id == ", 2, 15, "Syntax error"},
		{"non-bool result", `user.attrs.office`, 1, 1, "must be a bool expression, not string"},
		{"non-bool result indented", "  \n  request.time", 2, 3, "must be a bool expression, not google.protobuf.Timestamp"},
		{"dyn result", "// why\n  dyn(true)", 2, 3, "must be a bool expression, not dyn"},
		{"unknown variable", `usr.id == "alice"`, 1, 1, "undeclared reference to 'usr'"},
		{"unknown field", "user.id == \"a\" ||\n    user.role == \"x\"", 2, 9, "undefined field 'role'"},
		{"unknown function", `ip.within(request.ip, ["10.0.0.0/8"])`, 1, 1, "undeclared reference to 'ip' (did you mean 'ip.in'?)"},
		{"ip.in wrong argument", `ip.in(1, ["10.0.0.0/8"])`, 1, 6, "no matching overload for 'ip.in'"},
		{"invalid CIDR", `ip.in(request.ip, ["10.0.0.0/8", "10.0.0.0/33"])`, 1, 34, `invalid CIDR "10.0.0.0/33"`},
		{"invalid address", `ip.in(request.ip, ["10.0.0.300"])`, 1, 20, `invalid CIDR "10.0.0.300"`},
		{"type mismatch", `user.roles == "admin"`, 1, 12, "no matching overload for '_==_'"},
		{"too long", strings.Repeat("true && ", 600) + "true", 1, 1, "exceeds"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(Spec{Conditions: map[string]string{"order_item": tc.cond}})
			var ce *CompileError
			if !errors.As(err, &ce) {
				t.Fatalf("Compile() error = %v, want a *CompileError", err)
			}
			if ce.Scope != "order_item" || ce.Line != tc.line || ce.Column != tc.column {
				t.Errorf("CompileError at %s %d:%d, want order_item %d:%d (%s)", ce.Scope, ce.Line, ce.Column, tc.line, tc.column, ce.Msg)
			}
			if !strings.Contains(ce.Msg, tc.msgPart) {
				t.Errorf("CompileError.Msg = %q, want it to contain %q", ce.Msg, tc.msgPart)
			}
			if !strings.HasPrefix(err.Error(), fmt.Sprintf("policy: scope %q: condition %d:%d: ", "order_item", tc.line, tc.column)) {
				t.Errorf("Error() = %q, want the scope and position first", err)
			}
		})
	}
}

func TestCompileFirstErrorIsDeterministic(t *testing.T) {
	spec := Spec{Conditions: map[string]string{"b": "nope", "a": "1", "c": "true"}}
	for range 5 {
		_, err := Compile(spec)
		var ce *CompileError
		if !errors.As(err, &ce) || ce.Scope != "a" {
			t.Fatalf("Compile() error = %v, want scope a's error", err)
		}
	}
}

func TestCompileSpecErrors(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{"empty role", Spec{RoleScopes: map[string][]string{"": {"a"}}}, "policy: empty role name"},
		{"empty scope", Spec{RoleScopes: map[string][]string{"admin": {"a", ""}}}, `policy: role "admin": empty scope name`},
		{"empty condition scope", Spec{Conditions: map[string]string{"": "true"}}, "policy: condition for an empty scope name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.spec)
			if err == nil || err.Error() != tc.want {
				t.Errorf("Compile() error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestBlankConditionIsNone(t *testing.T) {
	p, err := Compile(Spec{Conditions: map[string]string{"s": " \n\t"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Grant([]string{"s"}, []string{"s"}, Input{}); !cmp.Equal(got, []string{"s"}) {
		t.Errorf("Grant() = %v, want [s]", got)
	}
}

// TestGrantConcurrent shares one policy between goroutines; run with -race.
func TestGrantConcurrent(t *testing.T) {
	p, err := Compile(warehouseSpec())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for _, tc := range warehouseCases[i%len(warehouseCases):] {
				if got := p.Grant(tc.requested, tc.client, tc.in); !cmp.Equal(got, tc.want) {
					t.Errorf("%s: Grant() = %v, want %v", tc.name, got, tc.want)
				}
			}
		})
	}
	wg.Wait()
}

func TestReasonString(t *testing.T) {
	if got, want := Reason(200).String(), "unknown"; got != want {
		t.Errorf("Reason(200).String() = %q, want %q", got, want)
	}
	if got, want := NoRole.String(), "no role grants it"; got != want {
		t.Errorf("NoRole.String() = %q, want %q", got, want)
	}
}
