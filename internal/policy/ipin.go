package policy

import (
	"net/netip"
	"strings"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// ipInFunc is the name ip.in is declared under. "in" is a reserved word in
// CEL's grammar, so the parser rejects ip.in(...) as written; rewriteIPIn
// turns the one character "." into "_" before parsing, which keeps every
// line and column of the expression where the author wrote it.
const (
	ipInFunc     = "ip_in"
	ipInSpelling = "ip.in"
)

// rewriteIPIn returns expr with each call spelled ip.in(...) renamed to
// ip_in(...). String literals, comments and selections such as x.ip.in(
// are left alone, so the rewrite never changes what an expression means,
// only how the reserved word is spelled.
func rewriteIPIn(expr string) string {
	var out []byte // copied on the first rewrite
	i := 0
	for i < len(expr) {
		c := expr[i]
		switch {
		case c == '/' && i+1 < len(expr) && expr[i+1] == '/':
			j := strings.IndexByte(expr[i:], '\n')
			if j < 0 {
				i = len(expr)
			} else {
				i += j
			}
		case c == '"' || c == '\'':
			i = skipString(expr, i, false)
		case c == '`':
			j := strings.IndexByte(expr[i+1:], '`')
			if j < 0 {
				i = len(expr)
			} else {
				i += j + 2
			}
		case isIdentChar(c):
			j := i
			for j < len(expr) && isIdentChar(expr[j]) {
				j++
			}
			word := expr[i:j]
			if j < len(expr) && (expr[j] == '"' || expr[j] == '\'') && isStringPrefix(word) {
				i = skipString(expr, j, strings.ContainsAny(word, "rR"))
				continue
			}
			if word == "ip" && !afterDot(expr, i) && isIPInCall(expr[j:]) {
				if out == nil {
					out = []byte(expr)
				}
				out[j] = '_'
				j += len(".in")
			}
			i = j
		default:
			i++
		}
	}
	if out == nil {
		return expr
	}
	return string(out)
}

// isIPInCall reports whether rest (what follows "ip") is ".in" and a call.
func isIPInCall(rest string) bool {
	if !strings.HasPrefix(rest, ".in") {
		return false
	}
	rest = rest[len(".in"):]
	if rest != "" && isIdentChar(rest[0]) {
		return false // ip.inside(...) is some other name
	}
	return strings.HasPrefix(strings.TrimLeft(rest, " \t\r\n"), "(")
}

// afterDot reports whether the identifier at i is selected from something
// (request.ip.in), which is not the ip namespace.
func afterDot(expr string, i int) bool {
	j := i - 1
	for j >= 0 && (expr[j] == ' ' || expr[j] == '\t' || expr[j] == '\r' || expr[j] == '\n') {
		j--
	}
	return j >= 0 && expr[j] == '.'
}

func isIdentChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// isStringPrefix reports whether word is one of CEL's string literal
// prefixes (raw r, bytes b, in either order and case).
func isStringPrefix(word string) bool {
	switch strings.ToLower(word) {
	case "r", "b", "rb", "br":
		return true
	}
	return false
}

// skipString returns the index just past the string literal whose opening
// quote is at i. An unterminated literal runs to the end; the parser
// reports it.
func skipString(expr string, i int, raw bool) int {
	q := expr[i]
	delim := string(q)
	if strings.HasPrefix(expr[i:], strings.Repeat(delim, 3)) {
		delim = strings.Repeat(delim, 3)
	}
	j := i + len(delim)
	for j < len(expr) {
		switch {
		case !raw && expr[j] == '\\':
			j += 2
		case strings.HasPrefix(expr[j:], delim):
			return j + len(delim)
		case len(delim) == 1 && expr[j] == '\n':
			return j
		default:
			j++
		}
	}
	return len(expr)
}

// fixIPInName puts the author's spelling back into a compiler message.
func fixIPInName(msg string) string {
	return strings.ReplaceAll(msg, ipInFunc, ipInSpelling)
}

// parseCIDR parses one element of ip.in's list: a prefix such as
// "10.0.0.0/8" or a single address, which stands for itself alone.
func parseCIDR(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return p.Masked(), nil
}

// ipIn is the runtime of ip.in(ip, cidrs): true when ip parses and lies in
// one of cidrs. Constant CIDRs were parsed at compile time (known); any
// other is parsed here, and one that does not parse matches nothing.
func ipIn(ipVal, cidrsVal ref.Val, known map[string]netip.Prefix) ref.Val {
	s, ok := ipVal.(types.String)
	if !ok {
		return types.NoSuchOverloadErr()
	}
	addr, err := netip.ParseAddr(string(s))
	if err != nil {
		return types.False
	}
	// An IPv4-mapped address is the IPv4 client it carries; a zone
	// names a link, not a network, and prefixes never carry one.
	addr = addr.Unmap().WithZone("")
	list, ok := cidrsVal.(traits.Lister)
	if !ok {
		return types.NoSuchOverloadErr()
	}
	n, ok := list.Size().(types.Int)
	if !ok {
		return types.NoSuchOverloadErr()
	}
	for i := types.Int(0); i < n; i++ {
		c, ok := list.Get(i).(types.String)
		if !ok {
			continue
		}
		p, ok := known[string(c)]
		if !ok {
			if p, err = parseCIDR(string(c)); err != nil {
				continue
			}
		}
		if p.Contains(addr) {
			return types.True
		}
	}
	return types.False
}

// cidrLiteral is a constant CIDR string found in an ip.in call.
type cidrLiteral struct {
	id    int64
	value string
}

// cidrLiterals returns the constant strings of every ip.in call whose
// second argument is a list literal.
func cidrLiterals(a *ast.AST) []cidrLiteral {
	var found []cidrLiteral
	ast.PreOrderVisit(a.Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		if e.Kind() != ast.CallKind {
			return
		}
		call := e.AsCall()
		if call.FunctionName() != ipInFunc || call.IsMemberFunction() || len(call.Args()) != 2 {
			return
		}
		list := call.Args()[1]
		if list.Kind() != ast.ListKind {
			return
		}
		for _, el := range list.AsList().Elements() {
			if el.Kind() != ast.LiteralKind {
				continue
			}
			if s, ok := el.AsLiteral().(types.String); ok {
				found = append(found, cidrLiteral{id: el.ID(), value: string(s)})
			}
		}
	}))
	return found
}
