package fieldrules

import (
	"bytes"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestElementUse(t *testing.T) {
	tests := []struct {
		expr      string
		wantNames []string
		wantWhole bool
	}{
		{`element.doctor_id == "D-1" || "admin" in claims.scope.split(" ")`, []string{"doctor_id"}, false},
		{`has(element.a) && element.a > 1 && element.b.c == claims.sub`, []string{"a", "b"}, false},
		{`element.tags.exists(t, t == claims.sub)`, []string{"tags"}, false},
		{`size(element) > 0`, nil, true},
		{`element == {"a": 1}`, nil, true},
		{`element["a"] == 1`, nil, true},
		{`"a" in element`, nil, true},
		{`element.a == 1 && [element].size() == 1`, []string{"a"}, true},
		{`{"k": element.a}.k == 1`, []string{"a"}, false},
		// A comprehension's own element is taken for the variable.
		{`[{"a": 1}].exists(element, element.a == 1)`, []string{"a"}, false},
		{`[1].exists(element, element == 1)`, nil, true},
		{`claims.sub == "x"`, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			c, err := compileCondition(tt.expr, true)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantNames, c.names); diff != "" || c.wholeElement != tt.wantWhole {
				t.Errorf("names (-want +got):\n%s whole = %v, want %v", diff, c.wholeElement, tt.wantWhole)
			}
		})
	}
}

// TestApplyConcurrent: rules, the pooled documents and the sealer are
// shared by concurrent responses (run with -race).
func TestApplyConcurrent(t *testing.T) {
	r := mustCompile(t, harnessSpec())
	body := harnessBody()
	want, _, err := r.Apply(body, harnessClaims(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want = unsealAll(t, want, testKey)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				out, _, err := r.Apply(body, harnessClaims(), nil)
				if err != nil {
					t.Error(err)
					return
				}
				if got := unsealAll(t, out, testKey); !bytes.Equal(got, want) {
					t.Errorf("concurrent Apply = %s, want %s", got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestApplyAllocs keeps the rewrite of the harness's response cheap:
// the document is pooled, the filter runs once per doctor, and what
// remains is CEL's own and one string per encrypted field.
func TestApplyAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	r := mustCompile(t, harnessSpec())
	body, claims := harnessBody(), harnessClaims()
	apply := func() {
		if _, _, err := r.Apply(body, claims, nil); err != nil {
			t.Fatal(err)
		}
	}
	apply()
	if n := testing.AllocsPerRun(50, apply); n > 60 {
		t.Errorf("Apply allocates %v times per response, want at most 60", n)
	}
	unchanged := mustCompile(t, Spec{Fields: []FieldSpec{{Select: "$.orders[*].ssn", Action: ActionRemove}}})
	if n := testing.AllocsPerRun(50, func() { _, _, _ = unchanged.Apply(body, claims, nil) }); n > 1 {
		t.Errorf("Apply of an unchanged body allocates %v times, want at most 1 (the body's string)", n)
	}
}
