package policy

import (
	"net/http"
	"net/netip"
	"time"
)

// RequestInput is what a gateway request rule may look at. Every field
// comes from the connection, the route match or the verified token, never
// from a header the client controls, except Header (which the rule author
// reads knowingly).
type RequestInput struct {
	IP     netip.Addr
	Method string
	// Path is the request path; Params the values of the operation
	// pattern's {wildcards} ("/orgs/{org}/items" → org).
	Path   string
	Params map[string]string
	Header http.Header
	Time   time.Time
	// Claims are the verified token's claims (nil on public routes).
	Claims map[string]any
}

// RequestRule is a compiled gateway policy (per API or operation). CEL
// variables: request (ip string, method string, path string, params
// map(string,string), headers map(string,string) with lower-case names
// and the first value, time timestamp) and claims map(string,dyn).
// Functions: ip.in(ip, cidrs) as for issuance; time.between(ts, "08:00",
// "18:00") true when the local time of day (in the rule's zone) is in
// [from, to) — a window may wrap midnight; time.weekday(ts) int (0 =
// Sunday) in the rule's zone. Immutable and safe for concurrent use.
type RequestRule struct{}

// CompileRequestRule type-checks expr (which must be bool) with times
// read in zone loc (nil means UTC); errors are *CompileError with Scope
// empty.
func CompileRequestRule(expr string, loc *time.Location) (*RequestRule, error) { panic("todo") }

// Allow evaluates the rule; an evaluation error denies.
func (r *RequestRule) Allow(in *RequestInput) bool { panic("todo") }

// Source returns the expression as written.
func (r *RequestRule) Source() string { panic("todo") }
