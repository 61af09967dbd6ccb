package catalog

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/internal/contract"
)

// The values of Validation.Mode and OperationValidation.Mode.
const (
	// ValidationEnforce refuses a request that breaks the contract (400,
	// or 415 for a content type not accepted).
	ValidationEnforce = "enforce"
	// ValidationReport logs and counts a request that breaks the
	// contract, and lets it through.
	ValidationReport = "report"
	// ValidationOff checks nothing.
	ValidationOff = "off"
)

var validationModes = []string{ValidationEnforce, ValidationReport, ValidationOff}

// The bounds of Validation.ResponseMaxBodyBytes: an answer is held whole,
// and decoded, while it is checked.
const (
	DefaultResponseMaxBodyBytes = 1 << 20
	MaxResponseMaxBodyBytes     = 16 << 20
)

// Validation is an API's request validation: its contract (the OpenAPI
// document's or inline schemas) and the guards on request bodies.
type Validation struct {
	// Mode is enforce, report or off. Empty means enforce for an
	// operation with a contract (a schema or parameters from the OpenAPI
	// document or its own validation) and off for one without; enforce
	// or report set here also guard the JSON bodies of operations
	// without a schema.
	Mode string `yaml:"mode"`
	// MaxDepth bounds the nesting of arrays and objects in a JSON body
	// (1 to 1000). Zero means 32.
	MaxDepth int `yaml:"max_depth"`
	// MaxKeys bounds the members of one object. Zero means 1000.
	MaxKeys int `yaml:"max_keys"`
	// MaxItems bounds the elements of one array. Zero means 10000.
	MaxItems int `yaml:"max_items"`
	// MaxStringLength bounds a string or member name, in bytes as sent.
	// Zero means 65536.
	MaxStringLength int `yaml:"max_string_length"`
	// ContentTypes are the media types a request body may have
	// ("application/json", "application/*", "*/*"), for operations that
	// say none of their own. Empty means those of the OpenAPI document's
	// requestBody, else application/json for an operation with a body
	// schema, else any.
	ContentTypes []string `yaml:"content_types"`
	// Response is how the upstream's answers are checked against the
	// response schemas (the OpenAPI document's responses, an operation's
	// response_schemas): enforce answers 502 for one that breaks them,
	// report counts and logs it and passes it, off checks none. Empty
	// means report for an operation whose answers have schemas, and off
	// where validation is off (ResponseMode).
	Response string `yaml:"response"`
	// ResponseMaxBodyBytes bounds the answer held to be checked (at most
	// MaxResponseMaxBodyBytes); a larger one is refused in enforce mode,
	// counted and passed unchecked in report mode. Zero means 1 MiB.
	ResponseMaxBodyBytes int64 `yaml:"response_max_body_bytes"`
}

// ResponseLimit is the largest answer v's operations check.
func (v *Validation) ResponseLimit() int64 {
	if v == nil || v.ResponseMaxBodyBytes == 0 {
		return DefaultResponseMaxBodyBytes
	}
	return v.ResponseMaxBodyBytes
}

// OperationValidation overrides an API's Validation for one operation.
type OperationValidation struct {
	// Mode overrides the API's (enforce, report or off). Empty means the
	// API's.
	Mode string `yaml:"mode"`
	// ContentTypes overrides the API's accepted media types. Empty means
	// the API's.
	ContentTypes []string `yaml:"content_types"`
	// RequestSchema is the JSON Schema (2020-12, written as YAML) of the
	// operation's JSON request body; a $ref may point only inside it.
	// Nil means none.
	RequestSchema map[string]any `yaml:"request_schema"`
	// BodyRequired refuses a request of this operation without a body.
	// False lets a request without a body through.
	BodyRequired bool `yaml:"body_required"`
	// Parameters are the path, query and header parameters checked.
	// Empty means none.
	Parameters []ValidationParameter `yaml:"parameters"`
	// Response overrides the API's response mode (enforce, report or
	// off). Empty means the API's.
	Response string `yaml:"response"`
	// ResponseSchemas are the JSON Schemas (2020-12, written as YAML) of
	// the operation's JSON answers, by status: "200", a class such as
	// "4XX", or "default" (the exact code first, then the class, then
	// default). An answer of a status with a schema must be JSON
	// (application/json or a +json type). Nil means none.
	ResponseSchemas map[string]map[string]any `yaml:"response_schemas"`
}

// ResponseMode is the response validation of an operation whose API has
// validation api and which has op (either nil): the operation's
// response, else the API's, else off where request validation is off
// (the operation's mode, else the API's), else report when the
// operation's answers have schemas (hasSchemas), else off.
func ResponseMode(api *Validation, op *OperationValidation, hasSchemas bool) string {
	var mode, request string
	if api != nil {
		mode, request = api.Response, api.Mode
	}
	if op != nil {
		if op.Response != "" {
			mode = op.Response
		}
		if op.Mode != "" {
			request = op.Mode
		}
	}
	switch {
	case mode != "":
		return mode
	case request == ValidationOff || !hasSchemas:
		return ValidationOff
	}
	return ValidationReport
}

// ResponseContract compiles the operation's own response schemas; nil
// when it has none. The catalog's validation has compiled them already.
func (o *OperationValidation) ResponseContract() (*contract.Responses, error) {
	if o == nil {
		return nil, nil
	}
	rs, err := contract.CompileResponseSchemas(o.ResponseSchemas)
	if err != nil {
		return nil, fmt.Errorf("response_schemas: %w", err)
	}
	return rs, nil
}

// ValidationParameter is one parameter an operation's validation checks.
type ValidationParameter struct {
	// Name is the parameter's name: a {name} of the operation's path, a
	// query parameter or a header (any case). Required.
	Name string `yaml:"name"`
	// In is path, query or header. Required.
	In string `yaml:"in"`
	// Required refuses a request without the parameter; path parameters
	// are always present. False lets it be absent.
	Required bool `yaml:"required"`
	// Schema is the JSON Schema of the value; a value is read as the
	// schema's type (integer, number, boolean, array of them). Nil checks
	// presence only.
	Schema map[string]any `yaml:"schema"`
}

var parameterLocations = []string{"path", "query", "header"}

// Guards returns the body guards v sets; nil v means the defaults.
func (v *Validation) Guards() contract.Guards {
	if v == nil {
		return contract.Guards{}.WithDefaults()
	}
	return contract.Guards{MaxDepth: v.MaxDepth, MaxKeys: v.MaxKeys, MaxItems: v.MaxItems, MaxStringLength: v.MaxStringLength}.WithDefaults()
}

// Contract compiles the operation's own contract: its content types
// (else the API's, else application/json when it has a body schema),
// body schema and parameters. Nil o or api mean none. The catalog's
// validation has compiled the same schemas, so an error here is one a
// snapshot that passed Validate does not have.
func (o *OperationValidation) Contract(api *Validation) (*contract.Operation, error) {
	op := &contract.Operation{}
	var types []string
	if api != nil {
		types = api.ContentTypes
	}
	if o == nil {
		for _, t := range types {
			op.Content = append(op.Content, contract.Content{Range: t})
		}
		return op, nil
	}
	if len(o.ContentTypes) > 0 {
		types = o.ContentTypes
	}
	var body *contract.Schema
	if o.RequestSchema != nil {
		s, err := contract.CompileInline(o.RequestSchema)
		if err != nil {
			return nil, fmt.Errorf("request_schema: %w", err)
		}
		body = s
		if len(types) == 0 {
			types = []string{"application/json"}
		}
	}
	for _, t := range types {
		op.Content = append(op.Content, contract.Content{Range: t, Schema: body})
	}
	op.BodyRequired = o.BodyRequired
	for k, p := range o.Parameters {
		cp := contract.Parameter{Name: p.Name, In: p.In, Required: p.Required || p.In == "path"}
		if p.In == "header" {
			cp.Name = strings.ToLower(p.Name)
		}
		if p.Schema != nil {
			s, err := contract.CompileInline(p.Schema)
			if err != nil {
				return nil, fmt.Errorf("parameters[%d].schema: %w", k, err)
			}
			cp.Schema = s
		}
		op.Parameters = append(op.Parameters, cp)
	}
	return op, nil
}

func (v *Validation) clone() *Validation {
	if v == nil {
		return nil
	}
	c := *v
	c.ContentTypes = slices.Clone(v.ContentTypes)
	return &c
}

func (v *OperationValidation) clone() *OperationValidation {
	if v == nil {
		return nil
	}
	c := *v
	c.ContentTypes = slices.Clone(v.ContentTypes)
	c.RequestSchema = cloneValue(v.RequestSchema)
	c.Parameters = slices.Clone(v.Parameters)
	for i := range c.Parameters {
		c.Parameters[i].Schema = cloneValue(c.Parameters[i].Schema)
	}
	if v.ResponseSchemas != nil {
		c.ResponseSchemas = make(map[string]map[string]any, len(v.ResponseSchemas))
		for k, s := range v.ResponseSchemas {
			c.ResponseSchemas[k] = cloneValue(s)
		}
	}
	return &c
}

// cloneValue deep-copies a schema written in YAML.
func cloneValue(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := maps.Clone(m)
	for k, x := range out {
		out[k] = cloneAny(x)
	}
	return out
}

func cloneAny(x any) any {
	switch x := x.(type) {
	case map[string]any:
		return cloneValue(x)
	case []any:
		out := slices.Clone(x)
		for i := range out {
			out[i] = cloneAny(out[i])
		}
		return out
	}
	return x
}

// validation checks the API's validation settings and its operations'
// (field f is the API's).
func (v *validator) validation(f string, a *API) {
	if c := a.Validation; c != nil {
		vf := f + ".validation"
		if c.Mode != "" {
			v.oneOf(vf+".mode", c.Mode, validationModes)
		}
		for _, g := range []struct {
			field string
			value int
			max   int
		}{
			{"max_depth", c.MaxDepth, contract.MaxMaxDepth},
			{"max_keys", c.MaxKeys, 1 << 20},
			{"max_items", c.MaxItems, 1 << 24},
			{"max_string_length", c.MaxStringLength, 1 << 30},
		} {
			if g.value < 0 || g.value > g.max {
				v.add(vf+"."+g.field, fmt.Sprintf("must be from 1 to %d (0 means the default)", g.max), nil)
			}
		}
		v.contentTypes(vf+".content_types", c.ContentTypes)
		if c.Response != "" {
			v.oneOf(vf+".response", c.Response, validationModes)
		}
		if c.Mode == ValidationOff && a.OpenAPI != "" && (c.Response == ValidationEnforce || c.Response == ValidationReport) {
			v.add(vf+".response", "checks nothing from the openapi document while validation.mode is off "+
				"(the document is not compiled): set mode to report or enforce, or response to off", nil)
		}
		if c.ResponseMaxBodyBytes < 0 || c.ResponseMaxBodyBytes > MaxResponseMaxBodyBytes {
			v.add(vf+".response_max_body_bytes", fmt.Sprintf("must be between 0 (1 MiB) and %d", MaxResponseMaxBodyBytes), nil)
		}
	}
	for j := range a.Operations {
		op := &a.Operations[j]
		if op.Validation == nil {
			continue
		}
		v.operationValidation(fmt.Sprintf("%s.operations[%d].validation", f, j), op)
	}
}

func (v *validator) contentTypes(field string, types []string) {
	for k, t := range types {
		tf := fmt.Sprintf("%s[%d]", field, k)
		switch {
		case contract.MediaRangeProblem(t) != "":
			v.add(tf, contract.MediaRangeProblem(t), nil)
		case contains(types[:k], t):
			v.add(tf, fmt.Sprintf("%q is listed twice", t), nil)
		}
	}
}

// operationValidation checks one operation's validation, compiling its
// schemas so that a bad one is refused at load.
func (v *validator) operationValidation(f string, op *Operation) {
	c := op.Validation
	if c.Mode != "" {
		v.oneOf(f+".mode", c.Mode, validationModes)
	}
	v.contentTypes(f+".content_types", c.ContentTypes)
	if c.RequestSchema != nil {
		if _, err := contract.CompileInline(c.RequestSchema); err != nil {
			v.add(f+".request_schema", "does not compile: "+err.Error(), err)
		}
	}
	if c.Response != "" {
		v.oneOf(f+".response", c.Response, validationModes)
	}
	for _, key := range slices.Sorted(maps.Keys(c.ResponseSchemas)) {
		if p := contract.ResponseKeyProblem(key); p != "" {
			v.add(f+".response_schemas", p, nil)
			continue
		}
		if _, err := contract.CompileInline(c.ResponseSchemas[key]); err != nil {
			v.add(fmt.Sprintf("%s.response_schemas.%s", f, key), "does not compile: "+err.Error(), err)
		}
	}
	names := pathNames(op.Path)
	for k, p := range c.Parameters {
		pf := fmt.Sprintf("%s.parameters[%d]", f, k)
		switch {
		case p.Name == "" || strings.IndexFunc(p.Name, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0:
			v.add(pf+".name", "must be non-empty, without spaces or control characters", nil)
		case slices.ContainsFunc(c.Parameters[:k], func(o ValidationParameter) bool {
			return o.In == p.In && (o.Name == p.Name || p.In == "header" && strings.EqualFold(o.Name, p.Name))
		}):
			v.add(pf+".name", fmt.Sprintf("%s parameter %q is listed twice", p.In, p.Name), nil)
		case p.In == "path" && !contains(names, p.Name):
			v.add(pf+".name", fmt.Sprintf("%q is not a {name} of the path %q", p.Name, op.Path), nil)
		}
		v.oneOf(pf+".in", p.In, parameterLocations)
		if p.Schema != nil {
			if _, err := contract.CompileInline(p.Schema); err != nil {
				v.add(pf+".schema", "does not compile: "+err.Error(), err)
			}
		}
	}
}

// pathNames lists the {name} and {name...} wildcards of a path pattern.
func pathNames(path string) []string {
	var names []string
	for seg := range strings.SplitSeq(path, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			names = append(names, strings.TrimSuffix(seg[1:len(seg)-1], "..."))
		}
	}
	return names
}
