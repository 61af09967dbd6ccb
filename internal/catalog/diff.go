package catalog

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ChangeKind says what applying a document does to one object.
type ChangeKind string

// The kinds of change.
const (
	Created ChangeKind = "created"
	Changed ChangeKind = "changed"
	Deleted ChangeKind = "deleted"
)

// FieldChange is one field whose value differs, in the document's YAML
// paths ("operations[0].scopes[1]") and values; Old or New is empty when
// the field is absent on that side.
type FieldChange struct {
	Field    string
	Old, New string
}

// Change is what applying a document does to one API version or plan.
type Change struct {
	Kind ChangeKind
	// Object is "api", "plan", "api_group" or "gateway_group".
	Object string
	// Name is "name version" for an API version, the name for a plan.
	Name string
	// Fields are the differing fields of a Changed object.
	Fields []FieldChange
}

// String is the change as the apply command shows it, over one or more
// lines.
func (c Change) String() string {
	mark := map[ChangeKind]string{Created: "+", Changed: "~", Deleted: "-"}[c.Kind]
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s (%s)", mark, c.Object, c.Name, c.Kind)
	for _, f := range c.Fields {
		fmt.Fprintf(&b, "\n    %s: %s -> %s", f.Field, show(f.Old), show(f.New))
	}
	return b.String()
}

func show(v string) string {
	if v == "" {
		return "(none)"
	}
	return v
}

// Diff returns what applying desired to a catalog holding current does:
// creations, field-by-field changes and deletions, API versions first,
// each kind in name order. Equal documents give none.
func Diff(current, desired Document) ([]Change, error) {
	var out []Change
	cur := map[string]VersionEntry{}
	for _, e := range current.APIs {
		cur[e.Key()] = e
	}
	want := map[string]bool{}
	for _, e := range desired.APIs {
		want[e.Key()] = true
		old, ok := cur[e.Key()]
		if !ok {
			out = append(out, Change{Kind: Created, Object: "api", Name: e.Key()})
			continue
		}
		fields, err := fieldDiff(old, e)
		if err != nil {
			return nil, err
		}
		if len(fields) > 0 {
			out = append(out, Change{Kind: Changed, Object: "api", Name: e.Key(), Fields: fields})
		}
	}
	for _, e := range current.APIs {
		if !want[e.Key()] {
			out = append(out, Change{Kind: Deleted, Object: "api", Name: e.Key()})
		}
	}
	for _, d := range []func() ([]Change, error){
		func() ([]Change, error) {
			return diffNamed("plan", current.Plans, desired.Plans, func(p PlanEntry) string { return p.Name })
		},
		func() ([]Change, error) {
			return diffNamed("api_group", current.APIGroups, desired.APIGroups, func(g APIGroupEntry) string { return g.Name })
		},
		func() ([]Change, error) {
			return diffNamed("gateway_group", current.GatewayGroups, desired.GatewayGroups, func(g GatewayGroupEntry) string { return g.Name })
		},
	} {
		cs, err := d()
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	order := map[string]int{"api": 0, "plan": 1, "api_group": 2, "gateway_group": 3}
	kinds := map[ChangeKind]int{Created: 0, Changed: 1, Deleted: 2}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if order[a.Object] != order[b.Object] {
			return order[a.Object] < order[b.Object]
		}
		if kinds[a.Kind] != kinds[b.Kind] {
			return kinds[a.Kind] < kinds[b.Kind]
		}
		return a.Name < b.Name
	})
	return out, nil
}

// diffNamed is Diff for objects keyed by a name alone.
func diffNamed[T any](object string, current, desired []T, name func(T) string) ([]Change, error) {
	var out []Change
	cur := map[string]T{}
	for _, o := range current {
		cur[name(o)] = o
	}
	want := map[string]bool{}
	for _, o := range desired {
		want[name(o)] = true
		old, ok := cur[name(o)]
		if !ok {
			out = append(out, Change{Kind: Created, Object: object, Name: name(o)})
			continue
		}
		fields, err := fieldDiff(old, o)
		if err != nil {
			return nil, err
		}
		if len(fields) > 0 {
			out = append(out, Change{Kind: Changed, Object: object, Name: name(o), Fields: fields})
		}
	}
	for _, o := range current {
		if !want[name(o)] {
			out = append(out, Change{Kind: Deleted, Object: object, Name: name(o)})
		}
	}
	return out, nil
}

// fieldDiff compares two values by their YAML form, leaf by leaf.
func fieldDiff(a, b any) ([]FieldChange, error) {
	fa, err := flatten(a)
	if err != nil {
		return nil, err
	}
	fb, err := flatten(b)
	if err != nil {
		return nil, err
	}
	var out []FieldChange
	for k, v := range fa {
		if w := fb[k]; w != v {
			out = append(out, FieldChange{Field: k, Old: v, New: w})
		}
	}
	for k, w := range fb {
		if _, ok := fa[k]; !ok {
			out = append(out, FieldChange{Field: k, New: w})
		}
	}
	slices.SortFunc(out, func(x, y FieldChange) int { return strings.Compare(x.Field, y.Field) })
	return out, nil
}

// flatten maps each non-empty leaf of v's YAML form to its path.
func flatten(v any) (map[string]string, error) {
	b, err := yaml.Marshal(v)
	if err != nil {
		return nil, err
	}
	var n yaml.Node
	if err := yaml.Unmarshal(b, &n); err != nil {
		return nil, err
	}
	out := map[string]string{}
	var walk func(prefix string, n *yaml.Node)
	walk = func(prefix string, n *yaml.Node) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(prefix, c)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i].Value
				if prefix != "" {
					k = prefix + "." + k
				}
				walk(k, n.Content[i+1])
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(fmt.Sprintf("%s[%d]", prefix, i), c)
			}
		case yaml.ScalarNode:
			// Zero values are what an absent field means.
			if n.Tag == "!!null" || n.Value == "" || n.Value == "false" || n.Value == "0" || n.Value == "0s" {
				return
			}
			out[prefix] = n.Value
		}
	}
	walk("", &n)
	return out, nil
}
