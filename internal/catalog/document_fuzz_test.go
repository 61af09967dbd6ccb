package catalog

import (
	"os"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.yaml.in/yaml/v3"
)

// docSeeds are hand-written documents: every field of a version, plans,
// both kinds of group, times in other zones and with fractions, and the
// YAML a person writes by hand (flow style, anchors, quoting).
var docSeeds = []string{
	"",
	"apis: []\n",
	`apis:
  - name: shop
    version: v2
    base_path: /shop/v2
    upstream: http://shop.internal:8080
    audiences: [shop]
    operations:
      - {method: GET, path: /carts, scopes: [carts]}
    state: published
    owners: [team-shop]
    tags: [commerce]
plans:
  - name: gold
    limits:
      - {name: gold-rate, rate: 100/s}
`,
	`gateway_groups:
  - name: edge
    description: the public edge
api_groups:
  - {name: commerce, apis: [shop, cart]}
apis:
  - name: shop
    base_path: /shop
    upstream: https://shop.internal
    public: true
    state: deprecated
    deprecated: 2026-01-02T03:04:05.123456789+02:00
    sunset: 2027-06-30
    gateways: [default, edge]
    description: "the shop: \"v1\"\nsecond line"
    cors:
      allowed_origins: ["https://app.example"]
      max_age: 10m
    timeouts: {upstream: 1.5s, dial: 250ms}
    limits:
      - name: per-sub
        quota: 1000/day
        key: [sub, "header:X-Tenant"]
        condition: 'claims.office == "regional"'
    response_headers: {remove: [X-Debug], keep: [X-Backend-Id]}
  - &v
    name: cart
    version: "1.0"
    base_path: /cart
    upstream: http://cart
    state: retired
`,
	"apis:\n  - name: x\n    state: draft\n    tags: []\n    owners: [\"\"]\n",
	"apis: [{name: \"ü\\u0085\", base_path: \"/\\t\", upstream: \"\\x7f\"}]\n",
	"plans: [{name: p, limits: []}, {name: q, description: '', limits: [{name: l, rate: 1/s, burst: 9223372036854775807}]}]\n",
	"apis:\n  - name: y\n    deprecated: 0001-01-01T00:00:00Z\n    sunset: 9999-12-31T23:59:59.999999999-23:59\n",
}

// trickyStrings are scalars YAML reads as something other than a string
// unless quoted, or whose characters its emitter treats specially.
var trickyStrings = []string{
	"", " ", "~", "null", "Null", "true", "yes", "on", "0x1f", "1e3", ".inf", "-.nan", "0o17", "012",
	"2026-01-02", "<<", "=", "- x", "? x", ": x", "#x", "x #y", "&a", "*a", "!x", "|", ">", "%x", "@x", "`x",
	"'", "\"", "\\", "\t", "\r", "\r\n", " x", "x ", "\nx", "x\n", "x\n\n", "\u0085", "\u2028", "\u2029",
	"\ufeff", "\u00a0", "\x00", "\x7f", "\xff", "é", "日本", "\U0001F600", "---", "...",
}

// FuzzParseDocument feeds arbitrary bytes to ParseDocument. It must not
// panic, and a document it reads must survive export: Marshal, then
// ParseDocument again, gives the same document, so `portcullis export`
// followed by `portcullis apply` changes nothing. An empty list and a
// missing one are the same document (export leaves empty lists out).
func FuzzParseDocument(f *testing.F) {
	for _, s := range docSeeds {
		f.Add([]byte(s))
	}
	for _, s := range repoSeeds(f) {
		f.Add(s)
	}
	// Strings YAML is known to treat specially, written as any field's
	// value: export must quote them so they read back as strings.
	for _, v := range trickyStrings {
		d := Document{APIs: []VersionEntry{{API: API{Name: v, Version: v, BasePath: v, Policy: v + "\n" + v},
			State: State(v), Description: v + "  \n ", Owners: []string{v}, Gateways: []string{v}}},
			Plans: []PlanEntry{{Name: v, Limits: []Limit{{Name: v, Key: []string{v}}}}}}
		out, err := d.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(out)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseDocument("fuzz.yaml", data)
		if err != nil {
			return
		}
		out, err := d.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed document: %v", err)
		}
		again, err := ParseDocument("export.yaml", out)
		if err != nil {
			t.Fatalf("ParseDocument of its own export: %v\n%s", err, out)
		}
		if diff := cmp.Diff(d, again, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("export does not round-trip (-parsed +re-read):\n%s\nexport:\n%s", diff, out)
		}
	})
}

// repoSeeds are the repository's own examples made into documents: the
// yaml blocks of docs/control-plane.md, and the gateway.apis of the
// example and test configurations (the entry of a stored version is the
// file's API entry).
func repoSeeds(f *testing.F) [][]byte {
	var out [][]byte
	docs, err := os.ReadFile("../../docs/control-plane.md")
	if err != nil {
		f.Fatal(err)
	}
	for _, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(docs, -1) {
		out = append(out, m[1])
	}
	for _, path := range []string{
		"../../examples/warehouse/portcullis.yaml",
		"../config/testdata/valid/gateway.yaml",
		"../config/testdata/valid/full.yaml",
	} {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		var file struct {
			Gateway struct {
				APIs yaml.Node `yaml:"apis"`
			} `yaml:"gateway"`
		}
		if err := yaml.Unmarshal(data, &file); err != nil {
			f.Fatalf("%s: %v", path, err)
		}
		doc, err := yaml.Marshal(map[string]*yaml.Node{"apis": &file.Gateway.APIs})
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, doc)
	}
	return out
}
