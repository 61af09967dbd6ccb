package contract

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Responses is what an operation's answers must satisfy, by status code:
// the exact code first, then its class (2XX), then default (OpenAPI 3.1
// §4.8.16). It is compiled once, with the operation's request contract.
type Responses struct {
	codes map[int]*Response
	// classes holds 1XX to 5XX at the index of their first digit.
	classes [6]*Response
	other   *Response
	// schemas says some answer has a schema: without one there is
	// nothing to check and no reason to hold a body.
	schemas bool
}

// Response is the contract of the answers of one status key.
type Response struct {
	// Content lists the media ranges the answer may have, each with the
	// schema of a JSON body of that range (nil checks only that such a
	// body is JSON). Empty, with no anyJSON schema, leaves the body
	// undescribed: it is not checked.
	Content []Content
	// anyJSON is the schema of a body of any JSON type (an operation's
	// own response_schemas, which name no media type).
	anyJSON *Schema
}

// For returns the contract of an answer of status: its exact code, its
// class, else default; nil when the operation says nothing of it.
func (rs *Responses) For(status int) *Response {
	if rs == nil {
		return nil
	}
	if r := rs.codes[status]; r != nil {
		return r
	}
	if status >= 100 && status <= 599 {
		if r := rs.classes[status/100]; r != nil {
			return r
		}
	}
	return rs.other
}

// HasSchema reports whether some answer has a schema to check.
func (rs *Responses) HasSchema() bool { return rs != nil && rs.schemas }

// Media is what a response's Content-Type commits its body to.
type Media struct {
	// Declared is false when the answer lists its media types and the
	// Content-Type is none of them (or absent).
	Declared bool
	// JSON says the body must be one JSON value: the type is
	// application/json or a +json type (RFC 6839 §3.1) that the contract
	// declares.
	JSON bool
	// Schema checks a JSON body; nil checks only that it is JSON.
	Schema *Schema
}

// Media returns what contentType (a Content-Type header value, "" when
// absent) commits an answer to. The most specific declared range wins
// (OpenAPI 3.1 §4.8.14): a type, then type/*, then */*. A nil Response,
// or one that describes no content, declares anything and checks
// nothing.
func (r *Response) Media(contentType string) Media {
	if r == nil || len(r.Content) == 0 && r.anyJSON == nil {
		return Media{Declared: true}
	}
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	typ, sub, ok := strings.Cut(mt, "/")
	if !ok || typ == "" || sub == "" || strings.ContainsAny(mt, " \t*") {
		// Only */* accepts an answer without a usable type.
		for i := range r.Content {
			if r.Content[i].Range == "*/*" {
				return Media{Declared: true}
			}
		}
		return Media{}
	}
	isJSON := mt == "application/json" || strings.HasSuffix(sub, "+json")
	best, rank := -1, 0
	for i := range r.Content {
		rt, rs, _ := strings.Cut(r.Content[i].Range, "/")
		n := 0
		switch {
		case rt == typ && rs == sub:
			n = 3
		case rt == typ && rs == "*":
			n = 2
		case rt == "*" && rs == "*":
			n = 1
		}
		if n > rank {
			best, rank = i, n
		}
	}
	switch {
	case rank == 3 && isJSON:
		return Media{Declared: true, JSON: true, Schema: r.Content[best].Schema}
	case isJSON && r.anyJSON != nil:
		return Media{Declared: true, JSON: true, Schema: r.anyJSON}
	case rank > 0:
		// A range (application/*, */*) has no schema of its own to
		// check a JSON body with; the body must still be JSON if its
		// type says so.
		return Media{Declared: true, JSON: isJSON, Schema: r.Content[best].Schema}
	}
	return Media{}
}

// Undeclared is the violation of an answer with a body whose content
// type its status does not declare (contentType is the header's value,
// "" when absent).
func Undeclared(contentType string) Violation {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.TrimSpace(mt)
	if mt == "" {
		return Violation{In: "header", InstanceLocation: "Content-Type", Message: "missing: the answer has a body of no declared type"}
	}
	return Violation{In: "header", InstanceLocation: "Content-Type", Message: excerpt(mt) + " is not declared for this status"}
}

// responseGuards only check that an answer is one well-formed JSON value
// the decoder can hold: the limits on keys, items and strings protect the
// gateway from its clients, not from its upstreams. Depth stays bounded
// because the decoder and the validator recurse once per level.
var responseGuards = Guards{MaxDepth: MaxMaxDepth, MaxKeys: 1 << 30, MaxItems: 1 << 30, MaxStringLength: 1 << 30}

// Check validates a JSON answer's body against m: one well-formed JSON
// value (no duplicate member names, valid UTF-8), then the schema.
// Locations are JSON pointers into the body, cut at maxLocation bytes
// (an answer may nest 1000 levels deep); messages never quote more than
// an excerpt of it.
func (m Media) Check(body []byte) []Violation {
	if v := responseGuards.Scan(body); v != nil {
		return shortLocations([]Violation{*v})
	}
	if m.Schema == nil {
		return nil
	}
	doc, err := Decode(body)
	if err != nil {
		// Unreachable: Scan passed it.
		return []Violation{{In: "body", Message: "is not valid JSON"}}
	}
	return shortLocations(m.Schema.Validate("body", "", doc))
}

// maxLocation bounds a violation's location in an answer, in bytes.
const maxLocation = 256

func shortLocations(vs []Violation) []Violation {
	for i := range vs {
		if loc := vs[i].InstanceLocation; len(loc) > maxLocation {
			n := maxLocation
			for n > 0 && !utf8.RuneStart(loc[n]) {
				n--
			}
			vs[i].InstanceLocation = loc[:n] + "..."
		}
	}
	return vs
}

// responsesBuilder collects an operation's answers by status key.
type responsesBuilder struct {
	rs Responses
}

// ResponseKeyProblem says what is wrong with a status key of a
// configuration's response schemas, or "" when nothing is.
func ResponseKeyProblem(key string) string {
	if _, _, ok := statusKey(key); !ok {
		return excerpt(key) + " is not a status code (100 to 599), a range such as 2XX, or default"
	}
	return ""
}

// add files r under key: a status code (100 to 599), a class (2XX, any
// case) or "default".
func (b *responsesBuilder) add(key string, r *Response) error {
	code, class, ok := statusKey(key)
	if !ok {
		return errors.New(ResponseKeyProblem(key))
	}
	switch {
	case code > 0:
		if b.rs.codes == nil {
			b.rs.codes = map[int]*Response{}
		}
		b.rs.codes[code] = r
	case class > 0:
		b.rs.classes[class] = r
	default:
		b.rs.other = r
	}
	if r.anyJSON != nil || slices.ContainsFunc(r.Content, func(c Content) bool { return c.Schema != nil }) {
		b.rs.schemas = true
	}
	return nil
}

// statusKey reads a key of a Responses Object: code is the status (0 for
// a class or default), class the first digit of a range (0 otherwise).
func statusKey(key string) (code, class int, ok bool) {
	if key == "default" {
		return 0, 0, true
	}
	if len(key) != 3 || key[0] < '1' || key[0] > '5' {
		return 0, 0, false
	}
	if strings.EqualFold(key[1:], "XX") {
		return 0, int(key[0] - '0'), true
	}
	n, err := strconv.Atoi(key)
	if err != nil || key[1] < '0' || key[1] > '9' || key[2] < '0' || key[2] > '9' {
		return 0, 0, false
	}
	return n, 0, true
}

// CompileResponseSchemas compiles an operation's own response schemas,
// written in a configuration: status key ("200", "2XX", "default") to
// the JSON Schema (2020-12 unless its $schema says otherwise) of a body
// of any JSON type. An answer of that status in another type breaks the
// contract. Nil or empty means no contract.
func CompileResponseSchemas(schemas map[string]map[string]any) (*Responses, error) {
	if len(schemas) == 0 {
		return nil, nil
	}
	var b responsesBuilder
	keys := make([]string, 0, len(schemas))
	for k := range schemas {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		s, err := CompileInline(schemas[k])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		if err := b.add(k, &Response{anyJSON: s}); err != nil {
			return nil, err
		}
	}
	return &b.rs, nil
}
