package catalog

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestValidateResponseRules(t *testing.T) {
	ok := func() ResponseRules {
		return ResponseRules{
			Filter:     `element.doctor_id == claims.sub`,
			FilterPath: "$.patients[*]",
			Fields: []FieldRule{
				{Select: "$.patients[*].ssn", Action: "remove", Unless: `"ssn:read" in claims.scope.split(" ")`},
				{Select: "$.patients[*].diagnosis", Action: "remove", When: `"receptionist" in claims.roles`},
				{Select: "$.patients[*].ssn", Action: "encrypt", KeyEnv: "CLINIC_FIELD_KEY"},
			},
		}
	}
	tests := []struct {
		name string
		edit func(*ResponseRules)
		want []string // the problems' fields, after "apis[0].operations[0].response"
	}{
		{"clinic", func(*ResponseRules) {}, nil},
		{"fields only", func(r *ResponseRules) { r.Filter, r.FilterPath = "", "" }, nil},
		{"empty", func(r *ResponseRules) { *r = ResponseRules{} }, []string{""}},
		{"filter without path", func(r *ResponseRules) { r.FilterPath = "" }, []string{".filter_path"}},
		{"path without filter", func(r *ResponseRules) { r.Filter = "" }, []string{".filter"}},
		{"path not [*]", func(r *ResponseRules) { r.FilterPath = "$.patients" }, []string{".filter_path"}},
		{"filter not bool", func(r *ResponseRules) { r.Filter = "element.doctor_id" }, []string{".filter"}},
		{"bad select", func(r *ResponseRules) { r.Fields[0].Select = "$..ssn" }, []string{".fields[0].select"}},
		{"select not a name", func(r *ResponseRules) { r.Fields[0].Select = "$.patients[*]" }, []string{".fields[0].select"}},
		{"bad action", func(r *ResponseRules) { r.Fields[1].Action = "mask" }, []string{".fields[1].action"}},
		{"bad when", func(r *ResponseRules) { r.Fields[1].When = "claims.roles" }, []string{".fields[1].when"}},
		{"element in unless", func(r *ResponseRules) { r.Fields[0].Unless = "element.x == 1" }, []string{".fields[0].unless"}},
		{"encrypt without key", func(r *ResponseRules) { r.Fields[2].KeyEnv = "" }, []string{".fields[2].key_env"}},
		{"remove with key", func(r *ResponseRules) { r.Fields[0].KeyEnv = "K" }, []string{".fields[0].key_env"}},
		{"negative body", func(r *ResponseRules) { r.MaxBodyBytes = -1 }, []string{".max_body_bytes"}},
		{"api with key id", func(r *ResponseRules) { r.Fields[2].Recipient, r.Fields[2].KeyID = "api", "clinic-2026" }, nil},
		{"key id with space", func(r *ResponseRules) { r.Fields[2].KeyID = "a b" }, []string{".fields[2].key_id"}},
		{"key id too long", func(r *ResponseRules) { r.Fields[2].KeyID = strings.Repeat("k", 129) }, []string{".fields[2].key_id"}},
		{"client", func(r *ResponseRules) { r.Fields[2].Recipient, r.Fields[2].KeyEnv = "client", "" }, nil},
		{"client with key_env", func(r *ResponseRules) { r.Fields[2].Recipient = "client" }, []string{".fields[2].key_env"}},
		{"client with key_id", func(r *ResponseRules) {
			r.Fields[2].Recipient, r.Fields[2].KeyEnv, r.Fields[2].KeyID = "client", "", "k"
		}, []string{".fields[2].key_id"}},
		{"unknown recipient", func(r *ResponseRules) { r.Fields[2].Recipient = "user" }, []string{".fields[2].recipient"}},
		{"remove with recipient", func(r *ResponseRules) { r.Fields[0].Recipient = "client" }, []string{".fields[0].recipient"}},
		{"remove with key id", func(r *ResponseRules) { r.Fields[0].KeyID = "k" }, []string{".fields[0].key_id"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := validSnapshot()
			rr := ok()
			tc.edit(&rr)
			s.APIs[0].Operations[0].Response = &rr
			var got []string
			for _, p := range s.Problems(Fields{}) {
				got = append(got, strings.TrimPrefix(p.Field, "apis[0].operations[0].response"))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateResponseRulesPosition(t *testing.T) {
	s := validSnapshot()
	s.APIs[0].Operations[0].Response = &ResponseRules{Fields: []FieldRule{{Select: "$.a", Action: "remove", When: "claims.x ==="}}}
	ps := s.Problems(Fields{})
	if len(ps) != 1 || !strings.HasPrefix(ps[0].Msg, "line 1, column ") {
		t.Errorf("problems = %v, want one positioned message", ps)
	}
}

func TestCloneResponseRules(t *testing.T) {
	a := API{Operations: []Operation{{Response: &ResponseRules{Fields: []FieldRule{{Select: "$.a"}}}}}}
	c := a.clone()
	c.Operations[0].Response.Fields[0].Select = "$.b"
	c.Operations[0].Response.Filter = "x"
	if got := a.Operations[0].Response; got.Fields[0].Select != "$.a" || got.Filter != "" {
		t.Errorf("clone shares the response rules: %+v", got)
	}
}
