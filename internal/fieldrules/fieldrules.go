// Package fieldrules rewrites a JSON response body for the caller who
// will read it: it keeps only the array elements a filter lets the
// caller see, and removes or encrypts (JWE compact, RFC 7516 §7.1) the
// fields its rules select when CEL conditions over the caller's verified
// claims say so. Rules are compiled once; Apply runs per response.
//
// It must never hand back a body it could not rewrite: a body that is
// not JSON, too large, or shaped so that a filter cannot apply is an
// error, and the caller refuses the response rather than pass it
// through (fail closed). It knows nothing of HTTP.
package fieldrules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/go-jose/go-jose/v4"
)

// Actions of a field rule.
const (
	ActionRemove  = "remove"
	ActionEncrypt = "encrypt"
)

// DefaultMaxBodyBytes is the largest body Apply rewrites when the spec
// sets no bound: the document is held in memory, decoded, while it is.
const DefaultMaxBodyBytes = 1 << 20

// KeySize is the size of an encrypt rule's key (A256GCM, dir).
const KeySize = 32

// Errors of Apply; the caller refuses the response on any of them.
var (
	ErrTooLarge = errors.New("fieldrules: body larger than the bound")
	ErrNotJSON  = errors.New("fieldrules: body is not a JSON document")
	// ErrShape is a filter path that reaches something other than an
	// array (or null): the document is not what the rules were written
	// for, and its elements cannot be told apart.
	ErrShape = errors.New("fieldrules: filter path does not reach an array")
)

// Spec is one operation's rules as configured.
type Spec struct {
	// Filter is a CEL bool over element (one element of the array
	// FilterPath selects) and claims; elements for which it is not true
	// are dropped. Empty means no filter.
	Filter string
	// FilterPath selects the elements the filter judges; it ends with
	// [*] ($.patients[*], $[*]). Required with Filter.
	FilterPath string
	// Fields are applied in order, after the filter.
	Fields []FieldSpec
	// MaxBodyBytes bounds the body rewritten. Zero means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// FieldSpec is one field rule.
type FieldSpec struct {
	// Select is a selector (ParseSelector) ending in a member name.
	Select string
	// Action is ActionRemove or ActionEncrypt.
	Action string
	// When and Unless are CEL bools over claims: the rule acts when
	// When holds (empty: always) and Unless does not (empty: never
	// exempt). A condition that cannot be evaluated (a claim missing)
	// counts toward acting: the data stays protected.
	When, Unless string
	// Key is the KeySize-byte content encryption key of ActionEncrypt.
	Key []byte
}

// Rules are compiled rules. Immutable and safe for concurrent use.
type Rules struct {
	filter *condition
	// filterArray selects the arrays the filter runs over (the filter
	// path without its [*], behind the root box).
	filterArray []step
	fields      []field
	maxBody     int64
}

type field struct {
	steps        []step
	encrypt      bool
	when, unless *condition
	enc          jose.Encrypter
}

// Counts say what one Apply did.
type Counts struct {
	// Dropped counts elements the filter removed; Removed and
	// Encrypted count fields.
	Dropped, Removed, Encrypted int
}

// Compile checks and compiles spec.
func Compile(spec Spec) (*Rules, error) {
	r := &Rules{maxBody: spec.MaxBodyBytes}
	if r.maxBody <= 0 {
		r.maxBody = DefaultMaxBodyBytes
	}
	if spec.Filter != "" || spec.FilterPath != "" {
		sel, err := checkFilterPath(spec.FilterPath)
		if err != nil {
			return nil, fmt.Errorf("filter_path: %w", err)
		}
		if spec.Filter == "" {
			return nil, errors.New("filter: must be set with filter_path")
		}
		if r.filter, err = compileCondition(spec.Filter, true); err != nil {
			return nil, fmt.Errorf("filter: %w", err)
		}
		steps := sel.rooted()
		r.filterArray = steps[:len(steps)-1]
	}
	for i, fs := range spec.Fields {
		f, err := compileField(fs)
		if err != nil {
			return nil, fmt.Errorf("fields[%d]: %w", i, err)
		}
		r.fields = append(r.fields, f)
	}
	return r, nil
}

// CheckFilterPath reports why s cannot be a filter path; nil means it
// can.
func CheckFilterPath(s string) error {
	_, err := checkFilterPath(s)
	return err
}

func checkFilterPath(s string) (*Selector, error) {
	sel, err := ParseSelector(s)
	if err != nil {
		return nil, err
	}
	if !sel.endsWithAll() {
		return nil, errors.New("must end with [*]: it selects the elements the filter keeps or drops")
	}
	return sel, nil
}

// CheckFieldSelector reports why s cannot select a field rule's field;
// nil means it can.
func CheckFieldSelector(s string) error {
	_, err := checkFieldSelector(s)
	return err
}

func checkFieldSelector(s string) (*Selector, error) {
	sel, err := ParseSelector(s)
	if err != nil {
		return nil, err
	}
	if !sel.endsWithName() {
		return nil, errors.New("must end with a field name (.name): a rule removes or encrypts object members")
	}
	return sel, nil
}

func compileField(fs FieldSpec) (field, error) {
	var f field
	sel, err := checkFieldSelector(fs.Select)
	if err != nil {
		return f, fmt.Errorf("select: %w", err)
	}
	f.steps = sel.rooted()
	if fs.When != "" {
		if f.when, err = compileCondition(fs.When, false); err != nil {
			return f, fmt.Errorf("when: %w", err)
		}
	}
	if fs.Unless != "" {
		if f.unless, err = compileCondition(fs.Unless, false); err != nil {
			return f, fmt.Errorf("unless: %w", err)
		}
	}
	switch fs.Action {
	case ActionRemove:
	case ActionEncrypt:
		if len(fs.Key) != KeySize {
			return f, fmt.Errorf("key: must be %d bytes, not %d", KeySize, len(fs.Key))
		}
		// RFC 7518 §4.5: dir uses the shared key as the content key.
		f.enc, err = jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: jose.DIRECT, Key: fs.Key},
			(&jose.EncrypterOptions{}).WithContentType("json"))
		if err != nil {
			return f, fmt.Errorf("key: %w", err)
		}
		f.encrypt = true
	default:
		return f, fmt.Errorf("action: %q is not %s or %s", fs.Action, ActionRemove, ActionEncrypt)
	}
	return f, nil
}

// MaxBodyBytes is the largest body Apply rewrites.
func (r *Rules) MaxBodyBytes() int64 { return r.maxBody }

// Apply rewrites body (one JSON document) for a caller with claims (nil
// on a public route: every claim is missing). When nothing changes the
// body comes back as it was; otherwise re-encoded, with object members
// in name order. An error means the body must not reach the caller.
func (r *Rules) Apply(body []byte, claims map[string]any) ([]byte, Counts, error) {
	var n Counts
	if int64(len(body)) > r.maxBody {
		return nil, n, ErrTooLarge
	}
	doc, err := decode(body)
	if err != nil {
		return nil, n, err
	}
	if claims == nil {
		claims = map[string]any{}
	}
	vars := map[string]any{"claims": claims}
	box := []any{doc}
	if r.filter != nil {
		if err := containers(box, r.filterArray, func(c any, last step) error {
			return replace(c, last, func(v any) (any, error) { return r.filterArrayOf(v, vars, &n) })
		}); err != nil {
			return nil, n, err
		}
	}
	for i := range r.fields {
		f := &r.fields[i]
		if !f.acts(vars) {
			continue
		}
		var err error
		if f.encrypt {
			err = containers(box, f.steps, func(c any, last step) error {
				return replace(c, last, func(v any) (any, error) { n.Encrypted++; return f.seal(v) })
			})
		} else {
			err = containers(box, f.steps, func(c any, last step) error {
				if m, ok := c.(map[string]any); ok {
					if _, has := m[last.name]; has {
						delete(m, last.name)
						n.Removed++
					}
				}
				return nil
			})
		}
		if err != nil {
			return nil, n, err
		}
	}
	if n == (Counts{}) {
		return body, n, nil
	}
	var buf bytes.Buffer
	buf.Grow(len(body))
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(box[0]); err != nil {
		return nil, n, fmt.Errorf("fieldrules: encoding: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), n, nil
}

// decode reads exactly one JSON value, numbers kept as written.
func decode(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, ErrNotJSON
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, ErrNotJSON
	}
	return doc, nil
}

// filterArrayOf keeps the elements of v for which the filter holds.
func (r *Rules) filterArrayOf(v any, vars map[string]any, n *Counts) (any, error) {
	if v == nil {
		return nil, nil
	}
	a, ok := v.([]any)
	if !ok {
		return nil, ErrShape
	}
	kept := a[:0]
	for _, e := range a {
		vars["element"] = e
		if holds, ok := r.filter.eval(vars); holds && ok {
			kept = append(kept, e)
		} else {
			n.Dropped++
		}
	}
	delete(vars, "element")
	// Clear the tail so the dropped elements are not reachable.
	clear(a[len(kept):])
	return kept, nil
}

// acts reports whether the rule applies to a caller.
func (f *field) acts(vars map[string]any) bool {
	if f.when != nil {
		if holds, ok := f.when.eval(vars); ok && !holds {
			return false
		}
	}
	if f.unless != nil {
		if holds, ok := f.unless.eval(vars); ok && holds {
			return false
		}
	}
	return true
}

// seal encrypts a value's JSON encoding into a JWE compact string.
func (f *field) seal(v any) (any, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("fieldrules: encoding a field: %w", err)
	}
	obj, err := f.enc.Encrypt(plain)
	if err != nil {
		return nil, fmt.Errorf("fieldrules: encrypting a field: %w", err)
	}
	s, err := obj.CompactSerialize()
	if err != nil {
		return nil, fmt.Errorf("fieldrules: encrypting a field: %w", err)
	}
	return s, nil
}
