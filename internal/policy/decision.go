package policy

import (
	"slices"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
)

// Reason says why a requested scope was granted or dropped.
type Reason uint8

// The reasons, in the order Grant checks them.
const (
	// Granted means every check passed.
	Granted Reason = iota
	// NoPolicy means there is no compiled policy (a nil *Issuance), so
	// nothing is granted.
	NoPolicy
	// NotAllowedForClient means the client may not have the scope.
	NotAllowedForClient
	// NoRole means the scope is role-governed and none of the user's roles
	// lists it.
	NoRole
	// ConditionFalse means the scope's condition evaluated to false.
	ConditionFalse
	// ConditionError means the scope's condition failed to evaluate (a
	// missing attribute, the cost limit); the scope is denied.
	ConditionError
)

var reasonNames = [...]string{
	Granted:             "granted",
	NoPolicy:            "no policy",
	NotAllowedForClient: "not allowed for client",
	NoRole:              "no role grants it",
	ConditionFalse:      "condition false",
	ConditionError:      "condition error",
}

// String returns the reason in words.
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "unknown"
}

// Decision is the outcome for one requested scope.
type Decision struct {
	Scope  string
	Reason Reason
}

// Explain is Grant with its reasons: one decision per distinct, non-empty
// requested scope, in the order requested. It is for audit records and
// for operators testing a policy, not for the token path; the reasons never
// carry attribute values or evaluation errors, which could hold user data.
func (p *Issuance) Explain(requested, clientScopes []string, in Input) []Decision {
	var out []Decision
	p.decide(requested, clientScopes, in, func(scope string, r Reason) {
		if !slices.ContainsFunc(out, func(d Decision) bool { return d.Scope == scope }) {
			out = append(out, Decision{Scope: scope, Reason: r})
		}
	})
	return out
}

// decide runs the checks of Grant and reports each scope's outcome to emit.
// A scope the client may have is decided once however often it is
// requested, so repeating a scope cannot multiply condition evaluations; a
// scope the client may not have can be reported more than once.
func (p *Issuance) decide(requested, clientScopes []string, in Input, emit func(string, Reason)) {
	var buf [32]bool
	var decided []bool
	if len(clientScopes) <= len(buf) {
		decided = buf[:len(clientScopes)]
	} else {
		decided = make([]bool, len(clientScopes))
	}
	var act *activation // built on the first condition, shared by the rest
	for _, scope := range requested {
		if scope == "" {
			continue
		}
		if p == nil {
			emit(scope, NoPolicy)
			continue
		}
		i := slices.Index(clientScopes, scope)
		if i < 0 {
			emit(scope, NotAllowedForClient)
			continue
		}
		if decided[i] {
			continue
		}
		decided[i] = true
		if in.User != nil && !p.userMay(in.User, scope) {
			emit(scope, NoRole)
			continue
		}
		prg, ok := p.conditions[scope]
		if !ok {
			emit(scope, Granted)
			continue
		}
		if act == nil {
			act = newActivation(in)
		}
		emit(scope, evalCondition(prg, act))
	}
}

// userMay reports whether user may receive scope as far as roles go: a
// scope no role names is open to every user, a role-governed one needs a
// role that lists it.
func (p *Issuance) userMay(user *User, scope string) bool {
	if _, governed := p.governed[scope]; !governed {
		return true
	}
	for _, role := range user.Roles {
		if _, ok := p.roleScopes[role][scope]; ok {
			return true
		}
	}
	return false
}

// evalCondition runs a condition; anything but a clean true denies.
func evalCondition(prg cel.Program, act *activation) Reason {
	out, _, err := prg.Eval(act)
	if err != nil {
		return ConditionError
	}
	b, ok := out.(types.Bool)
	if !ok {
		return ConditionError
	}
	if !b {
		return ConditionFalse
	}
	return Granted
}
