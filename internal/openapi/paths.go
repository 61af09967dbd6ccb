package openapi

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// methods are the operation fields of a Path Item Object (OpenAPI 3.0 and
// 3.1 §4.8.9.1), mapped to the HTTP method each stands for.
var methods = map[string]string{
	"get":     "GET",
	"put":     "PUT",
	"post":    "POST",
	"delete":  "DELETE",
	"options": "OPTIONS",
	"head":    "HEAD",
	"patch":   "PATCH",
	"trace":   "TRACE",
}

// pathItemFields are the other fields a Path Item may hold; none changes
// what is imported.
var pathItemFields = map[string]bool{
	"summary":     true,
	"description": true,
	"servers":     true,
	"parameters":  true,
}

// paths reads the operations of every path, in document order. global
// holds the document's security requirements (nil: none declared).
func (p *parser) paths(doc *mapping, global *requirements) ([]Operation, error) {
	n, ok := doc.get("paths")
	if !ok {
		return nil, nil // OpenAPI 3.1 allows a document of webhooks only
	}
	paths, err := p.mapping(n, "paths")
	if err != nil {
		return nil, err
	}
	if err := refuseExtensionsAt(paths); err != nil {
		return nil, err
	}
	p.templates = map[string]string{}
	var ops []Operation
	for i, k := range paths.keys {
		path := k.Value
		if strings.HasPrefix(path, "x-") {
			continue
		}
		loc := join("paths", path)
		if err := p.template(path, loc, k.Line); err != nil {
			return nil, err
		}
		item, itemLoc, err := p.resolve(paths.vals[i], loc)
		if err != nil {
			return nil, err
		}
		if ops, err = p.pathItem(ops, path, item, itemLoc, global); err != nil {
			return nil, err
		}
	}
	return ops, nil
}

// pathItem appends the operations of one Path Item to ops. An unknown
// field is an error: "GET:" instead of "get:" would otherwise leave an
// operation out without a word.
func (p *parser) pathItem(ops []Operation, path string, n *yaml.Node, loc string, global *requirements) ([]Operation, error) {
	item, err := p.mapping(n, loc)
	if err != nil {
		return nil, err
	}
	// The path item's extensions are defaults for its operations, so
	// they are read before any operation, wherever they are written.
	itemExts, err := p.extensions(item, true)
	if err != nil {
		return nil, err
	}
	for i, k := range item.keys {
		method, ok := methods[k.Value]
		if !ok {
			if pathItemFields[k.Value] || strings.HasPrefix(k.Value, "x-") {
				continue
			}
			msg := "unknown path item field"
			if _, isMethod := methods[strings.ToLower(k.Value)]; isMethod {
				msg += " (operation names are lower case)"
			}
			return nil, &Error{Path: join(loc, k.Value), Line: k.Line, Msg: msg, Err: ErrInvalid}
		}
		op, err := p.operation(item.vals[i], join(loc, k.Value), global)
		if err != nil {
			return nil, err
		}
		op.Method, op.Path, op.Line = method, path, k.Line
		op.Extensions = inherit(op.Extensions, itemExts)
		ops = append(ops, op)
	}
	return ops, nil
}

// operation reads one Operation Object: its id, effective security and
// extensions.
func (p *parser) operation(n *yaml.Node, loc string, global *requirements) (Operation, error) {
	m, err := p.mapping(n, loc)
	if err != nil {
		return Operation{}, err
	}
	op := Operation{Location: loc}
	if op.Extensions, err = p.extensions(m, false); err != nil {
		return Operation{}, err
	}
	if idn, ok := m.get("operationId"); ok {
		// Not checked for uniqueness: a path item $ref'd from two paths
		// repeats its ids, and the gateway does not route by them.
		if op.OperationID, err = p.scalar(idn, join(loc, "operationId")); err != nil {
			return Operation{}, err
		}
	}
	// The operation's own security, even an empty list, replaces the
	// document's (OpenAPI 3.1 §4.8.10.1 security).
	reqs := global
	if sn, ok := m.get("security"); ok {
		if reqs, err = p.requirements(sn, join(loc, "security")); err != nil {
			return Operation{}, err
		}
	}
	// No requirement anywhere: OpenAPI would call the operation open, but
	// the gateway admits no call without a token unless told so
	// explicitly, so it needs a token and no scope.
	if reqs != nil {
		op.Public = reqs.public
		op.Scopes = reqs.scopes
	}
	return op, nil
}

// template checks the syntax of a path template (OpenAPI 3.1 §4.8.8.2):
// it starts with "/", its braces pair up without nesting around
// non-empty names, no name appears twice, and it is not the same
// template as an earlier path with the names changed ("/items/{id}" and
// "/items/{itemId}" are one path, which the specification forbids).
func (p *parser) template(path, loc string, line int) error {
	bad := func(why string) error {
		return &Error{Path: loc, Line: line, Msg: "invalid path template: " + why, Err: ErrInvalid}
	}
	if !strings.HasPrefix(path, "/") {
		return bad(`must start with "/"`)
	}
	var shape strings.Builder
	var names []string
	rest := path
	for {
		open := strings.IndexAny(rest, "{}")
		if open < 0 {
			shape.WriteString(rest)
			break
		}
		if rest[open] == '}' {
			return bad(`"}" without "{"`)
		}
		end := strings.IndexAny(rest[open+1:], "{}")
		if end < 0 || rest[open+1+end] == '{' {
			return bad(`"{" without "}"`)
		}
		name := rest[open+1 : open+1+end]
		switch {
		case name == "":
			return bad("empty parameter name {}")
		case strings.Contains(name, "/"):
			return bad(fmt.Sprintf("parameter {%s} spans segments", name))
		case strings.HasSuffix(name, "..."):
			// The gateway reads {name...} as the rest of the path; an
			// OpenAPI parameter matches one segment.
			return bad(fmt.Sprintf("parameter {%s} would match the rest of the path at the gateway", name))
		}
		for _, n := range names {
			if n == name {
				return bad(fmt.Sprintf("parameter {%s} appears twice", name))
			}
		}
		names = append(names, name)
		shape.WriteString(rest[:open])
		shape.WriteString("{}")
		rest = rest[open+1+end+1:]
	}
	key := shape.String()
	if prev, dup := p.templates[key]; dup {
		return bad(fmt.Sprintf("same template as %s with other parameter names", quote(prev)))
	}
	p.templates[key] = path
	return nil
}
