package gateway

import (
	"errors"
	"fmt"
	"strings"
)

// maxParams bounds the {wildcards} of one pattern, so a match captures its
// values into a fixed array instead of allocating.
const maxParams = 16

// Pattern errors, wrapped with the offending pattern.
var (
	errPatternSyntax    = errors.New("invalid path pattern")
	errPatternDuplicate = errors.New("duplicate operation")
	errPatternConflict  = errors.New("conflicting operations")
)

type segKind uint8

const (
	segLiteral segKind = iota
	segWild            // {name}: one non-empty segment
	segRest            // {name...}: the rest of the path, possibly empty
)

type segment struct {
	kind segKind
	// lit is the literal text, or the wildcard's name.
	lit string
}

// pattern is a parsed operation path: "/" has no segments, "/items/" has
// "items" and a trailing empty literal (so it matches only with the slash,
// as in net/http).
type pattern struct {
	raw   string
	segs  []segment
	names []string
}

// parsePattern reads an operation path: literal segments, {name}
// wildcards and a final {name...}. Dot segments, empty segments and
// anything that would mean one thing to the gateway and another to the
// upstream are refused.
func parsePattern(p string) (*pattern, error) {
	bad := func(why string) error { return fmt.Errorf("%w %q: %s", errPatternSyntax, p, why) }
	if p == "" || p[0] != '/' {
		return nil, bad("must start with /")
	}
	pt := &pattern{raw: p}
	if p == "/" {
		return pt, nil
	}
	rest := p[1:]
	for {
		seg, tail, more := strings.Cut(rest, "/")
		last := !more
		switch {
		case seg == "" && !last:
			return nil, bad("empty segment")
		case seg == "." || seg == "..":
			return nil, bad("dot segment")
		case strings.HasPrefix(seg, "{"):
			if !strings.HasSuffix(seg, "}") {
				return nil, bad("a wildcard must be a whole segment")
			}
			name := seg[1 : len(seg)-1]
			kind := segWild
			if n, ok := strings.CutSuffix(name, "..."); ok {
				if !last {
					return nil, bad("{" + name + "} must be the last segment")
				}
				name, kind = n, segRest
			}
			if !isIdent(name) {
				return nil, bad("wildcard name must be an identifier")
			}
			for _, have := range pt.names {
				if have == name {
					return nil, bad("wildcard " + name + " repeated")
				}
			}
			if len(pt.names) == maxParams {
				return nil, bad("too many wildcards")
			}
			pt.names = append(pt.names, name)
			pt.segs = append(pt.segs, segment{kind: kind, lit: name})
		default:
			for i := 0; i < len(seg); i++ {
				if c := seg[i]; c < 0x21 || c == 0x7f || strings.IndexByte("{}%?#\\", c) >= 0 {
					return nil, bad("literal segment holds a reserved character")
				}
			}
			pt.segs = append(pt.segs, segment{kind: segLiteral, lit: seg})
		}
		if last {
			return pt, nil
		}
		rest = tail
	}
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}

// specificity compares the paths two patterns match: 0 same set, -1 a's is
// a strict subset of b's (a more specific), 1 the reverse, disjoint when
// no path matches both, and conflict when they overlap with neither more
// specific (net/http's ServeMux refuses such pairs too).
type relation uint8

const (
	relEqual relation = iota
	relMoreSpecific
	relLessSpecific
	relDisjoint
	relConflict
)

func comparePaths(a, b *pattern) relation {
	var aMore, bMore bool
loop:
	for i := 0; ; i++ {
		aEnd, bEnd := i == len(a.segs), i == len(b.segs)
		switch {
		case aEnd && bEnd:
			break loop
		case aEnd && i == 0 && b.segs[0].kind == segRest:
			// "/" is also matched by "/{p...}" (with p empty).
			aMore = true
			break loop
		case bEnd && i == 0 && a.segs[0].kind == segRest:
			bMore = true
			break loop
		case aEnd || bEnd:
			// One pattern has ended and the other needs more segments.
			return relDisjoint
		}
		sa, sb := a.segs[i], b.segs[i]
		switch {
		case sa.kind == segRest && sb.kind == segRest:
			break loop
		case sa.kind == segRest:
			// a takes everything from here; b, not ended, a subset.
			bMore = true
			break loop
		case sb.kind == segRest:
			aMore = true
			break loop
		case sa.kind == segLiteral && sb.kind == segLiteral:
			if sa.lit != sb.lit {
				return relDisjoint
			}
		case sa.kind == segLiteral:
			if sa.lit == "" { // a {name} never matches an empty segment
				return relDisjoint
			}
			aMore = true
		case sb.kind == segLiteral:
			if sb.lit == "" {
				return relDisjoint
			}
			bMore = true
		}
	}
	switch {
	case aMore && bMore:
		return relConflict
	case aMore:
		return relMoreSpecific
	case bMore:
		return relLessSpecific
	}
	return relEqual
}

// node is one level of the routing trie; children are tried literal
// first, then {name}, then {name...}, which is exactly "the most specific
// pattern wins" once conflicting pairs are refused at build time.
type node struct {
	lits   []litChild
	litMap map[string]*node // replaces lits when a level has many
	wild   *node
	rest   *leaf
	end    *leaf
}

type litChild struct {
	seg  string
	next *node
}

// leaf holds the operations of one pattern shape, by method.
type leaf struct {
	ops []*operation // specific methods
	any *operation   // method "*" or empty
}

// litMapMin is where a map beats a linear scan of literal children.
const litMapMin = 8

func (n *node) child(seg string) *node {
	if n.litMap != nil {
		return n.litMap[seg]
	}
	for i := range n.lits {
		if n.lits[i].seg == seg {
			return n.lits[i].next
		}
	}
	return nil
}

// forMethod picks the leaf's operation for method: an exact one, then GET
// for HEAD (as net/http does), then the any-method one.
func (l *leaf) forMethod(method string) *operation {
	if l == nil {
		return nil
	}
	for _, op := range l.ops {
		if op.method == method {
			return op
		}
	}
	if method == "HEAD" {
		for _, op := range l.ops {
			if op.method == "GET" {
				return op
			}
		}
	}
	return l.any
}

// router is the immutable operation table of one API.
type router struct {
	root node
	all  []*operation
}

// add inserts op, refusing a duplicate or a conflicting pattern.
func (rt *router) add(op *operation) error {
	for _, other := range rt.all {
		if err := checkPair(op, other); err != nil {
			return err
		}
	}
	n := &rt.root
	for _, s := range op.pattern.segs {
		switch s.kind {
		case segLiteral:
			next := n.child(s.lit)
			if next == nil {
				next = &node{}
				n.lits = append(n.lits, litChild{seg: s.lit, next: next})
				if len(n.lits) >= litMapMin {
					n.litMap = make(map[string]*node, len(n.lits))
					for _, c := range n.lits {
						n.litMap[c.seg] = c.next
					}
				}
			}
			n = next
		case segWild:
			if n.wild == nil {
				n.wild = &node{}
			}
			n = n.wild
		case segRest:
			if n.rest == nil {
				n.rest = &leaf{}
			}
			n.rest.put(op)
			rt.all = append(rt.all, op)
			return nil
		}
	}
	if n.end == nil {
		n.end = &leaf{}
	}
	n.end.put(op)
	rt.all = append(rt.all, op)
	return nil
}

func (l *leaf) put(op *operation) {
	if op.method == "" {
		l.any = op
		return
	}
	l.ops = append(l.ops, op)
}

// checkPair applies net/http's precedence rules to two operations: same
// method and same pattern shape is a duplicate; overlapping paths where
// neither pattern is more specific, or where one is more specific by path
// and the other by method, conflict.
func checkPair(a, b *operation) error {
	path := comparePaths(a.pattern, b.pattern)
	if path == relDisjoint {
		return nil
	}
	var method relation
	switch {
	case a.method == b.method:
		method = relEqual
	case a.method == "":
		method = relLessSpecific
	case b.method == "":
		method = relMoreSpecific
	default:
		return nil // different methods never compete
	}
	switch {
	case path == relEqual && method == relEqual:
		return fmt.Errorf("%w: %s and %s", errPatternDuplicate, a.label, b.label)
	case path == relConflict,
		path == relMoreSpecific && method == relLessSpecific,
		path == relLessSpecific && method == relMoreSpecific:
		return fmt.Errorf("%w: %s and %s both match some requests and neither is more specific",
			errPatternConflict, a.label, b.label)
	}
	return nil
}

// match finds the operation for method and path (relative to the API's
// base, "" meaning "/"), writing wildcard values into vals in pattern
// order. It allocates nothing. pathOnly reports that some pattern matched
// the path but none the method (405 rather than 404).
func (rt *router) match(method, path string, vals *[maxParams]string) (op *operation, pathOnly bool) {
	if path == "" {
		path = "/"
	}
	if path[0] != '/' {
		return nil, false
	}
	if path == "/" {
		// "/" is both no segment at all (pattern "/") and one empty
		// segment ("/{p...}" with p empty); the first is more specific.
		if op = rt.root.end.forMethod(method); op != nil {
			return op, true
		}
		return rt.root.lookup(method, "", vals, 0, rt.root.end != nil)
	}
	return rt.root.lookup(method, path[1:], vals, 0, false)
}

// lookup matches s, the rest of the path after a slash, below n.
func (n *node) lookup(method, s string, vals *[maxParams]string, nv int, pathOnly bool) (*operation, bool) {
	seg, tail, more := strings.Cut(s, "/")
	if next := n.child(seg); next != nil {
		op, po := next.descend(method, tail, more, vals, nv)
		if op != nil {
			return op, true
		}
		pathOnly = pathOnly || po
	}
	if n.wild != nil && seg != "" {
		vals[nv] = seg
		op, po := n.wild.descend(method, tail, more, vals, nv+1)
		if op != nil {
			return op, true
		}
		pathOnly = pathOnly || po
	}
	if n.rest != nil {
		if op := n.rest.forMethod(method); op != nil {
			vals[nv] = s
			return op, true
		}
		pathOnly = true
	}
	return nil, pathOnly
}

func (n *node) descend(method, tail string, more bool, vals *[maxParams]string, nv int) (*operation, bool) {
	if !more {
		if n.end == nil {
			return nil, false
		}
		return n.end.forMethod(method), true
	}
	return n.lookup(method, tail, vals, nv, false)
}

// allowed lists the methods some operation accepts for path, for the
// Allow header of a 405 (RFC 9110 §15.5.6). Only on the error path.
func (rt *router) allowed(path string) string {
	var vals [maxParams]string
	var methods []string
	seen := map[string]bool{}
	for _, op := range rt.all {
		m := op.method
		if m == "" || seen[m] {
			continue
		}
		if got, _ := rt.match(m, path, &vals); got != nil {
			seen[m] = true
			methods = append(methods, m)
			if m == "GET" && !seen["HEAD"] {
				seen["HEAD"] = true
				methods = append(methods, "HEAD")
			}
		}
	}
	return strings.Join(methods, ", ")
}

// cleanPath reports whether the request path is one the gateway will
// route: absolute, no empty or dot segments (in any spelling a backend
// might resolve, see isDotSegment), no control characters or
// backslashes, and no percent-encoded slash or backslash (which would
// make the upstream see a different path structure than the one matched).
func cleanPath(path, rawPath string) bool {
	if path == "" || path[0] != '/' {
		return false
	}
	segStart := 1
	for i := 1; i <= len(path); i++ {
		if i < len(path) {
			c := path[i]
			if c < 0x20 || c == 0x7f || c == '\\' {
				return false
			}
			if c != '/' {
				continue
			}
		}
		seg := path[segStart:i]
		switch {
		case seg == "" && i < len(path): // "//"
			return false
		case isDotSegment(seg):
			return false
		}
		segStart = i + 1
	}
	for i := 0; i+2 < len(rawPath); i++ {
		if rawPath[i] != '%' {
			continue
		}
		if h, l := rawPath[i+1], rawPath[i+2]|0x20; h == '2' && l == 'f' || h == '5' && l == 'c' {
			return false
		}
	}
	return true
}

// isDotSegment reports whether seg, a segment of the decoded path, is "."
// or ".." to some backend: Tomcat, Jetty and Spring cut path parameters
// (";..." to the end of the segment) before resolving dot segments, so
// "..;" and ".;x" are ".." and "."; a backend that decodes once more
// reads "%2e" (or IIS's "%u002e") as "." and "%3b" as ";". Case is
// ignored in escapes. "..." and ".a" are ordinary names.
func isDotSegment(seg string) bool {
	if seg == "" || seg[0] != '.' && seg[0] != '%' {
		return false // the common case, decided on one byte
	}
	dots := 0
	for i := 0; i < len(seg) && dots <= 2; {
		switch {
		case seg[i] == '.':
			i++
		case hasEscape(seg[i:], "%2e"):
			i += len("%2e")
		case hasEscape(seg[i:], "%u002e"):
			i += len("%u002e")
		case seg[i] == ';' || hasEscape(seg[i:], "%3b"):
			// Parameters follow: what came before is the segment.
			return dots > 0 && dots <= 2
		default:
			return false
		}
		dots++
	}
	return dots > 0 && dots <= 2
}

// hasEscape reports whether s starts with esc, a lower-case percent
// escape, ignoring the case of s.
func hasEscape(s, esc string) bool {
	if len(s) < len(esc) {
		return false
	}
	for i := 0; i < len(esc); i++ {
		if lower(s[i]) != esc[i] {
			return false
		}
	}
	return true
}

// hasPathParameters reports whether the decoded path holds a ';' (sent
// as is or as %3B): a path parameter to Tomcat, Jetty and Spring, which
// cut it off before they route.
func hasPathParameters(path string) bool {
	return strings.IndexByte(path, ';') >= 0
}
