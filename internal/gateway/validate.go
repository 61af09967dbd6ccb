package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/contract"
)

// apiValidation is an API's validation settings with its OpenAPI
// document's contract, compiled once per table.
type apiValidation struct {
	cfg    *catalog.Validation
	mode   string
	guards contract.Guards
	// doc is the compiled document; nil when the API has none or its
	// validation is off.
	doc *contract.Document
}

// newAPIValidation compiles the schemas of doc (the API's OpenAPI
// document, nil when none) unless the API's validation is off: the
// operations imported from it get their contract from it.
func newAPIValidation(c *catalog.API, doc []byte) (*apiValidation, error) {
	v := &apiValidation{cfg: c.Validation, guards: c.Validation.Guards()}
	if c.Validation != nil {
		v.mode = c.Validation.Mode
	}
	if doc != nil && v.mode != catalog.ValidationOff {
		var err error
		if v.doc, err = contract.CompileDocument(doc); err != nil {
			return nil, fmt.Errorf("openapi %s: %w", c.OpenAPI, err)
		}
	}
	return v, nil
}

// validateStep checks a request against its operation's contract:
// parameters, content type, then a JSON body's guards (on the bytes,
// before decoding) and schema.
type validateStep struct {
	op     *contract.Operation
	guards contract.Guards
	report bool
	// anyType accepts every content type (the operation names none);
	// JSON bodies are still guarded.
	anyType bool
	// params locate each parameter: the index of a path wildcard, or the
	// canonical header name.
	pathIndex []int
	headerKey []string
	hasQuery  bool
	// failures counts the requests that broke the contract (nil when
	// metrics are off).
	failures prometheus.Counter
	next     http.Handler
}

// newValidate builds the request validation step: the operation's
// contract and the body guards. An operation without validation returns
// next.
func newValidate(c *stepConfig, next http.Handler) (http.Handler, error) {
	av := c.api.validation
	if av == nil {
		return next, nil
	}
	mode := av.mode
	var op *contract.Operation
	if c.opCfg != nil {
		ov := c.opCfg.Validation
		if ov != nil && ov.Mode != "" {
			mode = ov.Mode
		}
		if mode == catalog.ValidationOff {
			return next, nil
		}
	}
	if c.opCfg != nil && !c.imported {
		var err error
		if op, err = c.opCfg.Validation.Contract(av.cfg); err != nil {
			return nil, err
		}
	} else {
		// An imported operation's contract is its document's; its
		// x-portcullis-validation sets modes only.
		op = av.docOperation(c.op.method, c.op.pattern.raw)
	}
	switch {
	case mode == "" && op.Empty():
		return next, nil
	case mode == "":
		mode = catalog.ValidationEnforce
	case mode == catalog.ValidationOff:
		return next, nil
	}
	s := &validateStep{op: op, guards: av.guards, report: mode == catalog.ValidationReport,
		anyType: len(op.Content) == 0, next: next}
	s.pathIndex = make([]int, len(op.Parameters))
	s.headerKey = make([]string, len(op.Parameters))
	for i, p := range op.Parameters {
		switch p.In {
		case "path":
			s.pathIndex[i] = slices.Index(c.op.pattern.names, p.Name)
			if s.pathIndex[i] < 0 {
				return nil, fmt.Errorf("path parameter %q is not a wildcard of %q", p.Name, c.op.pattern.raw)
			}
		case "header":
			s.headerKey[i] = textproto.CanonicalMIMEHeaderKey(p.Name)
		case "query":
			s.hasQuery = true
		}
	}
	s.failures = c.op.metrics.validationFailures(mode)
	return s, nil
}

// docOperation is the contract the document gives an imported
// operation; the API's content_types, when set, replace the
// document's media types, keeping its schema for a JSON one.
func (v *apiValidation) docOperation(method, path string) *contract.Operation {
	op := v.doc.Operation(method, path)
	if op == nil {
		op = &contract.Operation{}
	}
	if v.cfg == nil || len(v.cfg.ContentTypes) == 0 {
		return op
	}
	c := *op
	c.Content = nil
	for _, t := range v.cfg.ContentTypes {
		entry := contract.Content{Range: t}
		for _, d := range op.Content {
			if d.Range == t || d.Range == "application/json" && isJSONRange(t) {
				entry.Schema = d.Schema
				break
			}
		}
		c.Content = append(c.Content, entry)
	}
	return &c
}

func isJSONRange(t string) bool {
	return t == "application/json" || strings.HasSuffix(t, "+json")
}

func (s *validateStep) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ex := exchangeOf(w)
	var found []contract.Violation
	if len(s.op.Parameters) > 0 {
		found = s.params(ex, r)
	}
	unsupported := false
	if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
		entry, isJSON, ok := s.op.Match(r.Header.Get("Content-Type"))
		switch {
		case s.anyType:
			_, isJSON, _ = anyType.Match(r.Header.Get("Content-Type"))
		case !ok:
			unsupported = true
		}
		if isJSON {
			body, err := readBody(ex, r, ex.api.maxBody)
			if err != nil {
				if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
					ex.problem(problemTooLarge, decisionTooLarge)
					return
				}
				ex.reason = "request body unreadable"
				ex.problem(problemBadRequest, decisionBadRequest)
				return
			}
			found = append(found, s.body(body, entry)...)
		}
	} else if s.op.BodyRequired {
		found = append(found, contract.Violation{In: "body", Message: "a request body is required"})
	}
	if !unsupported && len(found) == 0 {
		s.next.ServeHTTP(w, r)
		return
	}
	if s.failures != nil {
		s.failures.Inc()
	}
	ex.validation = validationOutcome{report: s.report, unsupported: unsupported, count: len(found)}
	if len(found) > 0 {
		ex.validation.first = found[0].InstanceLocation
	}
	if s.report {
		s.next.ServeHTTP(w, r)
		return
	}
	if unsupported {
		ex.reason = "content type not accepted"
		ex.problem(problemUnsupportedMedia, decisionUnsupportedMedia)
		return
	}
	ex.reason = "request breaks the contract"
	ex.problemWith(problemInvalidRequest, decisionInvalidRequest, appendViolations(nil, found))
}

// anyType accepts every content type, for an operation that names none.
var anyType = &contract.Operation{Content: []contract.Content{{Range: "*/*"}}}

// body guards a JSON body, then checks it against the schema.
func (s *validateStep) body(body []byte, entry *contract.Content) []contract.Violation {
	if len(body) == 0 {
		if s.op.BodyRequired {
			return []contract.Violation{{In: "body", Message: "a request body is required"}}
		}
		return nil
	}
	if v := s.guards.Scan(body); v != nil {
		return []contract.Violation{*v}
	}
	if entry == nil || entry.Schema == nil {
		return nil
	}
	doc, err := contract.Decode(body)
	if err != nil {
		// Unreachable: Scan passed it.
		return []contract.Violation{{In: "body", Message: "is not valid JSON"}}
	}
	return entry.Schema.Validate("body", "", doc)
}

// params checks the operation's parameters.
func (s *validateStep) params(ex *exchange, r *http.Request) []contract.Violation {
	var query url.Values
	if s.hasQuery {
		// A query the gateway cannot read is refused here: the upstream
		// could read it otherwise than the check did.
		var err error
		if query, err = url.ParseQuery(r.URL.RawQuery); err != nil {
			return []contract.Violation{{In: "query", Message: "the query string is malformed"}}
		}
	}
	var found []contract.Violation
	for i := range s.op.Parameters {
		p := &s.op.Parameters[i]
		var values []string
		switch p.In {
		case "path":
			values = []string{ex.params[s.pathIndex[i]]}
		case "header":
			values = r.Header[s.headerKey[i]]
		case "query":
			values = query[p.Name]
		}
		found = append(found, p.Check(values)...)
		if len(found) >= contract.MaxViolations {
			return found[:contract.MaxViolations]
		}
	}
	return found
}

// appendViolations writes the "errors" member of an invalid-request
// problem: at most contract.MaxViolations entries.
func appendViolations(b []byte, vs []contract.Violation) []byte {
	if len(vs) > contract.MaxViolations {
		vs = vs[:contract.MaxViolations]
	}
	b = append(b, `,"errors":[`...)
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"in":`...)
		b = strconv.AppendQuote(b, v.In)
		b = append(b, `,"instance_location":`...)
		b = appendJSONString(b, v.InstanceLocation)
		b = append(b, `,"message":`...)
		b = appendJSONString(b, v.Message)
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendJSONString writes s as a JSON string (RFC 8259 §7), escaping
// controls and the characters HTML would read.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < 0x20 || r == '<' || r == '>' || r == '&' || r == 0x2028 || r == 0x2029:
			b = append(b, '\\', 'u', '0', '0', hex[r>>4&0xf], hex[r&0xf])
			if r > 0xff {
				b = append(b[:len(b)-4], hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
			}
		default:
			b = append(b, string(r)...)
		}
	}
	return append(b, '"')
}

// validationOutcome is what the validation step found, for the access
// log.
type validationOutcome struct {
	report, unsupported bool
	count               int
	first               string
}

// attr is the access log's "validation" group; an empty attribute
// (which handlers drop) when the request broke nothing.
func (o *validationOutcome) attr() slog.Attr {
	if o.count == 0 && !o.unsupported {
		return slog.Attr{}
	}
	mode := catalog.ValidationEnforce
	if o.report {
		mode = catalog.ValidationReport
	}
	return slog.Attr{Key: "validation", Value: slog.GroupValue(
		slog.String("mode", mode),
		slog.Int("violations", o.count),
		slog.Bool("unsupported_media_type", o.unsupported),
		slog.String("first", o.first),
	)}
}
