package policy

import (
	"fmt"
	"time"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// The time functions of request rules. Unlike ip.in these names parse as
// written: "time" is not a reserved word, and CEL resolves time.between as
// a namespaced function because no variable is called time.
const (
	timeBetweenFunc = "time.between"
	timeWeekdayFunc = "time.weekday"
)

// parseClock reads a time of day written "HH:MM" (00:00 to 23:59) as
// minutes after midnight. The form is strict: "8:00" or "08:00:00" would
// be guesses about what the author meant.
func parseClock(s string) (int, error) {
	if len(s) != 5 || s[2] != ':' || !isDigit(s[0]) || !isDigit(s[1]) || !isDigit(s[3]) || !isDigit(s[4]) {
		return 0, fmt.Errorf("invalid time of day %q, want HH:MM", s)
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if h > 23 || m > 59 {
		return 0, fmt.Errorf("invalid time of day %q, want 00:00 to 23:59", s)
	}
	return h*60 + m, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// clockArg returns the minutes of a time.between bound: a constant parsed
// when the rule compiled, or any other string parsed now.
func clockArg(v ref.Val, known map[string]int) (int, bool) {
	s, ok := v.(types.String)
	if !ok {
		return 0, false
	}
	if m, ok := known[string(s)]; ok {
		return m, true
	}
	m, err := parseClock(string(s))
	return m, err == nil
}

// timeBetween is the runtime of time.between(ts, from, to): true when the
// time of day of ts in loc lies in [from, to). A window whose end is before
// its start wraps midnight ("22:00" to "06:00" is the night shift); an
// empty window (from == to) holds no time. A bound that does not parse is
// an error, which denies.
func timeBetween(args []ref.Val, loc *time.Location, known map[string]int) ref.Val {
	if len(args) != 3 {
		return types.NoSuchOverloadErr()
	}
	ts, ok := args[0].(types.Timestamp)
	if !ok {
		return types.NoSuchOverloadErr()
	}
	from, ok := clockArg(args[1], known)
	if !ok {
		return types.NewErr("time.between: invalid time of day")
	}
	to, ok := clockArg(args[2], known)
	if !ok {
		return types.NewErr("time.between: invalid time of day")
	}
	h, m, s := ts.In(loc).Clock()
	// Seconds, so 17:59:59 is inside a window ending at 18:00 and 18:00:00
	// is not.
	now, start, end := h*3600+m*60+s, from*60, to*60
	switch {
	case start < end:
		return types.Bool(start <= now && now < end)
	case start > end:
		return types.Bool(now >= start || now < end)
	}
	return types.False
}

// timeWeekday is the runtime of time.weekday(ts): the day of the week of ts
// in loc, 0 for Sunday to 6 for Saturday (as time.Weekday counts).
func timeWeekday(v ref.Val, loc *time.Location) ref.Val {
	ts, ok := v.(types.Timestamp)
	if !ok {
		return types.NoSuchOverloadErr()
	}
	return types.Int(ts.In(loc).Weekday())
}

// clockLiteral holds the constant bounds of one time.between call, in
// argument order, with the ids of their nodes for error positions. A bound
// that is not a string literal is left out (and checked at run time).
type clockLiteral struct {
	ids    []int64
	values []string
}

// clockLiterals returns the constant bounds of every time.between call.
func clockLiterals(a *ast.AST) []clockLiteral {
	var found []clockLiteral
	ast.PreOrderVisit(a.Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		if e.Kind() != ast.CallKind {
			return
		}
		call := e.AsCall()
		// The checker turns the member-style call time.between(...) into
		// a global call of the qualified name.
		if call.FunctionName() != timeBetweenFunc || call.IsMemberFunction() || len(call.Args()) != 3 {
			return
		}
		var lit clockLiteral
		for _, arg := range call.Args()[1:] {
			if arg.Kind() != ast.LiteralKind {
				continue
			}
			if s, ok := arg.AsLiteral().(types.String); ok {
				lit.ids = append(lit.ids, arg.ID())
				lit.values = append(lit.values, string(s))
			}
		}
		if len(lit.values) > 0 {
			found = append(found, lit)
		}
	}))
	return found
}
