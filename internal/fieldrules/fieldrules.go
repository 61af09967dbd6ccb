// Package fieldrules rewrites a JSON response body for the caller who
// will read it: it keeps only the array elements a filter lets the
// caller see, and removes or encrypts (JWE compact, RFC 7516 §7.1) the
// fields its rules select when CEL conditions over the caller's verified
// claims say so. A field is encrypted either to the API (a shared key,
// dir) or to the calling client's registered public key (ECDH-ES+A256KW
// or RSA-OAEP-256, recipient.go), so only the key's holder reads it.
// Rules are compiled once; Apply runs per response.
//
// It must never hand back a body it could not rewrite: a body that is
// not JSON, too large, or shaped so that a filter cannot apply is an
// error, and the caller refuses the response rather than pass it
// through (fail closed). A field meant for a client that has no key to
// encrypt to is removed, never sent in clear. It knows nothing of HTTP
// or of where client keys are stored.
package fieldrules

import (
	"errors"
	"fmt"
	"slices"
)

// Actions of a field rule.
const (
	ActionRemove  = "remove"
	ActionEncrypt = "encrypt"
)

// DefaultMaxBodyBytes is the largest body Apply rewrites when the spec
// sets no bound: the document is held in memory, decoded, while it is.
const DefaultMaxBodyBytes = 1 << 20

// Recipients of an encrypt rule: who can decrypt the field.
const (
	// RecipientAPI encrypts under the rule's shared key (dir + A256GCM):
	// whoever the API's operators give the key to reads the field.
	RecipientAPI = "api"
	// RecipientClient encrypts to the calling client's registered
	// public encryption key: only that client reads the field.
	RecipientClient = "client"
)

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
	// Recipient says whom ActionEncrypt encrypts to: RecipientAPI
	// (empty means it) or RecipientClient.
	Recipient string
	// Key is the KeySize-byte content encryption key of ActionEncrypt
	// to RecipientAPI; refused for RecipientClient.
	Key []byte
	// KeyID is Key's id, carried as kid in every JWE's protected header
	// so that readers can tell keys apart across a rotation. Empty means
	// no kid. Refused for RecipientClient, whose kid is the client key's.
	KeyID string
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
	// enc seals fields to the API; nil for a rule that encrypts to the
	// client (toClient), which uses the response's ClientKey.
	enc      *dirSealer
	toClient bool
}

// Counts say what one Apply did.
type Counts struct {
	// Dropped counts elements the filter removed; Removed and
	// Encrypted count fields.
	Dropped, Removed, Encrypted int
	// NoKey counts fields removed because they were to be encrypted to
	// a client that has no usable encryption key.
	NoKey int
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
		if fs.Recipient != "" || fs.Key != nil || fs.KeyID != "" {
			return f, errors.New("recipient, key and key id are for encrypt only")
		}
	case ActionEncrypt:
		f.encrypt = true
		switch fs.Recipient {
		case "", RecipientAPI:
			f.enc, err = newDirSealer(fs.Key, fs.KeyID)
			if err != nil {
				return f, err
			}
		case RecipientClient:
			if fs.Key != nil || fs.KeyID != "" {
				return f, errors.New("key: a rule that encrypts to the client uses the client's key, not one of its own")
			}
			f.toClient = true
		default:
			return f, fmt.Errorf("recipient: %q is not %s or %s", fs.Recipient, RecipientAPI, RecipientClient)
		}
	default:
		return f, fmt.Errorf("action: %q is not %s or %s", fs.Action, ActionRemove, ActionEncrypt)
	}
	return f, nil
}

// MaxBodyBytes is the largest body Apply rewrites.
func (r *Rules) MaxBodyBytes() int64 { return r.maxBody }

// EncryptsToClient reports whether some rule encrypts to the client, so
// that the caller knows to look for a ClientKey at all.
func (r *Rules) EncryptsToClient() bool {
	for i := range r.fields {
		if r.fields[i].toClient {
			return true
		}
	}
	return false
}

// NeedsClientKey reports whether, for a caller with claims, some rule
// that encrypts to the client acts: only then is the client's key worth
// fetching. Conditions read claims alone, so the answer holds for any
// body.
func (r *Rules) NeedsClientKey(claims map[string]any) bool {
	if !r.EncryptsToClient() {
		return false
	}
	if claims == nil {
		claims = map[string]any{}
	}
	vars := map[string]any{"claims": claims}
	for i := range r.fields {
		if f := &r.fields[i]; f.toClient && f.acts(vars) {
			return true
		}
	}
	return false
}

// Apply rewrites body (one JSON document) for a caller with claims (nil
// on a public route: every claim is missing) whose encryption key is
// client: nil when the caller has none, and the members that rules
// encrypting to the client select are then removed. When nothing
// changes the body comes back as it was (the same slice); otherwise
// re-encoded into a new one, with object members in name order, and body
// is not retained. An error means the body must not reach the caller.
func (r *Rules) Apply(body []byte, claims map[string]any, client *ClientKey) ([]byte, Counts, error) {
	var n Counts
	if int64(len(body)) > r.maxBody {
		return nil, n, ErrTooLarge
	}
	d := getDocument()
	defer putDocument(d)
	if err := d.parse(body); err != nil {
		return nil, n, err
	}
	if claims == nil {
		claims = map[string]any{}
	}
	if d.vars == nil {
		d.vars = make(map[string]any, 2)
	}
	d.vars["claims"] = claims
	if r.filter != nil {
		if err := walk(&d.top, r.filterArray, func(v *value) error { return r.filterElements(d, v, &n) }); err != nil {
			return nil, n, err
		}
	}
	for i := range r.fields {
		f := &r.fields[i]
		// Conditions read claims alone: once per response.
		if !f.acts(d.vars) {
			continue
		}
		var err error
		switch {
		case f.toClient && client == nil:
			// Fail closed: with no key to encrypt to, the field is
			// withheld rather than sent in clear.
			err = f.remove(d, &n.NoKey)
		case f.encrypt:
			var s sealer = f.enc
			if f.toClient {
				s = client
			}
			err = walk(&d.top, f.steps, func(v *value) error {
				n.Encrypted++
				return d.seal(s, v)
			})
		default:
			err = f.remove(d, &n.Removed)
		}
		if err != nil {
			return nil, n, err
		}
	}
	if n == (Counts{}) {
		return body, n, nil
	}
	d.out = appendValue(d.out[:0], d.top.c.elems[0], false)
	return append([]byte(nil), d.out...), n, nil
}

// remove deletes the members f selects, counting into n: the rule's
// selector ends in a name, so they are that name's members of the
// objects the steps before it reach.
func (f *field) remove(d *document, n *int) error {
	name := f.steps[len(f.steps)-1].name
	return walk(&d.top, f.steps[:len(f.steps)-1], func(v *value) error {
		if v.kind != kindObject {
			return nil
		}
		if i, ok := v.c.member(name); ok {
			v.c.members = slices.Delete(v.c.members, i, i+1)
			*n++
		}
		return nil
	})
}

// seal replaces v with the JWE of its JSON encoding (json.Marshal's,
// HTML characters escaped).
func (d *document) seal(s sealer, v *value) error {
	d.plain = appendValue(d.plain[:0], *v, true)
	tok, err := s.seal(d.plain, &d.sealed)
	if err != nil {
		return fmt.Errorf("fieldrules: encrypting a field: %w", err)
	}
	// A JWE is base64url and dots: plain.
	*v = value{kind: kindString, plain: plainJSON | plainHTML, tok: tok}
	return nil
}

// filterElements keeps the elements of the array v for which the filter
// holds.
func (r *Rules) filterElements(d *document, v *value, n *Counts) error {
	switch v.kind {
	case kindNull:
		return nil
	case kindArray:
	default:
		return ErrShape
	}
	if d.judged == nil {
		d.judged, d.elem = make(map[string]bool), make(map[string]any, 8)
	}
	kept := v.c.elems[:0]
	for _, e := range v.c.elems {
		if r.holds(d, e) {
			kept = append(kept, e)
		} else {
			n.Dropped++
		}
	}
	// Clear the tail so the dropped elements are not reachable.
	clear(v.c.elems[len(kept):])
	v.c.elems = kept
	return nil
}

// holds reports whether the filter holds for e. The filter is a function
// of the claims, fixed for the response, and of what it reads of e: it
// runs once for each different reading (filterKey), so that a page of
// patients of two doctors costs two evaluations, not one per patient.
func (r *Rules) holds(d *document, e value) bool {
	d.key = r.filter.filterKey(d.key[:0], e)
	if h, ok := d.judged[string(d.key)]; ok {
		return h
	}
	// The element as encoding/json decodes it, an object only with the
	// members the filter reads when it reads no more than members by
	// name; an object is handed over in one reused map.
	switch {
	case e.kind != kindObject:
		d.vars["element"] = e.native()
	case r.filter.wholeElement:
		clear(d.elem)
		d.vars["element"] = e.c.nativeMembers(d.elem)
	default:
		clear(d.elem)
		for _, name := range r.filter.names {
			if i, ok := e.c.member(name); ok {
				d.elem[name] = e.c.members[i].v.native()
			}
		}
		d.vars["element"] = d.elem
	}
	holds, ok := r.filter.eval(d.vars)
	delete(d.vars, "element")
	d.judged[string(d.key)] = holds && ok
	return holds && ok
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
