package catalog

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const docV1 = `
apis:
  - name: warehouse
    version: v2
    base_path: /warehouse/v2
    upstream: http://127.0.0.1:9000
    audiences: [warehouse]
    operations:
      - {method: GET, path: /items, scopes: [list_items]}
    state: published
    owners: [team-a]
  - name: old
    base_path: /old
    upstream: http://127.0.0.1:9001
    public: true
    operations:
      - {method: GET, path: /x}
plans:
  - name: gold
    limits:
      - {name: gold-rate, rate: 100/s}
`

func mustParse(t *testing.T, s string) Document {
	t.Helper()
	d, err := ParseDocument("test.yaml", []byte(s))
	if err != nil {
		t.Fatalf("ParseDocument: %v", err)
	}
	return d
}

func TestParseDocumentDefaults(t *testing.T) {
	d := mustParse(t, docV1)
	if got := d.APIs[1]; got.Version != "v1" || got.State != StateDraft {
		t.Fatalf("defaults: version %q state %q, want v1 draft", got.Version, got.State)
	}
	if _, err := ParseDocument("bad.yaml", []byte("apis:\n  - name: x\n    stat: draft\n")); err == nil || !strings.Contains(err.Error(), "bad.yaml") {
		t.Fatalf("unknown field: err = %v, want an error naming the file", err)
	}
}

func TestDiff(t *testing.T) {
	cur := mustParse(t, docV1)
	desired := mustParse(t, strings.NewReplacer(
		"state: published", "state: deprecated",
		"scopes: [list_items]", "scopes: [list_items, audit]",
		"  - name: old\n    base_path: /old\n    upstream: http://127.0.0.1:9001\n    public: true\n    operations:\n      - {method: GET, path: /x}\n", "",
	).Replace(docV1)+`
  - name: silver
    limits: []
`)
	got, err := Diff(cur, desired)
	if err != nil {
		t.Fatal(err)
	}
	want := []Change{
		{Kind: Changed, Object: "api", Name: "warehouse v2", Fields: []FieldChange{
			{Field: "operations[0].scopes[1]", New: "audit"},
			{Field: "state", Old: "published", New: "deprecated"},
		}},
		{Kind: Deleted, Object: "api", Name: "old v1"},
		{Kind: Created, Object: "plan", Name: "silver"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("Diff (-want +got):\n%s", d)
	}
	if s := got[0].String(); !strings.Contains(s, "state: published -> deprecated") || !strings.HasPrefix(s, "~ api warehouse v2 (changed)") {
		t.Errorf("String() = %q", s)
	}
}

func TestDocumentRoundTrip(t *testing.T) {
	d := mustParse(t, docV1)
	d.Sort()
	b, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back := mustParse(t, string(b))
	changes, err := Diff(d, back)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 0 {
		t.Fatalf("Diff after a round trip = %v, want none\n%s", changes, b)
	}
}

func TestDocumentProblems(t *testing.T) {
	d := mustParse(t, docV1+`
  - name: gold
    limits: []
`)
	d.APIs = append(d.APIs, d.APIs[0])
	d.APIs[0].State = "live"
	d.APIs[1].OpenAPI = "spec.yaml"
	got := strings.Join(d.Problems(), "\n")
	for _, want := range []string{
		`apis[0].state: "live" is not one of`,
		`apis[2]: warehouse v2 is also apis[0]`,
		`apis[1].openapi: file paths are not supported`,
		`plans[1]: "gold" is also plans[0]`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Problems() lacks %q:\n%s", want, got)
		}
	}
}
