package contract

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// Schema is a compiled JSON Schema.
type Schema struct {
	s *jsonschema.Schema
	// kind is the JSON type a parameter's text is read as: "string"
	// (the default), "integer", "number", "boolean" or "array".
	kind string
	// item is the type of an array's elements, likewise.
	item string
}

// errExternalRef refuses every resource a schema names outside itself:
// validation never reads a file or the network.
var errExternalRef = errors.New("references outside the schema are not allowed")

type refuseLoader struct{}

func (refuseLoader) Load(string) (any, error) { return nil, errExternalRef }

// newCompiler returns a compiler that asserts formats (a schema that
// says "format: email" means it) and loads nothing.
func newCompiler(draft *jsonschema.Draft) *jsonschema.Compiler {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(draft)
	c.AssertFormat()
	c.UseLoader(refuseLoader{})
	return c
}

// inlineURL names an inline schema; it is never fetched.
const inlineURL = "urn:portcullis:schema"

// CompileInline compiles a schema written in a configuration (YAML
// decoded into maps, lists and scalars): JSON Schema 2020-12 unless its
// $schema says otherwise. A $ref may point only inside the schema.
func CompileInline(v any) (*Schema, error) {
	doc, err := jsonValue(v)
	if err != nil {
		return nil, err
	}
	c := newCompiler(jsonschema.Draft2020)
	if err := c.AddResource(inlineURL, doc); err != nil {
		return nil, err
	}
	s, err := c.Compile(inlineURL)
	if err != nil {
		return nil, compileError(err)
	}
	k, item := paramKinds(doc, nil)
	return &Schema{s: s, kind: k, item: item}, nil
}

// jsonValue turns a YAML-decoded value into the JSON value the compiler
// reads (numbers as json.Number), refusing what JSON cannot hold.
func jsonValue(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("not a JSON value (keys must be strings): %w", err)
	}
	return jsonschema.UnmarshalJSON(bytes.NewReader(b))
}

// compileError keeps the compiler's message on one line.
func compileError(err error) error {
	return errors.New(strings.Join(strings.Fields(err.Error()), " "))
}

// Decode decodes a body that Guards.Scan has passed into the values the
// schema validates (numbers as json.Number, exactly as sent).
func Decode(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// Validate checks v and returns its violations, sorted by location, at
// most MaxViolations; in and base say where v is in the request ("body"
// and "", or "query" and the parameter's name).
func (s *Schema) Validate(in, base string, v any) []Violation {
	err := s.s.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []Violation{{In: in, InstanceLocation: base, Message: "cannot be validated"}}
	}
	var out []Violation
	collect(ve, in, base, &out)
	slices.SortStableFunc(out, func(a, b Violation) int {
		return cmp.Or(cmp.Compare(a.InstanceLocation, b.InstanceLocation), cmp.Compare(a.Message, b.Message))
	})
	out = slices.Compact(out)
	if len(out) > MaxViolations {
		out = out[:MaxViolations]
	}
	return out
}

// collect appends the leaves of e's tree. A failed anyOf or oneOf is one
// violation: the reasons of each branch would only confuse.
func collect(e *jsonschema.ValidationError, in, base string, out *[]Violation) {
	if len(*out) >= 4*MaxViolations {
		return
	}
	switch e.ErrorKind.(type) {
	case *kind.AnyOf, *kind.OneOf:
		addKind(e, in, base, out)
		return
	}
	if len(e.Causes) == 0 {
		addKind(e, in, base, out)
		return
	}
	for _, c := range e.Causes {
		collect(c, in, base, out)
	}
}

func addKind(e *jsonschema.ValidationError, in, base string, out *[]Violation) {
	loc := base
	for _, t := range e.InstanceLocation {
		loc = string(appendToken([]byte(loc+"/"), []byte(t)))
	}
	add := func(loc, msg string) { *out = append(*out, Violation{In: in, InstanceLocation: loc, Message: msg}) }
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		for _, m := range k.Missing {
			add(loc, "missing required property "+excerpt(m))
		}
	case *kind.AdditionalProperties:
		for _, p := range k.Properties {
			add(string(appendToken([]byte(loc+"/"), []byte(p))), "property not allowed")
		}
	case *kind.DependentRequired:
		for _, m := range k.Missing {
			add(loc, fmt.Sprintf("missing property %s, required with %s", excerpt(m), excerpt(k.Prop)))
		}
	case *kind.Dependency:
		for _, m := range k.Missing {
			add(loc, fmt.Sprintf("missing property %s, required with %s", excerpt(m), excerpt(k.Prop)))
		}
	default:
		add(loc, message(e.ErrorKind))
	}
}

// message says what a failed keyword wants, in the schema's terms; it
// never quotes the instance beyond an excerpt.
func message(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Type:
		return fmt.Sprintf("must be %s, not %s", strings.Join(k.Want, " or "), k.Got)
	case *kind.Enum:
		return "must be one of " + values(k.Want)
	case *kind.Const:
		return "must be " + values([]any{k.Want})
	case *kind.Format:
		return "is not a valid " + k.Want
	case *kind.MinLength:
		return fmt.Sprintf("must be at least %d characters long", k.Want)
	case *kind.MaxLength:
		return fmt.Sprintf("must be at most %d characters long", k.Want)
	case *kind.Pattern:
		return "does not match the pattern " + excerpt(k.Want)
	case *kind.Minimum:
		return "must be at least " + rat(k.Want)
	case *kind.Maximum:
		return "must be at most " + rat(k.Want)
	case *kind.ExclusiveMinimum:
		return "must be greater than " + rat(k.Want)
	case *kind.ExclusiveMaximum:
		return "must be less than " + rat(k.Want)
	case *kind.MultipleOf:
		return "must be a multiple of " + rat(k.Want)
	case *kind.MinItems:
		return fmt.Sprintf("must have at least %d items", k.Want)
	case *kind.MaxItems:
		return fmt.Sprintf("must have at most %d items", k.Want)
	case *kind.UniqueItems:
		return fmt.Sprintf("items %d and %d are equal; items must be unique", k.Duplicates[0], k.Duplicates[1])
	case *kind.MinProperties:
		return fmt.Sprintf("must have at least %d properties", k.Want)
	case *kind.MaxProperties:
		return fmt.Sprintf("must have at most %d properties", k.Want)
	case *kind.PropertyNames:
		return "property name " + excerpt(k.Property) + " is not allowed"
	case *kind.AdditionalItems:
		return "has more items than allowed"
	case *kind.FalseSchema:
		return "is not allowed"
	case *kind.Not:
		return "matches a schema it must not"
	case *kind.AnyOf:
		return "does not match any of the allowed schemas"
	case *kind.OneOf:
		if len(k.Subschemas) > 1 {
			return "matches more than one of the exclusive schemas"
		}
		return "does not match any of the exclusive schemas"
	case *kind.Contains, *kind.MinContains, *kind.MaxContains:
		return "does not hold the items the schema requires"
	default:
		return "does not match the schema (" + strings.Join(k.KeywordPath(), "/") + ")"
	}
}

// values lists a schema's values as JSON, the list cut after 10.
func values(vs []any) string {
	var parts []string
	for i, v := range vs {
		if i == 10 {
			parts = append(parts, "...")
			break
		}
		b, err := json.Marshal(v)
		if err != nil {
			b = []byte("?")
		}
		if s := string(b); len(s) > maxExcerpt {
			parts = append(parts, s[:maxExcerpt]+"...")
		} else {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ", ")
}

// rat writes a schema's bound as a decimal.
func rat(r *big.Rat) string {
	if r == nil {
		return "?"
	}
	if r.IsInt() {
		return r.Num().String()
	}
	s := r.FloatString(6)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// paramKinds reads the type a parameter's text is converted to from a
// schema's top level (and its items), following local $refs of doc.
func paramKinds(schema any, doc any) (string, string) {
	m := deref(schema, doc)
	k := typeOf(m)
	item := ""
	if k == "array" {
		item = typeOf(deref(m["items"], doc))
	}
	return k, item
}

func typeOf(m map[string]any) string {
	switch t := m["type"].(type) {
	case string:
		return t
	case []any:
		// ["integer", "null"]: the first that is not null.
		for _, x := range t {
			if s, ok := x.(string); ok && s != "null" {
				return s
			}
		}
	}
	return "string"
}

// deref follows "#/..." $refs of doc from v (a few hops at most).
func deref(v, doc any) map[string]any {
	for range 8 {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		ref, ok := m["$ref"].(string)
		if !ok || doc == nil || !strings.HasPrefix(ref, "#/") {
			return m
		}
		v = lookup(doc, ref[1:])
	}
	return nil
}

// lookup resolves a JSON pointer (RFC 6901) in doc; nil when it leads
// nowhere.
func lookup(doc any, ptr string) any {
	if ptr == "" {
		return doc
	}
	for tok := range strings.SplitSeq(ptr[1:], "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch d := doc.(type) {
		case map[string]any:
			doc = d[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(d) {
				return nil
			}
			doc = d[i]
		default:
			return nil
		}
	}
	return doc
}
