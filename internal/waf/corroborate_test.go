package waf

import (
	"slices"
	"strings"
	"testing"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
	"github.com/corazawaf/coraza/v3"
	"github.com/corazawaf/coraza/v3/experimental"
	"github.com/corazawaf/coraza/v3/types"
	"github.com/google/go-cmp/cmp"
)

// Prose each prose-prone rule matches alone (none of it the corpus's).
const (
	// 942360: an SQL keyword after Cyrillic text at a value's start.
	proseSQL = "Доставка завтра. Delete the draft from the list, please."
	// 932235: a command word after a semicolon.
	proseShell = "3 & 4 are the free bays; ping me when done"
)

func TestCorroboration(t *testing.T) {
	w, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, note string
		// rule is the prose-prone rule that matches.
		rule      int
		block     bool
		uncounted []int
	}{
		{"SQL keyword in prose, alone", proseSQL, 942360, false, []int{942360}},
		{"command word in prose, alone", proseShell, 932235, false, []int{932235}},
		{"the same rule with SQL injection around it", "1; drop table users--", 942360, true, nil},
		{"the same rule with a command injection", "; sleep 10", 932235, true, nil},
		{"another family does not corroborate", proseSQL + " <script>alert(1)</script>", 942360, true, []int{942360}},
	} {
		t.Run(c.name, func(t *testing.T) {
			body, query := inspectNote(t, w, c.note)
			for _, v := range []Verdict{body, query} {
				if !slices.Contains(v.Rules, c.rule) {
					t.Fatalf("rules %v, want %d among them", v.Rules, c.rule)
				}
				if v.Interrupted != c.block {
					t.Errorf("interrupted %v, want %v (verdict %+v)", v.Interrupted, c.block, v)
				}
				if diff := cmp.Diff(c.uncounted, v.Uncounted); diff != "" {
					t.Errorf("uncounted (-want +got):\n%s", diff)
				}
				for _, id := range v.Uncounted {
					if !slices.Contains(v.Rules, id) {
						t.Errorf("uncounted rule %d is not among the matched %v", id, v.Rules)
					}
				}
				if !c.block && v.Score != 0 {
					t.Errorf("score %d, want 0: an uncounted rule adds nothing", v.Score)
				}
			}
		})
	}
}

// TestCorroborationKeepsTheThreshold: a corroborated rule adds its whole
// score, so two critical matches reach a threshold of 10.
func TestCorroborationKeepsTheThreshold(t *testing.T) {
	w, err := New(Config{AnomalyThreshold: 10})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := inspectNote(t, w, "; sleep 10")
	if !body.Interrupted || body.Score < 10 || !slices.Contains(body.Rules, 932235) || !slices.Contains(body.Rules, 10143) {
		t.Errorf("verdict %+v, want 932235 and 10143 counted to 10 or more", body)
	}
}

// TestCorroborationExcluded: excluding a family's corroboration rule
// makes its prose-prone rules count alone again.
func TestCorroborationExcluded(t *testing.T) {
	w, err := New(Config{ExcludeRules: []int{corroborationFirstID, corroborationFirstID + 1}})
	if err != nil {
		t.Fatal(err)
	}
	for _, note := range []string{proseSQL, proseShell} {
		if body, _ := inspectNote(t, w, note); !body.Interrupted || body.Uncounted != nil {
			t.Errorf("%q: verdict %+v, want refused with nothing uncounted", note, body)
		}
	}
	// A prose-prone rule an API excludes is gone, tally and all.
	w, err = New(Config{ExcludeRules: []int{942360}})
	if err != nil {
		t.Fatal(err)
	}
	if body, _ := inspectNote(t, w, proseSQL); body.Interrupted || len(body.Rules) != 0 {
		t.Errorf("942360 excluded: verdict %+v, want nothing matched", body)
	}
}

// TestProseProneRules holds the CRS to what the tallies assume: each
// listed rule is loaded at paranoia level 1, critical, and of the
// family its tally names. A CRS upgrade that changes one fails here,
// not silently in the score.
func TestProseProneRules(t *testing.T) {
	files, err := crsFiles()
	if err != nil {
		t.Fatal(err)
	}
	meta := map[int]types.RuleMetadata{}
	cfg := coraza.NewWAFConfig().WithRootFS(coreruleset.FS).
		WithDirectives(requestDirectives(Config{}, 1, DefaultAnomalyThreshold, files))
	cfg = experimental.WAFConfigWithRuleObserver(cfg, func(r types.RuleMetadata) { meta[r.ID()] = r })
	if _, err := coraza.NewWAF(cfg); err != nil {
		t.Fatal(err)
	}
	familyTag := map[string]string{"rce": "attack-rce", "sql_injection": "attack-sqli"}
	for _, r := range proseProne {
		m, ok := meta[r.id]
		switch {
		case !ok:
			t.Errorf("rule %d is not loaded", r.id)
		case m.Severity() != types.RuleSeverityCritical:
			t.Errorf("rule %d is %v, want critical", r.id, m.Severity())
		case !slices.Contains(m.Tags(), "paranoia-level/1"):
			t.Errorf("rule %d tags %v, want paranoia-level/1", r.id, m.Tags())
		case familyTag[r.family] == "" || !slices.Contains(m.Tags(), familyTag[r.family]):
			t.Errorf("rule %d tags %v, want the tag of family %q", r.id, m.Tags(), r.family)
		}
	}
	for i := range proseFamilies {
		if _, ok := meta[corroborationFirstID+i]; !ok {
			t.Errorf("corroboration rule %d is not loaded", corroborationFirstID+i)
		}
	}
	if n := len(proseFamilies); n > 10 {
		t.Errorf("%d families outgrow the ten ids reserved for them", n)
	}
	if s := requestDirectives(Config{}, 1, 5, files); strings.Index(s, "id:10190") > strings.Index(s, "REQUEST-949-") {
		t.Error("the corroboration runs after the blocking evaluation")
	}
}
