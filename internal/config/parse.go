package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/portcullis/portcullis/internal/duration"
)

// maxFileSize bounds a configuration file. A real one is a few kilobytes;
// the bound keeps a wrong path (a log, a disk image) from being slurped.
const maxFileSize = 1 << 20

// Load reads, decodes strictly, defaults and validates the file at path.
// Errors name the file, line and field ("portcullis.yaml:12: tokens.access_ttl: ...").
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: read %s: %w", path, err)
	}
	c, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	c.baseDir = dir
	return c, nil
}

// Parse is Load for a file already read; name is used in errors.
//
// The file is read twice: once into a yaml.Node tree, which is checked
// against the Config type for unknown or repeated keys and bad durations
// and which remembers the line of every field for Validate's errors; then
// by a strict decoder (KnownFields) into the Config itself. An empty file
// is the default configuration.
func Parse(name string, data []byte) (*Config, error) {
	if len(data) > maxFileSize {
		return nil, &FieldError{File: name, Msg: fmt.Sprintf("file is larger than %d bytes", maxFileSize)}
	}
	src := &source{name: name, fields: make(map[string]position)}
	root, err := parseTree(name, data)
	if err != nil {
		return nil, err
	}
	c := &Config{}
	if root != nil {
		w := walker{src: src}
		w.walk(root, reflect.TypeFor[Config](), "")
		if len(w.errs) > 0 {
			return nil, errors.Join(w.errs...)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(c); err != nil {
			return nil, src.decodeError(err)
		}
	}
	c.src = src
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// source remembers where each field of a parsed file is.
type source struct {
	name   string
	fields map[string]position
}

// position is where a field's value starts in the file.
type position struct {
	line, column int
	// block reports a literal (|) or folded (>) scalar, whose text
	// starts on the line after the one its key is on.
	block bool
}

// at returns the position of field, if the file set it.
func (s *source) at(field string) (position, bool) {
	if s == nil {
		return position{}, false
	}
	p, ok := s.fields[field]
	return p, ok
}

// parseTree parses data into a node tree and returns its root mapping, or
// nil for an empty document.
func parseTree(name string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, yamlError(name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, yamlError(name, err)
		}
		return nil, &FieldError{File: name, Line: extra.Line, Msg: "a configuration file holds one YAML document, this is a second"}
	}
	root := &doc
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil, nil
		}
		root = doc.Content[0]
	}
	if isNull(root) {
		return nil, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, &FieldError{File: name, Line: root.Line, Msg: "the configuration must be a mapping of field names to values"}
	}
	return root, nil
}

// yamlLine matches the line yaml puts in its messages.
var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlError turns a yaml syntax error into a *FieldError with its line.
func yamlError(name string, err error) error {
	msg := oneLine(strings.TrimPrefix(err.Error(), "yaml: "))
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &FieldError{File: name, Line: line, Msg: m[2], Err: err}
	}
	return &FieldError{File: name, Msg: msg, Err: err}
}

// decodeError places an error of the strict decoder. The tree walk has
// already caught the errors it can name precisely; these are what is left
// (values yaml cannot convert, aliases the walk does not follow).
func (s *source) decodeError(err error) error {
	var ne *duration.NodeError
	if errors.As(err, &ne) {
		return &FieldError{File: s.name, Line: ne.Line, Field: s.fieldAt(ne.Line, ne.Column), Msg: ne.Msg}
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		errs := make([]error, 0, len(te.Errors))
		for _, e := range te.Errors {
			fe := &FieldError{File: s.name, Msg: oneLine(e)}
			if m := yamlLine.FindStringSubmatch(e); m != nil {
				fe.Line, _ = strconv.Atoi(m[1])
				fe.Msg = m[2]
				fe.Field = s.fieldAt(fe.Line, 0)
			}
			errs = append(errs, fe)
		}
		return errors.Join(errs...)
	}
	return &FieldError{File: s.name, Msg: oneLine(strings.TrimPrefix(err.Error(), "yaml: ")), Err: err}
}

// oneLine escapes line breaks and other control characters, so that each
// error stays on its own line.
func oneLine(msg string) string {
	if strings.IndexFunc(msg, unicode.IsControl) < 0 {
		return msg
	}
	var b strings.Builder
	for _, r := range msg {
		if unicode.IsControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// fieldAt names the field whose value is at line (and column, when not
// 0); the deepest one when several share the line.
func (s *source) fieldAt(line, column int) string {
	best := ""
	for f, p := range s.fields {
		if p.line != line || column != 0 && p.column != column {
			continue
		}
		if len(f) > len(best) || len(f) == len(best) && f < best {
			best = f
		}
	}
	return best
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// walker checks a node tree against the Config type and records where
// each field is.
type walker struct {
	src  *source
	errs []error
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

func (w *walker) fail(n *yaml.Node, field, msg string) {
	w.errs = append(w.errs, &FieldError{File: w.src.name, Line: n.Line, Field: field, Msg: msg})
}

// record notes where field's value is: a scalar's own position, or its
// key's line for a mapping or list (whose first line may be far below).
func (w *walker) record(field string, key, value *yaml.Node) {
	p := position{line: key.Line, column: key.Column}
	if value.Kind == yaml.ScalarNode {
		p = position{line: value.Line, column: value.Column, block: value.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0}
	}
	w.src.fields[field] = p
}

// walk checks n against t. Aliases are not followed: yaml's decoder
// expands them with its own bound on aliasing, and re-walking them here
// would undo that bound.
func (w *walker) walk(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind == yaml.AliasNode || isNull(n) {
		return
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		if n.Kind != yaml.ScalarNode {
			w.fail(n, path, duration.MsgNotScalar)
			return
		}
		if _, err := duration.Parse(n.Value); err != nil {
			w.fail(n, path, err.Error())
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		w.walk(n, t.Elem(), path)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			w.fail(n, path, "must be a mapping of fields")
			return
		}
		fields := yamlFields(t)
		w.entries(n, path, func(key string) (reflect.Type, string, bool) {
			f, ok := fields[key]
			if !ok {
				return nil, "unknown field" + suggest(key, fields), false
			}
			return f, "", true
		})
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			w.fail(n, path, "must be a mapping")
			return
		}
		w.entries(n, path, func(string) (reflect.Type, string, bool) { return t.Elem(), "", true })
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.fail(n, path, "must be a list")
			return
		}
		for i, e := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			if isNull(e) {
				// yaml's decoder drops null items, which would shift the
				// index of every item after it away from its line.
				w.fail(e, p, "a list item must not be empty (null)")
				continue
			}
			w.record(p, e, e)
			w.walk(e, t.Elem(), p)
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			w.fail(n, path, "must be a string")
		}
	}
}

// entries walks the pairs of a mapping; lookup gives a key's value type,
// or the message for a key that is not allowed.
func (w *walker) entries(n *yaml.Node, path string, lookup func(string) (reflect.Type, string, bool)) {
	seen := make(map[string]int)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			continue // a merge key (<<: *defaults); yaml's decoder checks it
		}
		if k.Kind != yaml.ScalarNode {
			w.fail(k, path, "keys must be plain names")
			continue
		}
		field := joinPath(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			w.fail(k, field, fmt.Sprintf("set twice (first at line %d)", first))
			continue
		}
		seen[k.Value] = k.Line
		t, msg, ok := lookup(k.Value)
		if !ok {
			w.fail(k, field, msg)
			continue
		}
		w.record(field, k, v)
		w.walk(v, t, field)
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// yamlFields maps the YAML names of t's fields to their types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	fields := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Type
	}
	return fields
}

// suggest proposes the known field closest to a misspelt key.
func suggest(key string, fields map[string]reflect.Type) string {
	best, bestDist := "", 3 // more than two edits away is a different word
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		if d := editDistance(key, name); d < bestDist {
			best, bestDist = name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

// editDistance is the Levenshtein distance of a and b, for suggestions.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64 // no suggestion for a key that long
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
