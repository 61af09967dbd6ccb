package fieldrules

import (
	"encoding/json"
	"fmt"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/ext"
)

// Limits of a condition, as for the gateway's request rules
// (internal/policy): a one-line rule, never a program.
const (
	maxExprSize  = 4096
	maxRecursion = 32
	costLimit    = 10_000
)

// CompileError is a condition that does not compile; Line and Column
// are 1-based positions inside it.
type CompileError struct {
	Line, Column int
	Msg          string
}

// Error reads "LINE:COLUMN: message".
func (e *CompileError) Error() string { return fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Msg) }

// condition is a compiled CEL bool expression.
type condition struct {
	prg cel.Program
}

// CheckCondition compiles a when or unless condition (variable claims)
// and reports why it does not compile; nil means it does.
func CheckCondition(expr string) error {
	_, err := compileCondition(expr, false)
	return err
}

// CheckFilter compiles a filter (variables element and claims).
func CheckFilter(expr string) error {
	_, err := compileCondition(expr, true)
	return err
}

// compileCondition type-checks expr as a bool over claims (and element
// when element is true) and plans it with a runtime cost limit.
func compileCondition(expr string, element bool) (*condition, error) {
	env, err := newEnv(element)
	if err != nil {
		return nil, fmt.Errorf("cel environment: %w", err)
	}
	ast, iss := env.Compile(expr)
	if iss != nil && iss.Err() != nil {
		errs := iss.Errors()
		if len(errs) == 0 {
			return nil, &CompileError{Line: 1, Column: 1, Msg: "invalid expression"}
		}
		e := errs[0]
		return nil, &CompileError{Line: max(e.Location.Line(), 1), Column: e.Location.Column() + 1, Msg: e.Message}
	}
	if !ast.OutputType().IsExactType(types.BoolType) {
		return nil, &CompileError{Line: 1, Column: 1, Msg: fmt.Sprintf("condition must be a bool expression, not %s", ast.OutputType())}
	}
	prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize), cel.CostLimit(costLimit))
	if err != nil {
		return nil, &CompileError{Line: 1, Column: 1, Msg: fmt.Sprintf("plan: %v", err)}
	}
	return &condition{prg: prg}, nil
}

// newEnv is the environment of the request rules, minus the request:
// claims as map(string, dyn), the strings extension (so a scope claim
// reads as claims.scope.split(" ")), numbers compared across types
// (JSON has only one kind).
func newEnv(element bool) (*cel.Env, error) {
	opts := []cel.EnvOption{
		cel.Variable("claims", cel.MapType(cel.StringType, cel.DynType)),
		ext.Strings(),
		cel.CrossTypeNumericComparisons(true),
		cel.ParserExpressionSizeLimit(maxExprSize),
		cel.ParserRecursionLimit(maxRecursion),
		func(env *cel.Env) (*cel.Env, error) {
			return cel.CustomTypeAdapter(jsonAdapter{env.CELTypeAdapter()})(env)
		},
	}
	if element {
		opts = append(opts, cel.Variable("element", cel.DynType))
	}
	return cel.NewEnv(opts...)
}

// eval reports whether the condition holds; ok is false when it could
// not be evaluated (a missing claim, a type mismatch, the cost limit),
// which the caller resolves toward protecting the data.
func (c *condition) eval(vars map[string]any) (holds, ok bool) {
	out, _, err := c.prg.Eval(vars)
	if err != nil {
		return false, false
	}
	b, isBool := out.(types.Bool)
	return bool(b), isBool
}

// jsonAdapter hands CEL the values of a document decoded with
// UseNumber: a json.Number becomes an int when it is one, else a double,
// at any depth. Numbers stay json.Number in the document itself, so an
// identifier above 2^53 is written back exactly.
type jsonAdapter struct{ next types.Adapter }

// NativeToValue implements types.Adapter.
func (a jsonAdapter) NativeToValue(v any) ref.Val {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return types.Int(i)
		}
		f, err := v.Float64()
		if err != nil {
			return types.NewErr("bad number")
		}
		return types.Double(f)
	case map[string]any:
		return types.NewStringInterfaceMap(a, v)
	case []any:
		return types.NewDynamicList(a, v)
	}
	return a.next.NativeToValue(v)
}
