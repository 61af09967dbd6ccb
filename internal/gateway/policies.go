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
	for _, rule := range s.rules {
		if !rule.Allow(&in) {
			ex.reason = "policy"
			ex.problem(problemAccessDenied, decisionDenyPolicy)
			return
		}
	}
	s.next.ServeHTTP(w, r)
}

// bodyStep bounds the request body: a declared length over the limit is
// refused at once, an unknown one (chunked) is cut off when it passes it.
type bodyStep struct {
	limit int64
	next  http.Handler
}

func newBodyLimit(c *stepConfig, next http.Handler) (http.Handler, error) {
	return &bodyStep{limit: c.api.maxBody, next: next}, nil
}

func (s *bodyStep) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ex := exchangeOf(w)
	switch {
	case r.ContentLength > s.limit:
		ex.problem(problemTooLarge, decisionTooLarge)
		return
	case r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody:
		// The server's own writer, so an overflow also closes the
		// connection rather than reading the rest.
		r.Body = http.MaxBytesReader(ex.rw, r.Body, s.limit)
	}
	// A known length within the limit needs no wrapper: the server never
	// reads past Content-Length.
	s.next.ServeHTTP(w, r)
}
