// Package policy decides which scopes a token may carry (issuance policy):
// roles map to the scopes they may receive, and a scope may carry a CEL
// condition over the user, the client, the source IP and the time.
// Expressions are type-checked and compiled once; evaluation is bounded in
// cost.
//
// It must never widen a grant: the result is always a subset of what was
// requested and what the client may have.
package policy

import (
	"net/netip"
	"time"
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

// CompileError is a bad condition; Line and Column are 1-based positions
// inside the expression.
type CompileError struct {
	Scope  string
	Line   int
	Column int
	Msg    string
}

func (e *CompileError) Error() string { panic("todo") }

// Issuance is a compiled, immutable issuance policy, safe for concurrent
// use.
type Issuance struct{}

// Compile type-checks and compiles spec; a bad expression gives a
// *CompileError.
func Compile(spec Spec) (*Issuance, error) { panic("todo") }

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
func (p *Issuance) Grant(requested, clientScopes []string, in Input) []string { panic("todo") }
