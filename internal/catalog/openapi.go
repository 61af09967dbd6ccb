package catalog

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/portcullis/portcullis/internal/openapi"
)

// OpenAPIImport is what an OpenAPI document gives an API: its operations
// as catalog operations. The document says the method, path template,
// scopes (its security requirements) and whether an operation is public,
// and its request contract (parameters, requestBody, responses), which
// the gateway reads from the document itself; every other field of an
// Operation comes from the operation's x-portcullis-<field> extension,
// <field> being the field's YAML name with "-" for "_"
// ("x-portcullis-response", "x-portcullis-limits"), or from its path
// item's, a default for each operation of the item.
type OpenAPIImport struct {
	// Doc is the document as read.
	Doc *openapi.API
	// Operations are Doc.Operations as catalog operations, in the same
	// order.
	Operations []Operation
}

// ImportOpenAPI reads an OpenAPI 3.0 or 3.1 document (the contents of
// the file an API's OpenAPI field names; reading it is the caller's I/O)
// and decodes each operation's extensions strictly: an unknown
// x-portcullis-* member, or an unknown field in one, is an error, and so
// is an extension for what the document says itself. Errors are
// *openapi.Error, naming where in the document the problem is. What the
// decoded values mean is checked by Check.
func ImportOpenAPI(data []byte) (*OpenAPIImport, error) {
	doc, err := openapi.Parse(data)
	if err != nil {
		return nil, err
	}
	im := &OpenAPIImport{Doc: doc, Operations: make([]Operation, len(doc.Operations))}
	for i, o := range doc.Operations {
		op := &im.Operations[i]
		*op = Operation{Method: o.Method, Path: o.Path, Scopes: o.Scopes, Public: o.Public}
		for k := range o.Extensions {
			if err := decodeExtension(op, &o.Extensions[k]); err != nil {
				return nil, err
			}
		}
	}
	return im, nil
}

// ApplyDefaults fills the zero fields of the operations as
// API.ApplyDefaults does those of declared ones.
func (im *OpenAPIImport) ApplyDefaults() {
	for j := range im.Operations {
		applyLimitDefaults(im.Operations[j].Limits)
	}
}

// extensionField is the field of Operation an extension name stands for
// (one the document says itself included, to refuse it by name).
type extensionField struct {
	// index is the field's in Operation, name its YAML name.
	index int
	name  string
}

// saidByOpenAPI are the Operation fields, and fields of their blocks,
// the document says itself, each with where it says it. An extension
// for one is refused: two sources for one setting would have to be
// reconciled, and the document's security is what its readers trust.
var saidByOpenAPI = map[string]string{
	"method": "the method is the operation's key in its path item",
	"path":   "the path is the key of the operation's path item under paths",
	"scopes": "scopes come from the operation's security requirement",
	"public": "an operation is public when its security requirement is empty (security: [] or [{}])",

	"validation.request_schema":   "the body schema comes from the operation's requestBody",
	"validation.body_required":    "requestBody.required says whether a body is required",
	"validation.content_types":    "media types come from the operation's requestBody content",
	"validation.parameters":       "parameters come from the operation's parameters",
	"validation.response_schemas": "response schemas come from the operation's responses",
}

// operationExtensions maps each extension name to the Operation field it
// sets, from the struct's YAML tags, so that a field added to Operation
// is importable as it is.
var operationExtensions = func() map[string]extensionField {
	t := reflect.TypeFor[Operation]()
	m := map[string]extensionField{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		m[extensionName(name)] = extensionField{index: i, name: name}
	}
	return m
}()

// extensionName is the extension that sets the Operation field of YAML
// name field ("claim_headers" is "x-portcullis-claim-headers").
func extensionName(field string) string {
	return openapi.ExtensionPrefix + strings.ReplaceAll(field, "_", "-")
}

// OpenAPIExtensionField returns the YAML name of the Operation field the
// extension name sets ("x-portcullis-limits": "limits"); false when it
// sets none an extension may set.
func OpenAPIExtensionField(name string) (string, bool) {
	f, ok := operationExtensions[name]
	if !ok || saidByOpenAPI[f.name] != "" {
		return "", false
	}
	return f.name, true
}

// knownExtensions lists the extensions an operation may carry, for the
// message that refuses another.
func knownExtensions() string {
	var names []string
	for name, f := range operationExtensions {
		if saidByOpenAPI[f.name] == "" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// decodeExtension sets the field of op that e names.
func decodeExtension(op *Operation, e *openapi.Extension) error {
	bad := func(path string, line int, msg string) error {
		return &openapi.Error{Path: path, Line: line, Msg: msg, Err: openapi.ErrInvalid}
	}
	f, ok := operationExtensions[e.Name]
	if !ok {
		return bad(e.Path, e.Line, fmt.Sprintf("unknown extension: the x-portcullis extensions of an operation are %s", knownExtensions()))
	}
	if why := saidByOpenAPI[f.name]; why != "" {
		return bad(e.Path, e.Line, "not an extension: "+why)
	}
	if e.PathItem && f.name == "limits" {
		// A limit's name is unique, so the copies a path item would give
		// each of its operations would clash.
		return bad(e.Path, e.Line, "limits are named and names are unique: set them on each operation, with its own names")
	}
	if key := saidInside(f.name, e.Value); key != nil {
		return bad(e.Path+"."+key.Value, key.Line, "not an extension: "+saidByOpenAPI[f.name+"."+key.Value])
	}
	field := reflect.ValueOf(op).Elem().Field(f.index)
	if path, key := unknownField(e.Value, field.Type(), ""); key != nil {
		return bad(e.Path+path, key.Line, "unknown field")
	}
	v := reflect.New(field.Type())
	if err := e.Value.Decode(v.Interface()); err != nil {
		line, msg := decodeError(err)
		if line == 0 {
			line = e.Line
		}
		return bad(e.Path, line, msg)
	}
	field.Set(v.Elem())
	return nil
}

// saidInside returns the first key of the block n (the value of field)
// that names what the document says itself; nil when there is none.
func saidInside(field string, n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i < len(n.Content); i += 2 {
		if saidByOpenAPI[field+"."+n.Content[i].Value] != "" {
			return n.Content[i]
		}
	}
	return nil
}

// yamlUnmarshaler is the interface of types that decode themselves.
var yamlUnmarshaler = reflect.TypeFor[yaml.Unmarshaler]()

// unknownField finds the first mapping key under n that no field of t
// (a struct's, by YAML name) takes, and returns it with its path below
// n (".fields[0].selct"); a nil key when there is none. It is the
// decoder's KnownFields, which yaml.Node.Decode lacks; kinds that do
// not match t are left to Decode to report.
func unknownField(n *yaml.Node, t reflect.Type, at string) (string, *yaml.Node) {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n == nil || reflect.PointerTo(t).Implements(yamlUnmarshaler) {
		return "", nil
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			ft, ok := yamlField(t, k.Value)
			if !ok {
				return at + "." + k.Value, k
			}
			if p, bad := unknownField(n.Content[i+1], ft, at+"."+k.Value); bad != nil {
				return p, bad
			}
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if p, bad := unknownField(n.Content[i+1], t.Elem(), at+"."+n.Content[i].Value); bad != nil {
				return p, bad
			}
		}
	case (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && n.Kind == yaml.SequenceNode:
		for i, c := range n.Content {
			if p, bad := unknownField(c, t.Elem(), fmt.Sprintf("%s[%d]", at, i)); bad != nil {
				return p, bad
			}
		}
	}
	return "", nil
}

// yamlField returns the type of t's field of YAML name name, looking
// into inlined structs as the decoder does.
func yamlField(t reflect.Type, name string) (reflect.Type, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case tag == "-" || !f.IsExported():
		case strings.Contains(opts, "inline") && f.Type.Kind() == reflect.Struct:
			if ft, ok := yamlField(f.Type, name); ok {
				return ft, true
			}
		case tag == name, tag == "" && strings.ToLower(f.Name) == name:
			return f.Type, true
		}
	}
	return nil, false
}

// yamlErrorLine splits the line off one of the decoder's type errors.
var yamlErrorLine = regexp.MustCompile(`^line ([0-9]+): (.*)$`)

// decodeError turns an error of yaml.Node.Decode into one line of
// message and the line it names (0 when none).
func decodeError(err error) (int, string) {
	msg := err.Error()
	if te, ok := errors.AsType[*yaml.TypeError](err); ok && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.Join(strings.Fields(msg), " ")
	if m := yamlErrorLine.FindStringSubmatch(msg); m != nil {
		if line, err := strconv.Atoi(m[1]); err == nil {
			return line, m[2]
		}
	}
	return 0, msg
}
