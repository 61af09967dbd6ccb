package catalog

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/internal/openapi"
)

// exprPosition is how the validator places a problem inside an
// expression (requestRule, fieldCondition).
var exprPosition = regexp.MustCompile(`^line [0-9]+, column [0-9]+: `)

// LimitNames maps each limit name of a snapshot to the field that
// declares it, so that the limits of operations imported from OpenAPI
// documents (which Validate never sees) stay unique across the snapshot
// with them. Check adds the names it accepts.
type LimitNames map[string]string

// LimitNames returns the limit names of s (plans, APIs, declared
// operations), each with its field as Validate names it.
func (s *Snapshot) LimitNames() LimitNames {
	v := &validator{s: s, f: validateFields}
	v.rateLimit()
	return v.names
}

// validateFields are the fields as Validate names them.
var validateFields = Fields{RateLimit: "ratelimit", Within: "the catalog"}

// importedField is where Check has the validator place the imported
// operations ("imported.operations[3].limits[0].rate"), before it names
// them as the document does.
const importedField = "imported"

// Check validates the imported operations as operations of a, an API of
// s, with the checks Validate runs on declared ones (operationChecks),
// and their limits against names (from s.LimitNames; Check adds those it
// accepts). Call ApplyDefaults first, as for Validate. doc is the
// document as the API names it, for the limit names others may clash
// with. Errors are *openapi.Error, one per problem, joined: each names
// the extension and the line ("paths./items.get.x-portcullis-response.
// fields[0].when"), or the operation for what the document says itself.
func (im *OpenAPIImport) Check(s *Snapshot, a *API, doc string, names LimitNames) error {
	v := &validator{s: s, f: validateFields}
	loc := s.Location()
	imp := *a
	imp.Operations = im.Operations
	v.operationChecks(importedField, &imp, loc)
	for j := range im.Operations {
		limits := im.Operations[j].Limits
		v.limits(fmt.Sprintf("%s.operations[%d].limits", importedField, j), limits, false, loc, names)
		// Later operations, and other documents, name these as written.
		for _, l := range limits {
			if f := names[l.Name]; strings.HasPrefix(f, importedField+".") {
				if e := im.locate(f); e != nil {
					names[l.Name] = "openapi " + doc + " " + e.Path
				}
			}
		}
	}
	var errs []error
	for _, fe := range v.errs {
		// The checks of the API's own settings ran again on a copy of
		// it; Validate has reported what they find.
		e := im.locate(fe.Field)
		if e == nil {
			continue
		}
		msg := fe.Msg
		if exprPosition.MatchString(msg) {
			// A policy's or a field rule's compile error: its line and
			// column are the expression's, the error's line the
			// document's.
			msg = "expression " + msg
		}
		e.Msg += msg
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// locate turns a field the validator named under importedField into the
// place in the document it comes from: the extension and the line of the
// part named, or, for what the document says itself, the operation, its
// Msg starting with the field ("path: "). Nil for a field of no
// operation.
func (im *OpenAPIImport) locate(field string) *openapi.Error {
	rest, ok := strings.CutPrefix(field, importedField+".operations[")
	end := strings.IndexByte(rest, ']')
	if !ok || end < 0 {
		return nil
	}
	j, err := strconv.Atoi(rest[:end])
	if err != nil || j < 0 || j >= len(im.Doc.Operations) {
		return nil
	}
	op := &im.Doc.Operations[j]
	rest = strings.TrimPrefix(rest[end+1:], ".") // "response.fields[0].when"
	name, tail := rest, ""
	if i := strings.IndexAny(rest, ".["); i >= 0 {
		name, tail = rest[:i], rest[i:]
	}
	for k := range op.Extensions {
		if e := &op.Extensions[k]; name != "" && e.Name == extensionName(name) {
			return &openapi.Error{Path: e.Path + tail, Line: e.LineAt(tail), Err: openapi.ErrInvalid}
		}
	}
	e := &openapi.Error{Path: op.Location, Line: op.Line, Err: openapi.ErrInvalid}
	if rest != "" {
		e.Msg = rest + ": " // Check adds the problem
	}
	return e
}
