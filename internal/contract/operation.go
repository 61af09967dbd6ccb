package contract

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Operation is what one operation's requests, and its answers, must
// satisfy, compiled once when the gateway builds its routes.
type Operation struct {
	// Content lists the accepted media ranges, each with the schema of
	// a JSON body of that type (nil: the guards only). Empty accepts any
	// content type and checks no body.
	Content []Content
	// BodyRequired refuses a request without a body.
	BodyRequired bool
	// Parameters are checked in order.
	Parameters []Parameter
	// Responses is the contract of the operation's answers; nil when it
	// describes none. Empty and Match ignore it: it is the response
	// validation's.
	Responses *Responses
	// ResponsesErr says why the answers' schemas do not compile; the
	// gateway refuses the operation only when it would check them.
	ResponsesErr error
}

// Content is one accepted media range and its body schema.
type Content struct {
	// Range is "type/subtype", "type/*" or "*/*", in lower case.
	Range string
	// Schema checks a JSON body of this range; nil checks none beyond
	// the guards.
	Schema *Schema
}

// Empty reports whether o checks nothing.
func (o *Operation) Empty() bool {
	return o == nil || len(o.Content) == 0 && !o.BodyRequired && len(o.Parameters) == 0
}

// Match returns the content entry that accepts a Content-Type header
// value (parameters aside; a charset must be UTF-8, RFC 8259 §8.1, for a
// JSON type), and whether the body is JSON. ok is false when none does.
func (o *Operation) Match(contentType string) (c *Content, isJSON, ok bool) {
	mt, params, _ := strings.Cut(contentType, ";")
	mt = strings.TrimSpace(mt)
	typ, sub, found := strings.Cut(mt, "/")
	if !found || typ == "" || sub == "" || strings.ContainsAny(mt, " \t*") {
		return nil, false, false
	}
	isJSON = strings.EqualFold(mt, "application/json") || hasSuffixFold(sub, "+json")
	if isJSON && !utf8Charset(params) {
		return nil, false, false
	}
	for i := range o.Content {
		r := o.Content[i].Range
		rt, rs, _ := strings.Cut(r, "/")
		if (rt == "*" || strings.EqualFold(rt, typ)) && (rs == "*" || strings.EqualFold(rs, sub)) {
			return &o.Content[i], isJSON, true
		}
	}
	return nil, false, false
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}

// utf8Charset reports whether a media type's parameters name no charset
// or UTF-8.
func utf8Charset(params string) bool {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, v, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(k), "charset") {
			v = strings.Trim(strings.TrimSpace(v), `"`)
			if !strings.EqualFold(v, "utf-8") {
				return false
			}
		}
	}
	return true
}

// MediaRangeProblem says what is wrong with an accepted content type of
// a configuration ("application/json", "application/*", "*/*"), or ""
// when nothing is.
func MediaRangeProblem(r string) string {
	typ, sub, ok := strings.Cut(r, "/")
	switch {
	case !ok || typ == "" || sub == "" || strings.ContainsAny(r, " \t;,\"") || strings.Count(r, "/") != 1:
		return fmt.Sprintf("%s is not a media type such as application/json, application/* or */*", excerpt(r))
	case r != strings.ToLower(r):
		return fmt.Sprintf("%s must be lower case", excerpt(r))
	case typ == "*" && sub != "*", strings.Contains(typ, "*") && typ != "*", strings.Contains(sub, "*") && sub != "*":
		return fmt.Sprintf("%s: a wildcard is a whole type or subtype (application/*, */*)", excerpt(r))
	}
	return ""
}

// Parameter is one path, query or header parameter an operation checks.
type Parameter struct {
	Name string
	// In is "path", "query" or "header".
	In       string
	Required bool
	// Schema checks the value; nil checks presence only.
	Schema *Schema
}

// Check validates a parameter's values (none when absent). Its text is
// read as the schema's type says: a number, a boolean, or for an array
// every value given (query, repeated) or the comma-separated items
// (path, header). A scalar given twice is refused, so that the gateway
// and the upstream cannot read different ones.
func (p *Parameter) Check(values []string) []Violation {
	if len(values) == 0 {
		if p.Required {
			return []Violation{{In: p.In, InstanceLocation: p.Name, Message: "required parameter is missing"}}
		}
		return nil
	}
	if p.Schema == nil {
		return nil
	}
	var v any
	switch {
	case p.Schema.kind == "array":
		if p.In != "query" && len(values) == 1 {
			values = strings.Split(values[0], ",")
		}
		items := make([]any, len(values))
		for i, s := range values {
			items[i] = scalar(s, p.Schema.item)
		}
		v = items
	case len(values) > 1:
		return []Violation{{In: p.In, InstanceLocation: p.Name, Message: "must be given once"}}
	default:
		v = scalar(values[0], p.Schema.kind)
	}
	return p.Schema.Validate(p.In, p.Name, v)
}

// scalar reads a parameter's text as kind; text that is not one stays a
// string, for the schema to refuse by its type.
func scalar(s, kind string) any {
	switch kind {
	case "integer", "number":
		if s != "" && (s[0] == '-' || s[0] >= '0' && s[0] <= '9') && s[len(s)-1] >= '0' && s[len(s)-1] <= '9' &&
			(Guards{}).Scan([]byte(s)) == nil {
			return json.Number(s)
		}
	case "boolean":
		switch s {
		case "true":
			return true
		case "false":
			return false
		}
	case "null":
		if s == "" {
			return nil
		}
	}
	return s
}
