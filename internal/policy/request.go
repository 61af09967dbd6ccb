package policy

import (
	"fmt"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/decls"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/ext"
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
//
// The string functions of CEL's strings extension (split, lowerAscii,
// trim, ...) are available too, so a space-separated scope claim can be
// read as claims.scope.split(" ").
type RequestRule struct {
	src string
	prg cel.Program
	// costTracked is false when the rule's worst case was proven within
	// the cost limit at compile time (see withinCostLimit).
	costTracked bool
}

// requestRuleType is the CEL type of the request variable. Declared, not a
// map, so request.adress is a compile error rather than a silent denial.
var requestRuleType = types.NewObjectType("portcullis.HTTPRequest")

// requestRuleFields are the fields of requestRuleType; a separate table
// from objectFields so the issuance environment never sees this type.
var requestRuleFields = map[string]map[string]field{
	requestRuleType.TypeName(): {
		"ip":      {types.StringType, httpRequestGetter((*httpRequestVal).getIP)},
		"method":  {types.StringType, httpRequestGetter((*httpRequestVal).getMethod)},
		"path":    {types.StringType, httpRequestGetter((*httpRequestVal).getPath)},
		"params":  {types.NewMapType(types.StringType, types.StringType), httpRequestGetter((*httpRequestVal).getParams)},
		"headers": {types.NewMapType(types.StringType, types.StringType), httpRequestGetter((*httpRequestVal).getHeaders)},
		"time":    {types.TimestampType, httpRequestGetter((*httpRequestVal).getTime)},
	},
}

func httpRequestGetter(f func(*httpRequestVal) ref.Val) func(any) (ref.Val, bool) {
	return func(obj any) (ref.Val, bool) {
		r, ok := obj.(*httpRequestVal)
		if !ok {
			return nil, false
		}
		return f(r), true
	}
}

// CompileRequestRule type-checks expr (which must be bool) with times
// read in zone loc (nil means UTC); errors are *CompileError with Scope
// empty.
func CompileRequestRule(expr string, loc *time.Location) (*RequestRule, error) {
	if loc == nil {
		loc = time.UTC
	}
	// Each rule has its own environment: the function bindings close
	// over the rule's zone and the constants parsed while it compiles, and
	// are read-only once it has.
	prefixes := make(map[string]netip.Prefix)
	clocks := make(map[string]int)
	env, err := newRequestEnv(loc, prefixes, clocks)
	if err != nil {
		return nil, fmt.Errorf("policy: cel environment: %w", err)
	}
	checked, err := checkCondition(env, "", expr, prefixes)
	if err != nil {
		return nil, err
	}
	native := checked.NativeRep()
	for _, lit := range clockLiterals(native) {
		for i, s := range lit.values {
			m, err := parseClock(s)
			if err != nil {
				return nil, positioned("", native.SourceInfo().GetStartLocation(lit.ids[i]),
					fmt.Sprintf("time.between: %v", err))
			}
			clocks[s] = m
		}
		if len(lit.values) == 2 && lit.values[0] == lit.values[1] {
			return nil, positioned("", native.SourceInfo().GetStartLocation(lit.ids[0]),
				fmt.Sprintf("time.between: empty window %s to %s", lit.values[0], lit.values[1]))
		}
	}
	opts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}
	tracked := !withinCostLimit(env, checked)
	if tracked {
		opts = append(opts, cel.CostLimit(costLimit))
	}
	prg, err := env.Program(checked, opts...)
	if err != nil {
		return nil, positioned("", common.NoLocation, fmt.Sprintf("plan: %v", err))
	}
	return &RequestRule{src: expr, prg: prg, costTracked: tracked}, nil
}

// withinCostLimit reports whether CEL's static estimate proves that no
// evaluation of checked can cost more than costLimit, whatever the request
// and claims hold. Such a rule (no comprehension or string function over
// input of unbounded size: the usual IP, time and equality checks) runs
// without the runtime cost tracker, which costs an allocation per
// operation on the hot path; any other rule is tracked and stopped at the
// limit.
func withinCostLimit(env *cel.Env, checked *cel.Ast) bool {
	est, err := env.EstimateCost(checked, noSizeHints{})
	return err == nil && est.Max <= costLimit
}

// noSizeHints gives the cost estimator no bounds on input sizes, so it
// assumes the worst: any request or claims value may be arbitrarily large.
type noSizeHints struct{}

// EstimateSize implements cost.Estimator: the size is unknown.
func (noSizeHints) EstimateSize(cost.AstNode) *cost.SizeEstimate { return nil }

// EstimateCallCost implements cost.Estimator: CEL's own model applies.
func (noSizeHints) EstimateCallCost(string, string, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
	return nil
}

// newRequestEnv returns the CEL environment of one request rule.
func newRequestEnv(loc *time.Location, prefixes map[string]netip.Prefix, clocks map[string]int) (*cel.Env, error) {
	return cel.NewEnv(
		func(env *cel.Env) (*cel.Env, error) {
			return cel.CustomTypeProvider(provider{Provider: env.CELTypeProvider(), objects: requestRuleFields})(env)
		},
		cel.Variable("request", requestRuleType),
		cel.Variable("claims", cel.MapType(cel.StringType, cel.DynType)),
		cel.Function(ipInFunc,
			cel.Overload("ip_in_string_list_string",
				[]*cel.Type{cel.StringType, cel.ListType(cel.StringType)}, cel.BoolType,
				cel.BinaryBinding(func(ip, cidrs ref.Val) ref.Val {
					return ipIn(ip, cidrs, prefixes)
				})),
			// The checker has proven the argument types, and ipIn checks
			// each element anyway; the guard would walk the list a second
			// time on every call.
			decls.DisableTypeGuards(true)),
		cel.Function(timeBetweenFunc,
			cel.Overload("time_between_timestamp_string_string",
				[]*cel.Type{cel.TimestampType, cel.StringType, cel.StringType}, cel.BoolType,
				cel.FunctionBinding(func(args ...ref.Val) ref.Val {
					return timeBetween(args, loc, clocks)
				}))),
		cel.Function(timeWeekdayFunc,
			cel.Overload("time_weekday_timestamp",
				[]*cel.Type{cel.TimestampType}, cel.IntType,
				cel.UnaryBinding(func(ts ref.Val) ref.Val {
					return timeWeekday(ts, loc)
				}))),
		ext.Strings(),
		// Claims decoded from JSON hold numbers as doubles; without this
		// claims.level >= 3 would be an evaluation error (a denial nobody
		// understands) instead of a comparison.
		cel.CrossTypeNumericComparisons(true),
		cel.ParserExpressionSizeLimit(maxExprSize),
		cel.ParserRecursionLimit(maxRecursion),
	)
}

// activations recycles the per-call variables of Allow, so a decision
// allocates only the values its expression actually reads.
var activations = sync.Pool{New: func() any { return new(requestActivation) }}

// Allow evaluates the rule; an evaluation error denies.
func (r *RequestRule) Allow(in *RequestInput) bool {
	if r == nil || in == nil {
		return false // fail closed: no rule or no request is no decision
	}
	act := activations.Get().(*requestActivation)
	act.reset(in)
	out, _, err := r.prg.Eval(act)
	// Nothing of the evaluation outlives it: out is a bool or an error,
	// never a value that refers to the activation.
	act.reset(nil)
	activations.Put(act)
	if err != nil {
		return false
	}
	b, ok := out.(types.Bool)
	return ok && bool(b)
}

// Source returns the expression as written.
func (r *RequestRule) Source() string {
	if r == nil {
		return ""
	}
	return r.src
}
