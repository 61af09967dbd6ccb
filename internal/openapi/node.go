package openapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// maxVisits bounds the nodes one Parse visits while reading paths and
// security, counting a subtree again each time an alias or $ref names it.
// A real document needs a small fraction of it.
const maxVisits = 1 << 20

// maxRefHops bounds a chain of $refs ($ref to a $ref to ...).
const maxRefHops = 32

// decode reads data as JSON when it is a JSON object, else as YAML, into a
// YAML node tree. JSON gets its own decoder because YAML's rejects some
// valid JSON (escaped surrogate pairs such as "\ud83d\ude00", which
// Python's json module writes for every emoji).
func decode(data []byte) (*yaml.Node, error) {
	body := bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	looksJSON := len(trimmed) > 0 && trimmed[0] == '{'
	if looksJSON && json.Valid(body) {
		return decodeJSON(body)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{Msg: "empty document", Err: ErrInvalid}
		}
		if looksJSON {
			// Neither valid JSON nor YAML; the JSON decoder's complaint
			// is the one a JSON author can act on.
			return nil, jsonError(body)
		}
		return nil, yamlError(err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		// A second document (after ---) would be ignored; one that does not
		// parse, likewise. Either way the file is not what it seems.
		return nil, &Error{Line: next.Line, Msg: "more than one yaml document", Err: ErrInvalid}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, &Error{Msg: "empty document", Err: ErrInvalid}
	}
	return doc.Content[0], nil
}

// yamlLineRE splits the line number off a YAML syntax error.
var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line ([0-9]+): (.*)$`)

// yamlError turns the YAML decoder's error into an *Error with its line.
func yamlError(err error) *Error {
	msg := oneLine(err.Error())
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		if line, err := strconv.Atoi(m[1]); err == nil {
			return &Error{Line: line, Msg: "yaml: " + m[2], Err: ErrInvalid}
		}
	}
	return &Error{Msg: msg, Err: ErrInvalid}
}

// jsonError describes why body is not JSON, with the line of the fault.
func jsonError(body []byte) *Error {
	var v any
	err := json.Unmarshal(body, &v)
	if err == nil {
		return &Error{Msg: "invalid document", Err: ErrInvalid}
	}
	e := &Error{Msg: oneLine(err.Error()), Err: ErrInvalid}
	var se *json.SyntaxError
	if errors.As(err, &se) && se.Offset <= int64(len(body)) {
		e.Line = 1 + bytes.Count(body[:se.Offset], []byte("\n"))
	}
	e.Msg = "json: " + strings.TrimPrefix(e.Msg, "json: ")
	return e
}

// decodeJSON builds the node tree of a JSON document, keeping key order
// and line numbers as YAML's decoder would.
func decodeJSON(data []byte) (*yaml.Node, error) {
	d := &jsonDecoder{dec: json.NewDecoder(bytes.NewReader(data)), data: data, line: 1}
	d.dec.UseNumber()
	tok, err := d.token()
	if err != nil {
		return nil, err
	}
	return d.value(tok)
}

type jsonDecoder struct {
	dec  *json.Decoder
	data []byte
	// line is the line at offset pos.
	line int
	pos  int
}

// token reads the next token and the line it ends on (a JSON token never
// spans lines).
func (d *jsonDecoder) token() (json.Token, error) {
	tok, err := d.dec.Token()
	if err != nil {
		return nil, &Error{Line: d.line, Msg: oneLine(err.Error()), Err: ErrInvalid}
	}
	end := int(d.dec.InputOffset())
	d.line += bytes.Count(d.data[d.pos:end], []byte("\n"))
	d.pos = end
	return tok, nil
}

func (d *jsonDecoder) value(tok json.Token) (*yaml.Node, error) {
	n := &yaml.Node{Line: d.line}
	switch t := tok.(type) {
	case json.Delim:
		n.Kind, n.Tag = yaml.MappingNode, "!!map"
		end := json.Delim('}')
		if t == '[' {
			n.Kind, n.Tag, end = yaml.SequenceNode, "!!seq", ']'
		}
		for {
			tok, err := d.token()
			if err != nil {
				return nil, err
			}
			if tok == end {
				return n, nil
			}
			if n.Kind == yaml.MappingNode {
				key := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: tok.(string), Line: d.line}
				if tok, err = d.token(); err != nil {
					return nil, err
				}
				n.Content = append(n.Content, key)
			}
			v, err := d.value(tok)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, v)
		}
	case string:
		n.Kind, n.Tag, n.Value = yaml.ScalarNode, "!!str", t
	case json.Number:
		n.Kind, n.Tag, n.Value = yaml.ScalarNode, "!!float", t.String()
		if _, err := t.Int64(); err == nil {
			n.Tag = "!!int"
		}
	case bool:
		n.Kind, n.Tag, n.Value = yaml.ScalarNode, "!!bool", strconv.FormatBool(t)
	case nil:
		n.Kind, n.Tag, n.Value = yaml.ScalarNode, "!!null", "null"
	}
	return n, nil
}

// visit spends budget on n nodes.
func (p *parser) visit(n int, loc string, line int) error {
	p.budget -= n
	if p.budget < 0 {
		return &Error{Path: loc, Line: line, Msg: "document too complex: aliases or $refs repeat too much of it", Err: ErrInvalid}
	}
	return nil
}

// deref follows YAML aliases to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxRefHops; i++ {
		n = n.Alias
	}
	return n
}

// mapping is a YAML mapping whose keys are known to be distinct strings.
type mapping struct {
	node *yaml.Node
	loc  string
	keys []*yaml.Node
	vals []*yaml.Node
	idx  map[string]int
}

// get returns the value of key.
func (m *mapping) get(key string) (*yaml.Node, bool) {
	if m.idx == nil {
		for i, k := range m.keys {
			if k.Value == key {
				return m.vals[i], true
			}
		}
		return nil, false
	}
	i, ok := m.idx[key]
	if !ok {
		return nil, false
	}
	return m.vals[i], true
}

// smallMapping is the size up to which a mapping is searched key by key;
// an operation or a requirement has a handful of keys, paths may have
// thousands.
const smallMapping = 16

// mapping reads n as a mapping. Duplicate keys are an error rather than
// last-one-wins, since two security fields for one operation leave its
// protection to the parser's whim; so are YAML merge keys, which would
// let a requirement come from elsewhere unseen.
func (p *parser) mapping(n *yaml.Node, loc string) (*mapping, error) {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, p.wrongKind(n, loc, "an object")
	}
	if err := p.visit(1+len(n.Content)/2, loc, n.Line); err != nil {
		return nil, err
	}
	size := len(n.Content) / 2
	m := &mapping{node: n, loc: loc, keys: make([]*yaml.Node, 0, size), vals: make([]*yaml.Node, 0, size)}
	if size > smallMapping {
		m.idx = make(map[string]int, size)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := deref(n.Content[i])
		if k == nil || k.Kind != yaml.ScalarNode {
			return nil, &Error{Path: loc, Line: n.Content[i].Line, Msg: "keys must be strings", Err: ErrInvalid}
		}
		if k.Tag == "!!merge" {
			return nil, &Error{Path: loc, Line: k.Line, Msg: "yaml merge keys (<<) are not supported", Err: ErrInvalid}
		}
		if _, dup := m.get(k.Value); dup {
			return nil, &Error{Path: join(loc, k.Value), Line: k.Line, Msg: "duplicate key", Err: ErrInvalid}
		}
		if m.idx != nil {
			m.idx[k.Value] = len(m.keys)
		}
		m.keys = append(m.keys, k)
		m.vals = append(m.vals, n.Content[i+1])
	}
	return m, nil
}

// sequence reads n as a sequence.
func (p *parser) sequence(n *yaml.Node, loc string) ([]*yaml.Node, error) {
	n = deref(n)
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil, p.wrongKind(n, loc, "a list")
	}
	if err := p.visit(1+len(n.Content), loc, n.Line); err != nil {
		return nil, err
	}
	return n.Content, nil
}

// scalar reads n as a string, as written ("1.0" stays "1.0").
func (p *parser) scalar(n *yaml.Node, loc string) (string, error) {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", p.wrongKind(n, loc, "a string")
	}
	if err := p.visit(1, loc, n.Line); err != nil {
		return "", err
	}
	return n.Value, nil
}

func (p *parser) wrongKind(n *yaml.Node, loc, want string) error {
	line, got := 0, "nothing"
	if n != nil {
		line = n.Line
		switch n.Kind {
		case yaml.MappingNode:
			got = "an object"
		case yaml.SequenceNode:
			got = "a list"
		case yaml.ScalarNode:
			got = "a scalar"
			if n.Tag == "!!null" {
				got = "null"
			}
		}
	}
	return &Error{Path: loc, Line: line, Msg: fmt.Sprintf("must be %s, not %s", want, got), Err: ErrInvalid}
}

// resolve follows the $ref of a Reference Object (or a Path Item whose
// $ref names its definition) to the node it names inside the document,
// and returns it with its location. A node without $ref is itself.
func (p *parser) resolve(n *yaml.Node, loc string) (*yaml.Node, string, error) {
	for hop := 0; ; hop++ {
		m, err := p.mapping(n, loc)
		if err != nil {
			return nil, "", err
		}
		refNode, ok := m.get("$ref")
		if !ok {
			return n, loc, nil
		}
		if hop == maxRefHops {
			return nil, "", &Error{Path: loc, Line: refNode.Line, Msg: "$ref chain too long or circular", Err: ErrInvalid}
		}
		// OpenAPI 3.1 §4.8.8.1: a Path Item's fields beside $ref have
		// undefined behaviour; reading either half would be a guess.
		// Other extensions are annotations; ours would be settings
		// dropped without a word.
		for _, k := range m.keys {
			if strings.HasPrefix(k.Value, ExtensionPrefix) {
				return nil, "", &Error{Path: join(loc, k.Value), Line: k.Line, Msg: "cannot be combined with $ref: write it where the $ref points", Err: ErrInvalid}
			}
			if k.Value != "$ref" && k.Value != "summary" && k.Value != "description" && !strings.HasPrefix(k.Value, "x-") {
				return nil, "", &Error{Path: join(loc, k.Value), Line: k.Line, Msg: "cannot be combined with $ref", Err: ErrInvalid}
			}
		}
		ref, err := p.scalar(refNode, join(loc, "$ref"))
		if err != nil {
			return nil, "", err
		}
		target, targetLoc, err := p.pointer(ref, join(loc, "$ref"), refNode.Line)
		if err != nil {
			return nil, "", err
		}
		n, loc = target, targetLoc
	}
}

// pointer finds the node a same-document reference ("#/components/...")
// names: a JSON Pointer (RFC 6901) in a URI fragment (RFC 3986 §3.5),
// hence percent-decoded first.
func (p *parser) pointer(ref, loc string, line int) (*yaml.Node, string, error) {
	if !strings.HasPrefix(ref, "#") {
		return nil, "", &Error{Path: loc, Line: line, Msg: fmt.Sprintf("external reference %s: the importer never fetches", quote(ref)), Err: ErrExternalRef}
	}
	frag, err := url.PathUnescape(ref[1:])
	if err != nil || frag == "" || frag[0] != '/' {
		return nil, "", &Error{Path: loc, Line: line, Msg: fmt.Sprintf("reference %s is not a JSON pointer into this document", quote(ref)), Err: ErrInvalid}
	}
	n, at := p.root, ""
	for _, tok := range strings.Split(frag[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		n = deref(n)
		var next *yaml.Node
		switch {
		case n.Kind == yaml.MappingNode:
			m, err := p.mapping(n, at)
			if err != nil {
				return nil, "", err
			}
			next, _ = m.get(tok)
		case n.Kind == yaml.SequenceNode:
			if i, err := strconv.Atoi(tok); err == nil && i >= 0 && i < len(n.Content) && tok == strconv.Itoa(i) {
				next = n.Content[i]
			}
		}
		if next == nil {
			return nil, "", &Error{Path: loc, Line: line, Msg: fmt.Sprintf("reference %s names nothing in the document", quote(ref)), Err: ErrInvalid}
		}
		n, at = next, join(at, tok)
	}
	return n, at, nil
}

// refuseExternalRefs walks the whole document for a $ref that points
// outside it: even where the importer reads nothing (schemas), such a
// document is not self-contained, and importing it would pretend it was.
// Example values are literal data, not references, and are skipped, as
// are extensions (x-...).
func (p *parser) refuseExternalRefs(n *yaml.Node, loc string) error {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			switch {
			case k.Value == "example" || k.Value == "examples" || strings.HasPrefix(k.Value, "x-"):
				continue
			case k.Value == "$ref" && v.Kind == yaml.ScalarNode && !strings.HasPrefix(v.Value, "#"):
				return &Error{Path: join(loc, k.Value), Line: v.Line, Msg: fmt.Sprintf("external reference %s: the importer never fetches", quote(v.Value)), Err: ErrExternalRef}
			}
			if err := p.refuseExternalRefs(v, join(loc, k.Value)); err != nil {
				return err
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if err := p.refuseExternalRefs(c, fmt.Sprintf("%s[%d]", loc, i)); err != nil {
				return err
			}
		}
	}
	// An alias's target is walked where its anchor is.
	return nil
}

// join adds key to a dotted location, showing an awkward key quoted.
func join(loc, key string) string {
	if !isPlain(key) {
		key = quote(key)
	}
	if loc == "" {
		return key
	}
	return loc + "." + key
}

// isPlain reports whether key reads unambiguously in a dotted location.
func isPlain(key string) bool {
	if key == "" || len(key) > 64 {
		return false
	}
	return strings.IndexFunc(key, func(r rune) bool {
		return unicode.IsControl(r) || unicode.IsSpace(r) || r == '"' || r == utf8.RuneError
	}) < 0
}

// quote shows a document value in a message: quoted, on one line, and cut
// short, so an error never carries a large part of the document.
func quote(s string) string {
	const max = 64
	if len(s) <= max {
		return strconv.Quote(s)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "..."
}

// oneLine keeps a decoder's message on one line.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}
