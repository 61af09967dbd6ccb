package fieldrules

import (
	"errors"
	"fmt"
	"strconv"
)

// Bounds of a selector: a path into a response document is short, and
// the walk recurses once per step.
const (
	maxSelectorLen   = 512
	maxSelectorSteps = 32
	// maxIndex bounds [N]: no response the gateway holds has more
	// elements than bytes.
	maxIndex = 1 << 20
)

// stepKind is what one selector step matches.
type stepKind uint8

const (
	stepName  stepKind = iota // .name: one member of an object
	stepIndex                 // [N]: one element of an array
	stepAll                   // [*]: every element of an array
)

// step is one step of a selector.
type step struct {
	kind  stepKind
	name  string
	index int
}

// Selector is a parsed JSONPath subset (RFC 9535's shape, a fraction of
// its syntax): $ for the document, then steps .name, [*] and [N]. Names
// are letters, digits, '_' and '-'. Filters, recursive descent, slices
// and quoted names are not supported: each would be a second language to
// get right on the response path. Immutable.
type Selector struct {
	src   string
	steps []step
}

// ParseSelector parses s. Errors give the byte offset and never quote s.
func ParseSelector(s string) (*Selector, error) {
	if len(s) > maxSelectorLen {
		return nil, fmt.Errorf("selector is longer than %d bytes", maxSelectorLen)
	}
	if s == "" || s[0] != '$' {
		return nil, errors.New("selector must start with $")
	}
	sel := &Selector{src: s}
	i := 1
	for i < len(s) {
		if len(sel.steps) == maxSelectorSteps {
			return nil, fmt.Errorf("selector has more than %d steps", maxSelectorSteps)
		}
		switch s[i] {
		case '.':
			j := i + 1
			for j < len(s) && isNameByte(s[j]) {
				j++
			}
			if j == i+1 {
				return nil, fmt.Errorf("offset %d: . must be followed by a name (letters, digits, _ and -)", i)
			}
			sel.steps = append(sel.steps, step{kind: stepName, name: s[i+1 : j]})
			i = j
		case '[':
			j := i + 1
			for j < len(s) && s[j] != ']' {
				j++
			}
			if j == len(s) {
				return nil, fmt.Errorf("offset %d: [ is not closed", i)
			}
			inner := s[i+1 : j]
			switch {
			case inner == "*":
				sel.steps = append(sel.steps, step{kind: stepAll})
			case isIndex(inner):
				n, err := strconv.Atoi(inner)
				if err != nil || n > maxIndex {
					return nil, fmt.Errorf("offset %d: index is larger than %d", i+1, maxIndex)
				}
				sel.steps = append(sel.steps, step{kind: stepIndex, index: n})
			default:
				return nil, fmt.Errorf("offset %d: brackets hold * or an index (0, 1, ...)", i+1)
			}
			i = j + 1
		default:
			return nil, fmt.Errorf("offset %d: expected . or [", i)
		}
	}
	return sel, nil
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// isIndex reports a non-negative decimal without leading zeros.
func isIndex(s string) bool {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String returns the selector as written.
func (s *Selector) String() string { return s.src }

// endsWithName reports whether the last step selects an object member:
// what a field rule removes or encrypts.
func (s *Selector) endsWithName() bool {
	return len(s.steps) > 0 && s.steps[len(s.steps)-1].kind == stepName
}

// endsWithAll reports whether the last step is [*]: the elements a
// filter keeps or drops.
func (s *Selector) endsWithAll() bool {
	return len(s.steps) > 0 && s.steps[len(s.steps)-1].kind == stepAll
}

// rooted returns the steps behind a box holding the document as its
// only element, so that every selected value, the document included, has
// a container it can be replaced in.
func (s *Selector) rooted() []step {
	out := make([]step, 0, len(s.steps)+1)
	out = append(out, step{kind: stepIndex, index: 0})
	return append(out, s.steps...)
}

// walk calls fn with every value steps select from v, in document
// order; fn may replace the value or change it in place. Values of the
// wrong kind for a step (a name on an array, an index past the end)
// select nothing.
func walk(v *value, steps []step, fn func(*value) error) error {
	if len(steps) == 0 {
		return fn(v)
	}
	st, rest := steps[0], steps[1:]
	switch {
	case v.kind == kindObject && st.kind == stepName:
		if i, ok := v.c.member(st.name); ok {
			return walk(&v.c.members[i].v, rest, fn)
		}
	case v.kind == kindArray && st.kind == stepAll:
		for i := range v.c.elems {
			if err := walk(&v.c.elems[i], rest, fn); err != nil {
				return err
			}
		}
	case v.kind == kindArray && st.kind == stepIndex:
		if st.index < len(v.c.elems) {
			return walk(&v.c.elems[st.index], rest, fn)
		}
	}
	return nil
}
