// Package openapi reads an OpenAPI 3.0 or 3.1 document (YAML or JSON) and
// extracts what the gateway needs to protect an API: its operations
// (method and path template) and the scopes each requires, from the
// security requirements of the operation or, failing that, the document,
// and the x-portcullis-* extensions that configure the rest of each
// operation, kept as written for the catalog to decode.
//
// It never fetches anything: external $refs are refused. It never widens
// access either: an operation is Public only when its document says so
// explicitly, and a document it cannot read completely is refused rather
// than imported in part. It knows nothing of the catalog's model (the
// catalog imports it, never the reverse): an extension's value is a YAML
// node with its lines, not a setting.
package openapi

import (
	"errors"
	"fmt"
	"regexp"

	"go.yaml.in/yaml/v3"
)

// Operation is one method on one path template.
type Operation struct {
	Method string
	// Path is the template as written ("/items/{id}"), relative to the
	// API's base path.
	Path        string
	OperationID string
	// Scopes required: from the first security requirement that names an
	// oauth2 or openIdConnect scheme. Empty when Public, since a call
	// without a token carries no scopes.
	Scopes []string
	// Public is true when the effective security is explicitly empty
	// (security: []) or lists an empty requirement ({}).
	Public bool
	// Location is where the operation is written, dotted from the
	// document root ("paths./items.get"; under the target of a path
	// item's $ref when it has one).
	Location string
	// Line is the 1-based line of the operation's key ("get:").
	Line int
	// Extensions are the operation's x-portcullis-* members, in document
	// order, then those of its path item it does not set itself. Nil
	// when there are none.
	Extensions []Extension
}

// API is what a document declares.
type API struct {
	Title   string
	Version string
	// BasePath is the path of the first server URL ("/warehouse"), empty
	// when there is none.
	BasePath string
	// ServerURL is the first server URL when it is absolute http or
	// https ("https://api.example.com/warehouse"), without query,
	// fragment or trailing slash; empty when there is none or it is
	// relative (the importer cannot know what it is relative to).
	ServerURL  string
	Operations []Operation
}

// MaxDocumentSize is the largest document Parse reads (10 MiB): far above
// any real API description, far below what could exhaust the gateway's
// memory at load.
const MaxDocumentSize = 10 << 20

// The classes of Error, for errors.Is.
var (
	// ErrTooLarge: the document is over MaxDocumentSize.
	ErrTooLarge = errors.New("document too large")
	// ErrVersion: not an OpenAPI 3.0.x or 3.1.x document.
	ErrVersion = errors.New("unsupported openapi version")
	// ErrExternalRef: a $ref points outside the document.
	ErrExternalRef = errors.New("external reference")
	// ErrInvalid: anything else the importer cannot read.
	ErrInvalid = errors.New("invalid document")
)

// Error is a document Parse refuses. Its message names where the problem
// is; it quotes at most a short excerpt of the document.
type Error struct {
	// Path locates the problem, dotted from the document root
	// ("paths./items.get.security[0]"); empty for the whole document.
	Path string
	// Line is the 1-based line in the document, 0 when unknown.
	Line int
	// Msg says what is wrong, in lower case.
	Msg string
	// Err is the class: ErrTooLarge, ErrVersion, ErrExternalRef or
	// ErrInvalid.
	Err error
}

// Error reads "openapi: PATH: MSG (line N)", leaving out what is unknown.
func (e *Error) Error() string {
	s := "openapi: "
	if e.Path != "" {
		s += e.Path + ": "
	}
	s += e.Msg
	if e.Line > 0 {
		s += fmt.Sprintf(" (line %d)", e.Line)
	}
	return s
}

// Unwrap returns the class of the error.
func (e *Error) Unwrap() error { return e.Err }

// versionRE is the openapi field this importer reads: 3.0.x and 3.1.x
// (OpenAPI 3.1 §4.8.1: major.minor.patch).
var versionRE = regexp.MustCompile(`^3\.[01]\.[0-9]+$`)

// Parse reads a document; it refuses versions other than 3.0.x and 3.1.x,
// documents over 10 MiB and external references, with errors naming the
// offending path ("paths./items.get.security: ..."). Errors are *Error.
//
// Servers, parameters and request bodies of path items and operations do
// not change what is imported: BasePath comes from the document's first
// server alone. x-portcullis-* members are kept on operations and path
// items (see Extension) and refused at the document root and under
// paths, where an API-wide setting would go unread.
func Parse(data []byte) (*API, error) {
	if len(data) > MaxDocumentSize {
		return nil, &Error{Msg: fmt.Sprintf("%d bytes is over the limit of %d", len(data), MaxDocumentSize), Err: ErrTooLarge}
	}
	root, err := decode(data)
	if err != nil {
		return nil, err
	}
	p := &parser{root: root, budget: maxVisits}
	return p.parse()
}

// parser holds one Parse call's state.
type parser struct {
	root *yaml.Node
	// budget counts the nodes left to visit. Aliases and $refs let a
	// small document name the same large subtree many times; the budget
	// bounds the work that can cause.
	budget int
	// schemes are components.securitySchemes by name.
	schemes map[string]scheme
	// templates maps each path template, wildcard names left out, to the
	// path that first used it.
	templates map[string]string
}

func (p *parser) parse() (*API, error) {
	doc, err := p.mapping(p.root, "")
	if err != nil {
		return nil, err
	}
	if err := p.version(doc); err != nil {
		return nil, err
	}
	if err := p.refuseExternalRefs(p.root, ""); err != nil {
		return nil, err
	}
	if err := refuseExtensionsAt(doc); err != nil {
		return nil, err
	}
	api := &API{}
	if err := p.info(doc, api); err != nil {
		return nil, err
	}
	if api.BasePath, api.ServerURL, err = p.server(doc); err != nil {
		return nil, err
	}
	if err := p.securitySchemes(doc); err != nil {
		return nil, err
	}
	// The document's requirements apply to every operation without its
	// own (OpenAPI 3.1 §4.8.1 security); nil means none were declared.
	var global *requirements
	if n, ok := doc.get("security"); ok {
		if global, err = p.requirements(n, "security"); err != nil {
			return nil, err
		}
	}
	if api.Operations, err = p.paths(doc, global); err != nil {
		return nil, err
	}
	return api, nil
}

// version checks the openapi field, and names Swagger 2.0 for what it is.
func (p *parser) version(doc *mapping) error {
	if _, ok := doc.get("swagger"); ok {
		return &Error{Msg: "swagger 2.0 documents are not supported: convert it to OpenAPI 3", Err: ErrVersion}
	}
	n, ok := doc.get("openapi")
	if !ok {
		return &Error{Msg: "no openapi field: not an OpenAPI 3 document", Err: ErrVersion}
	}
	v, err := p.scalar(n, "openapi")
	if err != nil {
		return err
	}
	if !versionRE.MatchString(v) {
		return &Error{Path: "openapi", Line: n.Line, Msg: fmt.Sprintf("version %s is not supported, want 3.0.x or 3.1.x", quote(v)), Err: ErrVersion}
	}
	return nil
}

// info reads info.title and info.version; both are optional here, as an
// API without them is still an API.
func (p *parser) info(doc *mapping, api *API) error {
	n, ok := doc.get("info")
	if !ok {
		return nil
	}
	info, err := p.mapping(n, "info")
	if err != nil {
		return err
	}
	if n, ok := info.get("title"); ok {
		if api.Title, err = p.scalar(n, "info.title"); err != nil {
			return err
		}
	}
	if n, ok := info.get("version"); ok {
		if api.Version, err = p.scalar(n, "info.version"); err != nil {
			return err
		}
	}
	return nil
}
