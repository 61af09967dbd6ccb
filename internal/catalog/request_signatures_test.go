package catalog

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestValidateRequestSignatures(t *testing.T) {
	off := &RequestSignatures{Mode: RequestSignaturesOff}
	tests := []struct {
		name string
		// api is the API's block; ops those of operations[0] (GET
		// /items) and operations[1] (GET /health, public).
		api, items, health *RequestSignatures
		public             bool     // the whole API
		want               []string // the problems' fields, after "apis[0]."
	}{
		{name: "none"},
		{name: "defaults", api: &RequestSignatures{}, health: off},
		{name: "custom", api: &RequestSignatures{Mode: "require", Label: "sig1", MaxAge: Duration(5 * time.Minute), ClockSkew: Duration(30 * time.Second),
			Components: []string{"@method", "@authority", "@path", "@query", "@scheme", `@query-param;name="id"`, "authorization", "content-type", "content-digest", "date"}},
			health: off},
		{name: "operation only", items: &RequestSignatures{Mode: "require"}},
		{name: "operation overrides", api: &RequestSignatures{}, items: &RequestSignatures{Components: []string{"@method"}, MaxAge: Duration(10 * time.Second)}, health: off},
		{name: "public operation of a signing API", api: &RequestSignatures{}},
		{name: "public operation requires", health: &RequestSignatures{}, want: []string{"operations[1].request_signatures"}},
		{name: "public operation requires what the API does", api: &RequestSignatures{}, health: &RequestSignatures{MaxAge: Duration(time.Minute)}, want: []string{"operations[1].request_signatures"}},
		{name: "public API", public: true, api: &RequestSignatures{}, want: []string{"request_signatures"}},
		{name: "public API, off", public: true, api: off},
		{name: "unknown mode", api: &RequestSignatures{Mode: "enforce"}, health: off, want: []string{"request_signatures.mode"}},
		{name: "off with settings", items: &RequestSignatures{Mode: "off", Label: "x"}, want: []string{"operations[0].request_signatures.mode"}},
		{name: "req component", api: &RequestSignatures{Components: []string{"@method;req"}}, health: off, want: []string{"request_signatures.components[0]"}},
		{name: "status", api: &RequestSignatures{Components: []string{"@status"}}, health: off, want: []string{"request_signatures.components[0]"}},
		{name: "host", api: &RequestSignatures{Components: []string{"host"}}, health: off, want: []string{"request_signatures.components[0]"}},
		{name: "own fields", api: &RequestSignatures{Components: []string{"signature-input"}}, health: off, want: []string{"request_signatures.components[0]"}},
		{name: "unknown component", items: &RequestSignatures{Components: []string{"@request-target"}}, want: []string{"operations[0].request_signatures.components[0]"}},
		{name: "upper case", api: &RequestSignatures{Components: []string{"Authorization"}}, health: off, want: []string{"request_signatures.components[0]"}},
		{name: "twice", api: &RequestSignatures{Components: []string{"@method", "@method"}}, health: off, want: []string{"request_signatures.components[1]"}},
		{name: "max age too long", api: &RequestSignatures{MaxAge: Duration(2 * time.Hour)}, health: off, want: []string{"request_signatures.max_age"}},
		{name: "max age too short", api: &RequestSignatures{MaxAge: Duration(time.Millisecond)}, health: off, want: []string{"request_signatures.max_age"}},
		{name: "negative skew", api: &RequestSignatures{ClockSkew: Duration(-time.Second)}, health: off, want: []string{"request_signatures.clock_skew"}},
		{name: "bad label", api: &RequestSignatures{Label: "Sig"}, health: off, want: []string{"request_signatures.label"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := validSnapshot()
			a := &s.APIs[0]
			if a.Public = tc.public; a.Public {
				a.Operations[0].Scopes = nil
			}
			a.RequestSignatures, a.Operations[0].RequestSignatures, a.Operations[1].RequestSignatures = tc.api, tc.items, tc.health
			var got []string
			for _, p := range s.Problems(Fields{}) {
				got = append(got, strings.TrimPrefix(p.Field, "apis[0]."))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRequestSignaturesFor(t *testing.T) {
	defaults := &RequestSignatures{Mode: "require", Components: DefaultRequestSignatureComponents(),
		MaxAge: Duration(time.Minute), ClockSkew: Duration(5 * time.Second)}
	withOp := func(api, op *RequestSignatures) *RequestSignatures {
		a := &API{RequestSignatures: api}
		return a.RequestSignaturesFor(&Operation{RequestSignatures: op})
	}
	tests := []struct {
		name    string
		api, op *RequestSignatures
		want    *RequestSignatures
	}{
		{"none", nil, nil, nil},
		{"api defaults", &RequestSignatures{}, nil, defaults},
		{"operation defaults", nil, &RequestSignatures{Mode: "require"}, defaults},
		{"operation turns off", &RequestSignatures{}, &RequestSignatures{Mode: "off"}, nil},
		{"api off, operation on", &RequestSignatures{Mode: "off", Label: "a"}, &RequestSignatures{Mode: "require"},
			&RequestSignatures{Mode: "require", Label: "a", Components: DefaultRequestSignatureComponents(), MaxAge: Duration(time.Minute), ClockSkew: Duration(5 * time.Second)}},
		{"field by field", &RequestSignatures{Label: "a", MaxAge: Duration(time.Hour), Components: []string{"@method"}},
			&RequestSignatures{MaxAge: Duration(time.Second), ClockSkew: Duration(time.Second)},
			&RequestSignatures{Mode: "require", Label: "a", MaxAge: Duration(time.Second), ClockSkew: Duration(time.Second), Components: []string{"@method"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, withOp(tc.api, tc.op)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	// An operation of an OpenAPI document has the API's settings.
	a := &API{RequestSignatures: &RequestSignatures{}}
	if diff := cmp.Diff(defaults, a.RequestSignaturesFor(nil)); diff != "" {
		t.Errorf("nil operation (-want +got):\n%s", diff)
	}
	// The result is the caller's to keep.
	got := a.RequestSignaturesFor(nil)
	got.Components[0] = "changed"
	if DefaultRequestSignatureComponents()[0] != "@method" {
		t.Error("editing a result changed the defaults")
	}
}

func TestRequestSignaturesCloneIsDeep(t *testing.T) {
	a := API{RequestSignatures: &RequestSignatures{Components: []string{"x"}},
		Operations: []Operation{{RequestSignatures: &RequestSignatures{Components: []string{"y"}}}}}
	c := a.clone()
	c.RequestSignatures.Components[0], c.Operations[0].RequestSignatures.Components[0] = "changed", "changed"
	if a.RequestSignatures.Components[0] != "x" || a.Operations[0].RequestSignatures.Components[0] != "y" {
		t.Error("editing a clone changed the original")
	}
}
