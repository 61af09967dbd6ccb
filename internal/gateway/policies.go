package gateway

import (
	"net/http"
	"time"

	"github.com/portcullis/portcullis/internal/policy"
)

// requestRule is what the gateway needs of a compiled policy
// (*policy.RequestRule).
type requestRule interface {
	Allow(in *policy.RequestInput) bool
}

var _ requestRule = (*policy.RequestRule)(nil)

// policyStep evaluates the API's rule, then the operation's; either
// refusing is a 403 access_denied. Public operations run it too, with no
// claims.
type policyStep struct {
	rules []requestRule
	loc   *time.Location
	now   func() time.Time
	next  http.Handler
}

func newPolicy(c *stepConfig, next http.Handler) (http.Handler, error) {
	var rules []requestRule
	if c.api.policy != nil {
		rules = append(rules, c.api.policy)
	}
	if c.op.policy != nil {
		rules = append(rules, c.op.policy)
	}
	if len(rules) == 0 {
		return next, nil
	}
	return &policyStep{rules: rules, loc: c.loc, now: c.now, next: next}, nil
}

func (s *policyStep) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ex := exchangeOf(w)
	in := policy.RequestInput{
		IP:     ex.client,
		Method: r.Method,
		Path:   r.URL.Path,
		Params: ex.paramMap(),
		Header: r.Header,
		Time:   s.now().In(s.loc),
	}
	if ex.verified != nil {
		in.Claims = ex.verified.Claims.Raw
	}
	_, span := ex.child(r.Context(), spanPolicy)
	for _, rule := range s.rules {
		if !rule.Allow(&in) {
			tracePolicy(span, false)
			ex.reason = "policy"
			ex.problem(problemAccessDenied, decisionDenyPolicy)
			return
		}
	}
	tracePolicy(span, true)
	s.next.ServeHTTP(w, r)
}
