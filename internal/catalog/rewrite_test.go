package catalog

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestValidateRewrite(t *testing.T) {
	tests := []struct {
		name string
		op   Operation
		want []string // the problems' fields, after "apis[0].operations[0].rewrite"
	}{
		{"path of parameters", Operation{Method: "GET", Path: "/items/{id}/{rest...}", Rewrite: &Rewrite{Path: "/v2/things/{id}/{rest...}"}}, nil},
		{"unknown parameter", Operation{Method: "GET", Path: "/items/{id}", Rewrite: &Rewrite{Path: "/v2/{sku}"}}, []string{".path"}},
		{"relative path", Operation{Method: "GET", Path: "/items", Rewrite: &Rewrite{Path: "v2/items"}}, []string{".path"}},
		{"headers", Operation{Method: "GET", Path: "/items", Rewrite: &Rewrite{
			RequestHeaders:  HeaderEdits{Remove: []string{"Cookie"}, Rename: map[string]string{"X-Old": "X-New"}, Set: map[string]string{"X-Api": "v2"}},
			ResponseHeaders: HeaderEdits{Remove: []string{"Server", "X-Powered-By"}},
			Query:           HeaderEdits{Rename: map[string]string{"q": "search"}, Set: map[string]string{"v": "2"}},
			ClaimHeaders:    map[string]string{"X-Tenant": "tenant"},
		}}, nil},
		{"reserved request header", Operation{Method: "GET", Path: "/items", Rewrite: &Rewrite{
			RequestHeaders: HeaderEdits{Set: map[string]string{"authorization": "Bearer x"}}}}, []string{`.request_headers.set["authorization"]`}},
		{"rename onto reserved", Operation{Method: "GET", Path: "/items", Rewrite: &Rewrite{
			RequestHeaders: HeaderEdits{Rename: map[string]string{"X-Me": "X-Forwarded-For"}}}}, []string{`.request_headers.rename["X-Me"]`}},
		{"reserved response header", Operation{Method: "GET", Path: "/items", Rewrite: &Rewrite{
			ResponseHeaders: HeaderEdits{Remove: []string{"Content-Length"}}}}, []string{".response_headers.remove[0]"}},
		{"not a header name", Operation{Method: "GET", Path: "/items", Rewrite: &Rewrite{
			RequestHeaders: HeaderEdits{Remove: []string{"X Bad"}}}}, []string{".request_headers.remove[0]"}},
		{"control in value", Operation{Method: "GET", Path: "/items", Rewrite: &Rewrite{
			RequestHeaders: HeaderEdits{Set: map[string]string{"X-A": "a\r\nX-B: b"}}}}, []string{`.request_headers.set["X-A"]`}},
		{"claim header reserved", Operation{Method: "GET", Path: "/items", Rewrite: &Rewrite{
			ClaimHeaders: map[string]string{"X-Request-Id": "jti"}}}, []string{`.claim_headers["X-Request-Id"]`}},
		{"claim headers on a public operation", Operation{Method: "GET", Path: "/items", Public: true, Rewrite: &Rewrite{
			ClaimHeaders: map[string]string{"X-Tenant": "tenant"}}}, []string{".claim_headers"}},
		{"empty query name", Operation{Method: "GET", Path: "/items", Rewrite: &Rewrite{
			Query: HeaderEdits{Remove: []string{""}}}}, []string{".query.remove[0]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := validSnapshot()
			s.APIs[0].Operations[0] = tc.op
			var got []string
			for _, p := range s.Problems(Fields{}) {
				got = append(got, strings.TrimPrefix(p.Field, "apis[0].operations[0].rewrite"))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRewriteClone(t *testing.T) {
	op := Operation{Method: "GET", Path: "/items", Rewrite: &Rewrite{RequestHeaders: HeaderEdits{Set: map[string]string{"X-A": "1"}}}}
	s := validSnapshot()
	s.APIs[0].Operations[0] = op
	c := s.Clone()
	c.APIs[0].Operations[0].Rewrite.RequestHeaders.Set["X-A"] = "2"
	if s.APIs[0].Operations[0].Rewrite.RequestHeaders.Set["X-A"] != "1" {
		t.Error("a clone's rewrite shares its maps with the original")
	}
}
