// Package policy decides which scopes a token may carry (issuance policy):
// roles map to the scopes they may receive, and a scope may carry a CEL
// condition over the user, the client, the source IP and the time. It also
// compiles the gateway's request rules (RequestRule): CEL over the request
// and the verified token's claims, decided on every call. Expressions are
// type-checked and compiled once; evaluation is bounded in cost.
//
// It must never widen a grant: the result is always a subset of what was
// requested and what the client may have. A condition or rule that cannot
// be evaluated denies.
package policy

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common"
	"cel.dev/cel-go/common/types"

	"github.com/portcullis/portcullis/internal/printable"
)

// Spec is the issuance policy as configured.
type Spec struct {
	// RoleScopes maps a role to the scopes it may receive. A scope named
	// by any role is role-governed: a user gets it only through a role.
	// Scopes no role names (openid, profile, offline_access, ...) need only
	// the client's permission.
	RoleScopes map[string][]string
	// Conditions maps a scope to a CEL expression that must evaluate to
	// true for the scope to be granted. Variables: user (id, roles, attrs),
	// client (id), grant_type (string), request (ip, time). Functions:
	// ip.in(ip string, cidrs list(string)) bool.
	Conditions map[string]string
}

// CompileError is a bad condition or request rule; Line and Column are
// 1-based positions inside the expression. Scope is empty for a gateway
// request rule (CompileRequestRule).
type CompileError struct {
	Scope  string
	Line   int
	Column int
	Msg    string
}

// Error reads "policy: scope S: condition LINE:COLUMN: message", or
// "policy: request rule LINE:COLUMN: message" for a gateway request rule
// (which has no scope).
func (e *CompileError) Error() string {
	if e.Scope == "" {
		return fmt.Sprintf("policy: request rule %d:%d: %s", e.Line, e.Column, e.Msg)
	}
	return fmt.Sprintf("policy: scope %q: condition %d:%d: %s", e.Scope, e.Line, e.Column, e.Msg)
}

// Issuance is a compiled, immutable issuance policy, safe for concurrent
// use.
type Issuance struct {
	// roleScopes maps a role to the set of scopes it may receive.
	roleScopes map[string]map[string]struct{}
	// governed holds every scope some role names.
	governed map[string]struct{}
	// conditions maps a scope to its compiled condition.
	conditions map[string]cel.Program
}

// Compile type-checks and compiles spec; a bad expression gives a
// *CompileError. Conditions are compiled in scope-name order, so the error
// reported for a spec with several bad ones is always the same. An empty
// (or blank) condition means none.
func Compile(spec Spec) (*Issuance, error) {
	p := &Issuance{
		roleScopes: make(map[string]map[string]struct{}, len(spec.RoleScopes)),
		governed:   make(map[string]struct{}),
		conditions: make(map[string]cel.Program, len(spec.Conditions)),
	}
	for _, role := range slices.Sorted(maps.Keys(spec.RoleScopes)) {
		if role == "" {
			return nil, errors.New("policy: empty role name")
		}
		set := make(map[string]struct{}, len(spec.RoleScopes[role]))
		for _, scope := range spec.RoleScopes[role] {
			if scope == "" {
				return nil, fmt.Errorf("policy: role %q: empty scope name", role)
			}
			set[scope] = struct{}{}
			p.governed[scope] = struct{}{}
		}
		p.roleScopes[role] = set
	}
	if len(spec.Conditions) == 0 {
		return p, nil
	}
	// One environment for the whole policy; the ip.in binding reads the
	// CIDR constants all its conditions collect while they compile.
	prefixes := make(map[string]netip.Prefix)
	env, err := newEnv(prefixes)
	if err != nil {
		return nil, fmt.Errorf("policy: cel environment: %w", err)
	}
	for _, scope := range slices.Sorted(maps.Keys(spec.Conditions)) {
		if scope == "" {
			return nil, errors.New("policy: condition for an empty scope name")
		}
		expr := spec.Conditions[scope]
		if strings.TrimSpace(expr) == "" {
			continue
		}
		prg, err := compileCondition(env, scope, expr, prefixes)
		if err != nil {
			return nil, err
		}
		p.conditions[scope] = prg
	}
	return p, nil
}

// compileCondition parses, checks and plans one condition, adding its
// constant CIDRs to prefixes.
func compileCondition(env *cel.Env, scope, expr string, prefixes map[string]netip.Prefix) (cel.Program, error) {
	checked, err := checkCondition(env, scope, expr, prefixes)
	if err != nil {
		return nil, err
	}
	prg, err := env.Program(checked,
		cel.CostLimit(costLimit),
		cel.EvalOptions(cel.OptOptimize),
	)
	if err != nil {
		return nil, positioned(scope, common.NoLocation, fmt.Sprintf("plan: %v", err))
	}
	return prg, nil
}

// checkCondition parses and type-checks one condition, which must be a
// bool, and adds its constant CIDRs to prefixes. Issuance conditions and
// gateway request rules share it, so ip.in means the same in both.
func checkCondition(env *cel.Env, scope, expr string, prefixes map[string]netip.Prefix) (*cel.Ast, error) {
	checked, iss := env.Compile(rewriteIPIn(expr))
	if iss != nil && iss.Err() != nil {
		return nil, compileError(scope, iss.Errors())
	}
	native := checked.NativeRep()
	// A condition is a yes or no; a string or dyn result would leave the
	// decision to whatever it happens to hold at run time.
	if !checked.OutputType().IsExactType(types.BoolType) {
		return nil, positioned(scope, exprStart(expr),
			fmt.Sprintf("condition must be a bool expression, not %s", checked.OutputType()))
	}
	for _, lit := range cidrLiterals(native) {
		p, err := parseCIDR(lit.value)
		if err != nil {
			return nil, positioned(scope, native.SourceInfo().GetStartLocation(lit.id),
				fmt.Sprintf("ip.in: invalid CIDR %q", lit.value))
		}
		prefixes[lit.value] = p
	}
	return checked, nil
}

// exprStart is where the expression's first token is, for errors about
// the whole expression. The root node's own position is its operator (the
// "." of user.id, the "(" of dyn(x)), which would point an author at the
// wrong place.
func exprStart(expr string) common.Location {
	line, col := 1, 0
	for i := 0; i < len(expr); i++ {
		switch c := expr[i]; {
		case c == '\n':
			line, col = line+1, 0
		case c == ' ' || c == '\t' || c == '\r':
			col++
		case c == '/' && strings.HasPrefix(expr[i:], "//"):
			j := strings.IndexByte(expr[i:], '\n')
			if j < 0 {
				return common.NewLocation(1, 0)
			}
			i += j - 1
		default:
			return common.NewLocation(line, col)
		}
	}
	return common.NewLocation(1, 0)
}

// compileError turns the first of CEL's issues (by position) into a
// *CompileError.
func compileError(scope string, errs []*common.Error) *CompileError {
	if len(errs) == 0 {
		return &CompileError{Scope: scope, Line: 1, Column: 1, Msg: "invalid expression"}
	}
	first := slices.MinFunc(errs, func(a, b *common.Error) int {
		if c := a.Location.Line() - b.Location.Line(); c != 0 {
			return c
		}
		return a.Location.Column() - b.Location.Column()
	})
	msg := strings.TrimSuffix(first.Message, " (in container '')")
	return positioned(scope, first.Location, oneLine(fixIPInName(msg)))
}

// oneLine escapes the line breaks and other control characters CEL copies
// from the expression into its messages, so an error stays one line.
func oneLine(msg string) string {
	if !printable.HasControl(msg) {
		return msg
	}
	var b strings.Builder
	for _, r := range msg {
		if printable.IsControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// positioned builds a *CompileError at loc; CEL columns are 0-based, ours
// are 1-based, and an unknown location is the start of the expression.
func positioned(scope string, loc common.Location, msg string) *CompileError {
	line, col := loc.Line(), loc.Column()+1
	if line < 1 {
		line, col = 1, 1
	}
	if col < 1 {
		col = 1
	}
	return &CompileError{Scope: scope, Line: line, Column: col, Msg: msg}
}

// User is the end user a token is for.
type User struct {
	ID    string
	Roles []string
	Attrs map[string]string
}

// Input is what a decision may look at.
type Input struct {
	GrantType string
	ClientID  string
	// User is nil for client credentials; role-governed scopes then need
	// only the client's permission (and their condition).
	User *User
	IP   netip.Addr
	Time time.Time
}

// Grant returns the scopes of requested that the client may have
// (clientScopes), that the user's roles allow (for role-governed scopes when
// a user is present), and whose conditions hold, in the order requested.
// A condition that fails to evaluate denies its scope.
//
// The result is never nil and never holds a scope twice. A nil policy
// grants nothing: a caller that failed to compile its policy must not fall
// back to the client's permission alone.
func (p *Issuance) Grant(requested, clientScopes []string, in Input) []string {
	granted := make([]string, 0, min(len(requested), len(clientScopes)))
	p.decide(requested, clientScopes, in, func(scope string, r Reason) {
		if r == Granted {
			granted = append(granted, scope)
		}
	})
	return granted
}
