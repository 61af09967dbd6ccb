package openapi

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ExtensionPrefix begins the names of the Specification Extensions
// (OpenAPI 3.1 §4.9) this package keeps: Portcullis's own settings for
// an operation, "x-portcullis-limits" and the like. Other x- members are
// ignored.
const ExtensionPrefix = "x-portcullis-"

// Extension is one x-portcullis-* member of an operation, or of its path
// item, where it is the default for each of the item's operations that
// does not set the same member itself. What a member means is not this
// package's business: it keeps the value as written, with its lines, for
// the catalog to decode.
type Extension struct {
	// Name is the member's name ("x-portcullis-limits").
	Name string
	// Path locates the member, dotted from the document root
	// ("paths./items.get.x-portcullis-limits").
	Path string
	// Line is the 1-based line of the member's name.
	Line int
	// PathItem is true for a member of the path item rather than of the
	// operation.
	PathItem bool
	// Value is the member's value, a node of the document's tree (shared:
	// read it, never change it). It holds no $ref and no merge key;
	// YAML aliases in it are followed by yaml.Node.Decode.
	Value *yaml.Node
}

// LineAt returns the line of the part of Value that rest names, dotted
// and indexed as Path is (".fields[0].when", "[1].name"): the line of
// the deepest part of rest that exists, the member's own line when
// none does.
func (e *Extension) LineAt(rest string) int {
	line, n := e.Line, deref(e.Value)
	for rest != "" && n != nil {
		var next *yaml.Node
		switch {
		case rest[0] == '.' && n.Kind == yaml.MappingNode:
			key, tail := cutKey(rest[1:])
			for i := 0; i+1 < len(n.Content); i += 2 {
				if k := deref(n.Content[i]); k != nil && k.Value == key {
					next, line = n.Content[i+1], k.Line
					break
				}
			}
			rest = tail
		case rest[0] == '[' && n.Kind == yaml.SequenceNode:
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return line
			}
			if i, err := strconv.Atoi(rest[1:end]); err == nil && i >= 0 && i < len(n.Content) {
				next = n.Content[i]
				line = next.Line
			}
			rest = rest[end+1:]
		}
		n = deref(next)
	}
	return line
}

// cutKey splits the first key off a dotted rest ("fields[0].when" is
// "fields" and "[0].when"); a quoted key (see join) is unquoted.
func cutKey(s string) (key, rest string) {
	if strings.HasPrefix(s, `"`) {
		if q, err := strconv.QuotedPrefix(s); err == nil {
			key, _ = strconv.Unquote(q)
			return key, s[len(q):]
		}
	}
	end := strings.IndexAny(s, ".[")
	if end < 0 {
		return s, ""
	}
	return s[:end], s[end:]
}

// extensions collects the x-portcullis-* members of m (an operation or a
// path item), checking each value.
func (p *parser) extensions(m *mapping, pathItem bool) ([]Extension, error) {
	var exts []Extension
	for i, k := range m.keys {
		if !strings.HasPrefix(k.Value, ExtensionPrefix) {
			continue
		}
		loc := join(m.loc, k.Value)
		if err := p.extensionValue(m.vals[i], loc); err != nil {
			return nil, err
		}
		exts = append(exts, Extension{Name: k.Value, Path: loc, Line: k.Line, PathItem: pathItem, Value: m.vals[i]})
	}
	return exts, nil
}

// inherit appends to an operation's own extensions those of its path
// item that it does not set itself.
func inherit(own, item []Extension) []Extension {
	out := own
	for _, e := range item {
		overridden := false
		for _, o := range own {
			overridden = overridden || o.Name == e.Name
		}
		if !overridden {
			out = append(out, e)
		}
	}
	return out
}

// extensionValue checks the value of an extension, counting its nodes
// against the budget (aliases included). The catalog reads it as
// configuration, not as OpenAPI: a $ref in it would not be followed, so
// it is refused rather than left to look like a reference; so are YAML
// merge keys, as everywhere in the document.
func (p *parser) extensionValue(n *yaml.Node, loc string) error {
	n = deref(n)
	if n == nil {
		return nil
	}
	if err := p.visit(1, loc, n.Line); err != nil {
		return err
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := deref(n.Content[i])
			switch {
			case k == nil || k.Kind != yaml.ScalarNode:
				return &Error{Path: loc, Line: n.Content[i].Line, Msg: "keys must be strings", Err: ErrInvalid}
			case k.Tag == "!!merge":
				return &Error{Path: loc, Line: k.Line, Msg: "yaml merge keys (<<) are not supported", Err: ErrInvalid}
			case k.Value == "$ref":
				return p.extensionRef(n.Content[i+1], join(loc, k.Value), k.Line)
			}
			if err := p.extensionValue(n.Content[i+1], join(loc, k.Value)); err != nil {
				return err
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if err := p.extensionValue(c, fmt.Sprintf("%s[%d]", loc, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// extensionRef is the error for a $ref inside an extension: external
// ones are refused as everywhere, internal ones because nothing here
// follows them.
func (p *parser) extensionRef(v *yaml.Node, loc string, line int) error {
	if v = deref(v); v != nil && v.Kind == yaml.ScalarNode && !strings.HasPrefix(v.Value, "#") {
		return &Error{Path: loc, Line: line, Msg: fmt.Sprintf("external reference %s: the importer never fetches", quote(v.Value)), Err: ErrExternalRef}
	}
	return &Error{Path: loc, Line: line, Msg: "$ref is not followed inside x-portcullis extensions: write the value in place", Err: ErrInvalid}
}

// refuseExtensionsAt refuses x-portcullis-* members of m, an object
// where none is read (the document root, paths): an API-wide setting
// there would be ignored without a word.
func refuseExtensionsAt(m *mapping) error {
	for _, k := range m.keys {
		if strings.HasPrefix(k.Value, ExtensionPrefix) {
			return &Error{Path: join(m.loc, k.Value), Line: k.Line, Msg: "x-portcullis extensions are read on path items and operations only; " +
				"the API's own settings belong in its gateway entry", Err: ErrInvalid}
		}
	}
	return nil
}
