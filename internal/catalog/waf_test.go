package catalog

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestValidateWAF(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Snapshot)
		want string
	}{
		{"defaults", func(s *Snapshot) { s.APIs[0].WAF = &WAF{} }, ""},
		{"full", func(s *Snapshot) {
			s.APIs[0].WAF = &WAF{Mode: WAFDetect, Paranoia: 2, AnomalyThreshold: 10, Exclusions: []int{920350}}
			s.APIs[0].Operations[0].WAF = &OperationWAF{ExcludeRules: []int{942100},
				ExcludeParams: []WAFParamExclusion{{Rule: 941100, Target: "ARGS:json.notes"}, {Rule: 932235, Target: "REQUEST_HEADERS:referer"}}}
		}, ""},
		{"mode", func(s *Snapshot) { s.APIs[0].WAF = &WAF{Mode: "log"} },
			`apis[0].waf.mode: "log" is not one of block, detect`},
		{"paranoia", func(s *Snapshot) { s.APIs[0].WAF = &WAF{Paranoia: 5} },
			`apis[0].waf.paranoia: 5 is not a paranoia level: 1 to 4 (0 means 1)`},
		{"threshold", func(s *Snapshot) { s.APIs[0].WAF = &WAF{AnomalyThreshold: -1} },
			`apis[0].waf.anomaly_threshold: -1 is not 1 to 1000 (0 means 5)`},
		{"exclusion twice", func(s *Snapshot) { s.APIs[0].WAF = &WAF{Exclusions: []int{942100, 942100}} },
			`apis[0].waf.exclusions[1]: 942100 is listed twice`},
		{"exclusion not an id", func(s *Snapshot) { s.APIs[0].WAF = &WAF{Exclusions: []int{0}} },
			`apis[0].waf.exclusions[0]: 0 is not a rule id (1 to 9999999)`},
		{"operation without API WAF", func(s *Snapshot) { s.APIs[0].Operations[0].WAF = &OperationWAF{Off: true} },
			`apis[0].operations[0].waf: tunes a WAF the API does not have: add waf to the API, or remove this`},
		{"off with exclusions", func(s *Snapshot) {
			s.APIs[0].WAF = &WAF{}
			s.APIs[0].Operations[0].WAF = &OperationWAF{Off: true, ExcludeRules: []int{942100}}
		}, `apis[0].operations[0].waf.off: turns inspection off: exclude_rules and exclude_params would do nothing`},
		{"target injection", func(s *Snapshot) {
			s.APIs[0].WAF = &WAF{}
			s.APIs[0].Operations[0].WAF = &OperationWAF{ExcludeParams: []WAFParamExclusion{{Rule: 941100, Target: `ARGS:x" "id:1,deny`}}}
		}, `apis[0].operations[0].waf.exclude_params[0].target: "ARGS:x\" \"id:1,deny" is not COLLECTION or COLLECTION:key such as ARGS:json.notes (ARGS, ARGS_GET, ARGS_POST, ARGS_NAMES, REQUEST_HEADERS, REQUEST_COOKIES, ...; a key of letters, digits and . _ - $ [ ])`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := validSnapshot()
			s.APIs[0].Audiences = []string{"shop"}
			tc.edit(&s)
			got := ""
			if err := s.Validate(); err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("Validate() error =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestCloneWAF(t *testing.T) {
	a := API{WAF: &WAF{Exclusions: []int{1}}, Operations: []Operation{{WAF: &OperationWAF{ExcludeRules: []int{2},
		ExcludeParams: []WAFParamExclusion{{Rule: 3, Target: "ARGS"}}}}}}
	c := a.clone()
	c.WAF.Exclusions[0] = 9
	c.Operations[0].WAF.ExcludeRules[0] = 9
	c.Operations[0].WAF.ExcludeParams[0].Rule = 9
	want := API{WAF: &WAF{Exclusions: []int{1}}, Operations: []Operation{{WAF: &OperationWAF{ExcludeRules: []int{2},
		ExcludeParams: []WAFParamExclusion{{Rule: 3, Target: "ARGS"}}}}}}
	if d := cmp.Diff(want.WAF, a.WAF); d != "" {
		t.Errorf("clone shares the API's WAF (-want +got):\n%s", d)
	}
	if d := cmp.Diff(want.Operations[0].WAF, a.Operations[0].WAF); d != "" {
		t.Errorf("clone shares the operation's WAF (-want +got):\n%s", d)
	}
}
