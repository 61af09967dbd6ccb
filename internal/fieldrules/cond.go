package fieldrules

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
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
	// names are the members a filter reads as element.name (or
	// has(element.name)). When it reads element in no other way
	// (wholeElement false) it is handed those members alone, and
	// cannot tell.
	names        []string
	wholeElement bool
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
	c := &condition{prg: prg}
	if element {
		c.wholeElement = elementUse(ast.NativeRep().Expr(), &c.names)
		slices.Sort(c.names)
		c.names = slices.Compact(c.names)
	}
	return c, nil
}

// filterKey appends to dst what the filter reads of e: the text of each
// member it names (or that it is missing), or all of e's text when it
// reads more. Elements of equal keys are the same to the filter.
func (c *condition) filterKey(dst []byte, e value) []byte {
	dst = append(dst, byte(e.kind))
	if e.kind != kindObject || c.wholeElement {
		return append(dst, e.tok...)
	}
	for _, name := range c.names {
		i, ok := e.c.member(name)
		if !ok {
			dst = append(dst, 0)
			continue
		}
		m := e.c.members[i].v
		dst = append(dst, 1+byte(m.kind))
		dst = binary.AppendUvarint(dst, uint64(len(m.tok)))
		dst = append(dst, m.tok...)
	}
	return dst
}

// elementUse adds to names the members e reads as element.name and
// reports whether it reads element in any other way (whole: compared,
// iterated, indexed, passed to a function). It errs toward whole: an
// identifier element that a comprehension declares is taken for the
// variable.
func elementUse(e celast.Expr, names *[]string) (whole bool) {
	switch e.Kind() {
	case celast.LiteralKind:
		return false
	case celast.IdentKind:
		return e.AsIdent() == "element"
	case celast.SelectKind:
		sel := e.AsSelect()
		if op := sel.Operand(); op.Kind() == celast.IdentKind && op.AsIdent() == "element" {
			*names = append(*names, sel.FieldName())
			return false
		}
		return elementUse(sel.Operand(), names)
	case celast.CallKind:
		call := e.AsCall()
		if call.IsMemberFunction() {
			whole = elementUse(call.Target(), names)
		}
		for _, a := range call.Args() {
			whole = elementUse(a, names) || whole
		}
		return whole
	case celast.ListKind:
		for _, x := range e.AsList().Elements() {
			whole = elementUse(x, names) || whole
		}
		return whole
	case celast.MapKind:
		for _, x := range e.AsMap().Entries() {
			m := x.AsMapEntry()
			whole = elementUse(m.Key(), names) || whole
			whole = elementUse(m.Value(), names) || whole
		}
		return whole
	case celast.StructKind:
		for _, x := range e.AsStruct().Fields() {
			whole = elementUse(x.AsStructField().Value(), names) || whole
		}
		return whole
	case celast.ComprehensionKind:
		c := e.AsComprehension()
		for _, x := range []celast.Expr{c.IterRange(), c.AccuInit(), c.LoopCondition(), c.LoopStep(), c.Result()} {
			whole = elementUse(x, names) || whole
		}
		return whole
	}
	return true
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
