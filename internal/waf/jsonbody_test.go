package waf

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/corazawaf/coraza/v3/collection"
	"github.com/corazawaf/coraza/v3/types"
	"github.com/google/go-cmp/cmp"
)

// args is a collection.Map that keeps what the body processor adds, in
// order, as "name=value".
type args struct{ added []string }

var _ collection.Map = (*args)(nil)

func (a *args) Add(k, v string)                            { a.added = append(a.added, k+"="+v) }
func (a *args) Set(string, []string)                       {}
func (a *args) SetIndex(string, int, string)               {}
func (a *args) Remove(string)                              {}
func (a *args) Get(string) []string                        { return nil }
func (a *args) FindRegex(*regexp.Regexp) []types.MatchData { return nil }
func (a *args) FindString(string) []types.MatchData        { return nil }
func (a *args) FindAll() []types.MatchData                 { return nil }
func (a *args) Name() string                               { return "ARGS_POST" }

// limitFlag is ARGUMENTS_LIMIT_REACHED, settable as Coraza's is.
type limitFlag struct{ v string }

func (l *limitFlag) Get() string                { return l.v }
func (l *limitFlag) Set(v string)               { l.v = v }
func (l *limitFlag) FindAll() []types.MatchData { return nil }
func (l *limitFlag) Name() string               { return "ARGUMENTS_LIMIT_REACHED" }

func flattenText(t *testing.T, body string, depth, maxArgs int) ([]string, string, error) {
	t.Helper()
	var a args
	var l limitFlag
	err := flattenInto(strings.NewReader(body), &a, &l, depth, maxArgs)
	return a.added, l.v, err
}

func TestJSONBodyFlattens(t *testing.T) {
	cases := []struct {
		name, body string
		want       []string
	}{
		{"as Coraza names them", `{"a":{"b":"x"},"items":[1,2.5],"n":null,"t":true,"s":"é\n"}`,
			[]string{"json.a.b=x", "json.items.0=1", "json.items.1=2.5", "json.items=2", "json.n=", "json.t=true", "json.s=é\n"}},
		{"top-level array", `[{"id":"a"},{"id":"b"}]`,
			[]string{"json.0.id=a", "json.1.id=b", "json=2"}},
		{"repeated elements once", `{"lines":[{"sku":"a","qty":2},{"sku":"a","qty":2},{"sku":"b","qty":2}],"qty":2}`,
			[]string{"json.lines.0.sku=a", "json.lines.0.qty=2", "json.lines.2.sku=b", "json.lines=3", "json.qty=2"}},
		{"nested arrays share a shape", `{"m":[[1,1],[1,2]]}`,
			[]string{"json.m.0.0=1", "json.m.0=2", "json.m.1.1=2", "json.m=2"}},
		{"same value under other names kept", `{"a":[{"x":"1"}],"b":[{"x":"1"}]}`,
			[]string{"json.a.0.x=1", "json.a=1", "json.b.0.x=1", "json.b=1"}},
		{"numeric keys are keys, not indices", `{"o":{"0":"v","1":"v"}}`,
			[]string{"json.o.0=v", "json.o.1=v"}},
		{"empty containers are named", `{"user":{"$nin":[]},"meta":{}}`,
			[]string{"json.user.$nin=0", "json.meta="}},
		{"no separator in a key hides a value", `{"u":"x\u0000v","u\u0000x":"v"}`,
			[]string{"json.u=x\x00v", "json.u\x00x=v"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, limit, err := flattenText(t, c.body, 512, 1000)
			if err != nil || limit != "" {
				t.Fatalf("error %v, limit flag %q", err, limit)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("args (-want +got):\n%s", diff)
			}
		})
	}
}

func TestJSONBodyErrors(t *testing.T) {
	// Invalid: an error, and the valid prefix is still inspected.
	got, _, err := flattenText(t, `{"a":"<script>","b":`, 512, 1000)
	if err == nil || !slices.Contains(got, "json.a=<script>") {
		t.Errorf("truncated body: args %q, error %v; want json.a and an error", got, err)
	}
	deep := strings.Repeat("[", 20) + strings.Repeat("]", 20)
	if _, _, err := flattenText(t, deep, 10, 1000); err == nil || !strings.Contains(err.Error(), "recursion") {
		t.Errorf("nesting past the limit: error %v", err)
	}
	// Nesting past the limit behind a truncation is still an error,
	// found without recursion.
	if _, _, err := flattenText(t, `{"a":1,"b":2,"c":`+strings.Repeat("[", 100000)+strings.Repeat("]", 100000)+`}`, 512, 2); err == nil {
		t.Error("deep tail behind the argument limit: no error")
	}
	got, limit, err := flattenText(t, `{"a":1,"b":2,"c":3}`, 512, 2)
	if err != nil || len(got) != 2 || limit != "1" {
		t.Errorf("argument limit: args %q, limit flag %q, error %v", got, limit, err)
	}
	long := `{"` + strings.Repeat("k", 3000) + `":{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12}}`
	if _, _, err := flattenText(t, long, 512, 1000); err == nil || !strings.Contains(err.Error(), "budget") {
		t.Errorf("flattened form past its budget: error %v", err)
	}
}

// TestJSONBodyVerdicts: what the processor changes reaches the rules.
func TestJSONBodyVerdicts(t *testing.T) {
	w, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, body string
		block      bool
	}{
		{"operator with an empty array", `{"user":{"$nin":[]}}`, true},
		{"attack repeated in an array", `{"lines":[{"note":"x"},{"note":"<script>alert(1)</script>"},{"note":"<script>alert(1)</script>"}]}`, true},
		{"benign repeated lines", benchBody, false},
		{"unparsable", `{"a":`, true},
		{"attack behind 1,000 padding values", padded(1000, `<script>alert(1)</script>`), true},
		{"1,000 padding values alone", padded(1000, "last"), true},
		{"900 values", padded(900, "last"), false},
		{"value behind a key holding a separator", `{"u":"x\u0000gopher://127.0.0.1/","u\u0000x":"gopher://127.0.0.1/"}`, true},
	} {
		r := httptest.NewRequest("POST", "/warehouse/orders", strings.NewReader(c.body))
		r.Header.Set("Content-Type", "application/json")
		if v := w.Inspect(Request{HTTP: r, Body: []byte(c.body)}); v.Interrupted != c.block {
			t.Errorf("%s: verdict %+v, want interrupted %v", c.name, v, c.block)
		}
	}
}

// padded is a JSON object of n distinct harmless members and then one
// member holding last.
func padded(n int, last string) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		fmt.Fprintf(&b, `"k%d":"v%d",`, i, i)
	}
	b.WriteString(`"z":`)
	q, _ := json.Marshal(last)
	b.Write(q)
	b.WriteString("}")
	return b.String()
}
