package gateway

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/internal/catalog"
)

// rewriteStep applies an operation's rewrite: the upstream path from a
// template of the operation's parameters, request headers and query
// parameters edited, headers from claims, and the response's headers
// edited on the way back. It runs last before the proxy, after the
// header step has stripped what clients may not send, so its own
// headers are the ones the upstream sees. Built once per operation; an
// operation without a rewrite does not have the step.
type rewriteStep struct {
	base string // the API's base path, "" for "/"
	// path is the template split into segments; param[i] >= 0 marks a
	// parameter segment (its index in the pattern's names), rest[i] a
	// {name...} one.
	path   []string
	param  []int
	rest   []bool
	req    edits
	query  catalog.HeaderEdits
	resp   edits
	claims map[string]string // canonical header -> claim
	next   http.Handler
}

// edits are header edits with canonical names.
type edits struct {
	remove []string
	rename [][2]string
	set    [][2]string
}

func newEdits(e catalog.HeaderEdits) edits {
	var out edits
	for _, n := range e.Remove {
		out.remove = append(out.remove, http.CanonicalHeaderKey(n))
	}
	for from, to := range e.Rename {
		out.rename = append(out.rename, [2]string{http.CanonicalHeaderKey(from), http.CanonicalHeaderKey(to)})
	}
	for n, v := range e.Set {
		out.set = append(out.set, [2]string{http.CanonicalHeaderKey(n), v})
	}
	return out
}

func (e edits) empty() bool { return len(e.remove)+len(e.rename)+len(e.set) == 0 }

// apply edits h: remove, rename, set.
func (e edits) apply(h http.Header) {
	for _, n := range e.remove {
		delete(h, n)
	}
	for _, r := range e.rename {
		if v, ok := h[r[0]]; ok {
			delete(h, r[0])
			h[r[1]] = v
		}
	}
	for _, s := range e.set {
		h[s[0]] = []string{s[1]}
	}
}

func newRewrite(c *stepConfig, next http.Handler) (http.Handler, error) {
	if c.opCfg == nil || c.opCfg.Rewrite == nil {
		return next, nil
	}
	r := c.opCfg.Rewrite
	s := &rewriteStep{base: c.api.strip, req: newEdits(r.RequestHeaders), query: r.Query, resp: newEdits(r.ResponseHeaders), next: next}
	if r.Path != "" {
		names := c.op.pattern.names
		for _, seg := range strings.Split(strings.TrimPrefix(r.Path, "/"), "/") {
			name, isParam := strings.CutPrefix(seg, "{")
			rest := strings.HasSuffix(name, "...}")
			name = strings.TrimSuffix(strings.TrimSuffix(name, "}"), "...")
			idx := -1
			if isParam {
				for i, n := range names {
					if n == name {
						idx = i
					}
				}
			}
			s.path, s.param, s.rest = append(s.path, seg), append(s.param, idx), append(s.rest, rest)
		}
	}
	if len(r.ClaimHeaders) > 0 {
		s.claims = map[string]string{}
		for h, claim := range r.ClaimHeaders {
			s.claims[http.CanonicalHeaderKey(h)] = claim
		}
	}
	return s, nil
}

func (s *rewriteStep) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ex := exchangeOf(w)
	// A shallow copy with its own URL: the steps that wrap this one
	// (metrics, response rules) keep the URL the client asked for.
	out := *r
	u := *r.URL
	out.URL = &u
	r = &out
	if s.path != nil {
		s.rewritePath(ex, r)
	}
	s.req.apply(r.Header)
	for h, claim := range s.claims {
		delete(r.Header, h) // never the client's
		if v, ok := claimText(ex, claim); ok {
			r.Header[h] = []string{v}
		}
	}
	if len(s.query.Remove)+len(s.query.Rename)+len(s.query.Set) > 0 {
		q := r.URL.Query()
		for _, n := range s.query.Remove {
			q.Del(n)
		}
		for from, to := range s.query.Rename {
			if v, ok := q[from]; ok {
				q.Del(from)
				q[to] = v
			}
		}
		for n, v := range s.query.Set {
			q.Set(n, v)
		}
		r.URL.RawQuery = q.Encode()
	}
	if s.resp.empty() {
		s.next.ServeHTTP(w, r)
		return
	}
	s.next.ServeHTTP(&responseEdits{ResponseWriter: w, e: s.resp}, r)
}

// rewritePath sets the request's path after the base path from the
// template, each parameter's value escaped as a path segment (a
// {name...} value segment by segment), so a value never adds a segment.
func (s *rewriteStep) rewritePath(ex *exchange, r *http.Request) {
	var p, raw strings.Builder
	p.WriteString(s.base)
	raw.WriteString(s.base)
	for i, seg := range s.path {
		p.WriteByte('/')
		raw.WriteByte('/')
		switch {
		case s.param[i] < 0:
			p.WriteString(seg)
			raw.WriteString(seg)
		case s.rest[i]:
			v := ex.params[s.param[i]]
			p.WriteString(v)
			for j, part := range strings.Split(v, "/") {
				if j > 0 {
					raw.WriteByte('/')
				}
				raw.WriteString(url.PathEscape(part))
			}
		default:
			v := ex.params[s.param[i]]
			p.WriteString(v)
			raw.WriteString(url.PathEscape(v))
		}
	}
	r.URL.Path, r.URL.RawPath = p.String(), raw.String()
}

// claimText is a string or number claim of the verified token as a
// header value; anything else, or a value with control characters, is
// absent.
func claimText(ex *exchange, claim string) (string, bool) {
	if ex.verified == nil || ex.verified.Claims == nil {
		return "", false
	}
	switch v := ex.verified.Claims.Raw[claim].(type) {
	case string:
		if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return "", false
		}
		return v, true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	}
	return "", false
}

// responseEdits edits the response's headers when it is written.
type responseEdits struct {
	http.ResponseWriter
	e    edits
	done bool
}

func (w *responseEdits) WriteHeader(code int) {
	if !w.done {
		w.done = true
		w.e.apply(w.Header())
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseEdits) Write(b []byte) (int, error) {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets exchangeOf and http.ResponseController reach the
// exchange (flushes, deadlines, hijacking).
func (w *responseEdits) Unwrap() http.ResponseWriter { return w.ResponseWriter }
