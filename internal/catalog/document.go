package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Document is the stored catalog as `portcullis apply` reads it and
// `portcullis export` writes it: API versions, each the same entry as
// one of the configuration's gateway.apis plus its lifecycle state and
// metadata, and plans. Applying a document makes the stored catalog
// equal to it: what it lacks is deleted.
type Document struct {
	APIs  []VersionEntry `yaml:"apis"`
	Plans []PlanEntry    `yaml:"plans,omitempty"`
	// APIGroups bundle APIs by name (for people, the portal and
	// governance); GatewayGroups name the sets of gateways a version can
	// be served on. Both are for the catalog only: the file declares
	// neither.
	APIGroups     []APIGroupEntry     `yaml:"api_groups,omitempty"`
	GatewayGroups []GatewayGroupEntry `yaml:"gateway_groups,omitempty"`
}

// DefaultGatewayGroup is the gateway group of a gateway that names none
// (gateway.group) and of a version that lists none. It exists without
// being declared.
const DefaultGatewayGroup = "default"

// APIGroupEntry is a named set of APIs (by API name, every version).
type APIGroupEntry struct {
	Name        string   `yaml:"name"`
	Description string   `yaml:"description,omitempty"`
	APIs        []string `yaml:"apis"`
}

// GatewayGroupEntry is a named set of gateways: those whose
// gateway.group is its name.
type GatewayGroupEntry struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description,omitempty"`
}

// VersionEntry is one stored API version.
type VersionEntry struct {
	API `yaml:",inline"`
	// State is the version's lifecycle state. Empty means draft.
	State State `yaml:"state"`
	// Deprecated is when the version was (or will be) deprecated,
	// announced in the Deprecation header (RFC 9745) while its state is
	// deprecated. Zero means the moment it becomes deprecated.
	Deprecated time.Time `yaml:"deprecated,omitempty"`
	// Sunset is when the version stops being served, announced in the
	// Sunset header (RFC 8594). Zero means none announced.
	Sunset time.Time `yaml:"sunset,omitempty"`
	// Description, Owners and Tags describe the version for people; the
	// gateway does not read them.
	Description string   `yaml:"description,omitempty"`
	Owners      []string `yaml:"owners,omitempty"`
	Tags        []string `yaml:"tags,omitempty"`
	// Gateways are the gateway groups serving the version (while it is
	// published or deprecated). Empty means the default group only.
	Gateways []string `yaml:"gateways,omitempty"`
}

// ServedBy reports whether gateways of group serve the version (when
// its state is a served one).
func (e *VersionEntry) ServedBy(group string) bool {
	if len(e.Gateways) == 0 {
		return group == DefaultGatewayGroup
	}
	return slices.Contains(e.Gateways, group)
}

// Key names the version: "name version".
func (e *VersionEntry) Key() string { return e.Name + " " + e.Version }

// PlanEntry is one stored plan: a named bundle of limits.
type PlanEntry struct {
	Name        string  `yaml:"name"`
	Description string  `yaml:"description,omitempty"`
	Limits      []Limit `yaml:"limits"`
}

// ParseDocument reads one document; name (a file name) prefixes errors.
// Unknown fields are errors, as in the configuration. An empty input is
// an empty document. A version without a version gets "v1" and one
// without a state "draft", so a document and its export compare equal.
func ParseDocument(name string, data []byte) (Document, error) {
	var d Document
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&d); err != nil && !errors.Is(err, io.EOF) {
		return Document{}, fmt.Errorf("%s: %w", name, err)
	}
	for i := range d.APIs {
		e := &d.APIs[i]
		setString(&e.Version, defaultAPIVersion)
		if e.State == "" {
			e.State = StateDraft
		}
		e.Sunset, e.Deprecated = e.Sunset.UTC(), e.Deprecated.UTC()
		// A time read with a zone offset can land past 9999 in UTC,
		// which RFC 3339 (§5.6: four-digit years) cannot write: export
		// would produce a document that does not read back.
		for _, f := range []struct {
			field string
			t     time.Time
		}{{"deprecated", e.Deprecated}, {"sunset", e.Sunset}} {
			if y := f.t.Year(); y < 0 || y > 9999 {
				return Document{}, fmt.Errorf("%s: apis[%d].%s: %s is outside the years 0000 to 9999 in UTC (RFC 3339 §5.6)",
					name, i, f.field, f.t.Format(time.RFC3339Nano))
			}
		}
	}
	return d, nil
}

// Merge appends o's entries to d (several files make one document).
func (d *Document) Merge(o Document) {
	d.APIs = append(d.APIs, o.APIs...)
	d.Plans = append(d.Plans, o.Plans...)
	d.APIGroups = append(d.APIGroups, o.APIGroups...)
	d.GatewayGroups = append(d.GatewayGroups, o.GatewayGroups...)
}

// Sort orders versions by name and version and plans by name, the order
// export writes.
func (d *Document) Sort() {
	slices.SortFunc(d.APIs, func(a, b VersionEntry) int {
		return strings.Compare(a.Key(), b.Key())
	})
	slices.SortFunc(d.Plans, func(a, b PlanEntry) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(d.APIGroups, func(a, b APIGroupEntry) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(d.GatewayGroups, func(a, b GatewayGroupEntry) int { return strings.Compare(a.Name, b.Name) })
}

// GroupNameProblem says what is wrong with a group name ("" when
// nothing): 1 to 63 lowercase letters, digits and hyphens, starting with
// a letter or digit, so it is safe in a configuration file, a URL path
// and a metric label.
func GroupNameProblem(name string) string {
	if name == "" || len(name) > 63 {
		return "must hold 1 to 63 characters"
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' && i > 0) {
			return fmt.Sprintf("%q may hold only lowercase letters, digits and hyphens, not starting with a hyphen", name)
		}
	}
	return ""
}

// Marshal writes d as YAML that ParseDocument reads back unchanged.
func (d Document) Marshal() ([]byte, error) {
	// Strings the emitter would write as a literal block that does not
	// read back (tabbedBlock) are encoded as placeholders, then written
	// double-quoted in their place. The prefix is one no string of d
	// holds, so every occurrence in the output is a placeholder.
	prefix := "portcullis-held-"
	for anyString(reflect.ValueOf(d), func(s string) bool { return strings.Contains(s, prefix) }) {
		prefix += "x-"
	}
	var held []string
	swapped := mapStrings(reflect.ValueOf(d), func(s string) string {
		if !tabbedBlock(s) {
			return s
		}
		held = append(held, s)
		return prefix + strconv.Itoa(len(held)-1) + "-"
	})
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(swapped.Interface()); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	out := b.Bytes()
	for i, s := range held {
		out = bytes.Replace(out, []byte(prefix+strconv.Itoa(i)+"-"), []byte(doubleQuoted(s)), 1)
	}
	return out, nil
}

// Problems checks what the document itself must hold, before its entries
// are validated as a catalog: known states, no version or plan twice,
// and no file paths (a stored entry is served by gateways that do not
// share the applier's files). Each problem names its field.
func (d *Document) Problems() []string {
	var out []string
	seen := map[string]int{}
	for i, e := range d.APIs {
		f := fmt.Sprintf("apis[%d]", i)
		if !e.State.Valid() {
			out = append(out, fmt.Sprintf("%s.state: %q is not one of draft, published, deprecated, retired", f, e.State))
		}
		if j, ok := seen[e.Key()]; ok {
			out = append(out, fmt.Sprintf("%s: %s %s is also apis[%d]", f, e.Name, e.Version, j))
		}
		seen[e.Key()] = i
		for field, v := range map[string]string{
			"openapi": e.OpenAPI, "tls.ca_file": e.TLS.CAFile, "tls.cert_file": e.TLS.CertFile, "tls.key_file": e.TLS.KeyFile,
		} {
			if v != "" {
				out = append(out, fmt.Sprintf("%s.%s: file paths are not supported in the stored catalog (declare the API in the configuration file instead)", f, field))
			}
		}
	}
	plans := map[string]int{}
	for i, p := range d.Plans {
		if j, ok := plans[p.Name]; ok {
			out = append(out, fmt.Sprintf("plans[%d]: %q is also plans[%d]", i, p.Name, j))
		}
		plans[p.Name] = i
	}
	out = append(out, d.groupProblems()...)
	slices.Sort(out)
	return out
}

// groupProblems checks the groups: valid names, none twice, API groups
// with members, and every gateway group a version names declared (the
// default group needs no declaration).
func (d *Document) groupProblems() []string {
	var out []string
	gateways := map[string]int{}
	for i, g := range d.GatewayGroups {
		f := fmt.Sprintf("gateway_groups[%d]", i)
		if why := GroupNameProblem(g.Name); why != "" {
			out = append(out, fmt.Sprintf("%s.name: %s", f, why))
		}
		if j, ok := gateways[g.Name]; ok {
			out = append(out, fmt.Sprintf("%s: %q is also gateway_groups[%d]", f, g.Name, j))
		}
		gateways[g.Name] = i
	}
	apiGroups := map[string]int{}
	for i, g := range d.APIGroups {
		f := fmt.Sprintf("api_groups[%d]", i)
		if why := GroupNameProblem(g.Name); why != "" {
			out = append(out, fmt.Sprintf("%s.name: %s", f, why))
		}
		if j, ok := apiGroups[g.Name]; ok {
			out = append(out, fmt.Sprintf("%s: %q is also api_groups[%d]", f, g.Name, j))
		}
		apiGroups[g.Name] = i
		if len(g.APIs) == 0 {
			out = append(out, fmt.Sprintf("%s.apis: an API group names at least one API", f))
		}
		seen := map[string]bool{}
		for k, a := range g.APIs {
			if seen[a] {
				out = append(out, fmt.Sprintf("%s.apis[%d]: %q is listed twice", f, k, a))
			}
			seen[a] = true
		}
	}
	for i, e := range d.APIs {
		seen := map[string]bool{}
		for k, g := range e.Gateways {
			f := fmt.Sprintf("apis[%d].gateways[%d]", i, k)
			_, declared := gateways[g]
			switch {
			case seen[g]:
				out = append(out, fmt.Sprintf("%s: %q is listed twice", f, g))
			case g != DefaultGatewayGroup && !declared:
				out = append(out, fmt.Sprintf("%s: gateway group %q is not declared in gateway_groups", f, g))
			}
			seen[g] = true
		}
	}
	return out
}

// tabbedBlock reports a string the emitter writes as a literal block
// whose first line starts with a tab, which the parser then refuses (a
// tab where block indentation is expected; go-yaml issue 383): an
// export holding such a description would not apply again. A string
// that is not UTF-8 is written as !!binary, which reads back.
func tabbedBlock(s string) bool {
	return strings.Contains(s, "\n") && (strings.HasPrefix(s, "\t") || strings.Contains(s, "\n\t")) &&
		utf8.ValidString(s)
}

// doubleQuoted writes s as a YAML double-quoted scalar (YAML 1.2 §5.7
// escapes): line breaks, tabs and every character that is not printable
// escaped, the rest as it is.
func doubleQuoted(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\ufeff' || !unicode.IsPrint(r) && r != ' ':
			if r <= 0xffff {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				fmt.Fprintf(&b, `\U%08x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// mapStrings returns a deep copy of v with f applied to every string
// the YAML encoder would see (exported fields, slice and map elements,
// pointers' targets). Structs with unexported fields (time.Time) are
// copied whole: the encoder writes them through their own methods.
func mapStrings(v reflect.Value, f func(string) string) reflect.Value {
	out := reflect.New(v.Type()).Elem()
	switch v.Kind() {
	case reflect.String:
		out.SetString(f(v.String()))
	case reflect.Pointer:
		if !v.IsNil() {
			p := reflect.New(v.Type().Elem())
			p.Elem().Set(mapStrings(v.Elem(), f))
			out.Set(p)
		}
	case reflect.Slice:
		if !v.IsNil() {
			out.Set(reflect.MakeSlice(v.Type(), v.Len(), v.Len()))
			for i := range v.Len() {
				out.Index(i).Set(mapStrings(v.Index(i), f))
			}
		}
	case reflect.Map:
		if !v.IsNil() {
			out.Set(reflect.MakeMapWithSize(v.Type(), v.Len()))
			for it := v.MapRange(); it.Next(); {
				out.SetMapIndex(mapStrings(it.Key(), f), mapStrings(it.Value(), f))
			}
		}
	case reflect.Struct:
		if !allExported(v.Type()) {
			out.Set(v)
			break
		}
		for i := range v.NumField() {
			out.Field(i).Set(mapStrings(v.Field(i), f))
		}
	default:
		out.Set(v)
	}
	return out
}

// anyString reports whether pred holds for a string mapStrings would
// visit.
func anyString(v reflect.Value, pred func(string) bool) bool {
	found := false
	mapStrings(v, func(s string) string {
		found = found || pred(s)
		return s
	})
	return found
}

func allExported(t reflect.Type) bool {
	for i := range t.NumField() {
		if !t.Field(i).IsExported() {
			return false
		}
	}
	return true
}
