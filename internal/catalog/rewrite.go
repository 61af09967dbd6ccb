package catalog

import (
	"fmt"
	"maps"
	"net/textproto"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/internal/printable"
)

// Rewrite is an operation's transformation of the request it proxies
// and of the response it returns. Identity never travels this way by
// default: the upstream reads it from the signed JWT (DESIGN's trust
// model). Headers from claims are the one exception, and only where
// the operation lists them.
type Rewrite struct {
	// Path replaces the path sent to the upstream after the base path:
	// a template of literal segments and the operation's own {name}
	// parameters ("/v2/items/{id}"). Empty keeps the request's.
	Path string `yaml:"path"`
	// RequestHeaders and ResponseHeaders edit headers; Query edits the
	// query string's parameters.
	RequestHeaders  HeaderEdits `yaml:"request_headers"`
	Query           HeaderEdits `yaml:"query"`
	ResponseHeaders HeaderEdits `yaml:"response_headers"`
	// ClaimHeaders sets request headers from claims of the verified
	// token (header name → claim name, "sub", "tenant"): string and
	// number claims only; a header whose claim is absent is removed, so
	// a client cannot supply it. Only on operations that need a token.
	ClaimHeaders map[string]string `yaml:"claim_headers"`
}

// HeaderEdits are applied in order: remove, rename, set.
type HeaderEdits struct {
	Remove []string          `yaml:"remove"`
	Rename map[string]string `yaml:"rename"`
	Set    map[string]string `yaml:"set"`
}

func (e HeaderEdits) clone() HeaderEdits {
	return HeaderEdits{Remove: slices.Clone(e.Remove), Rename: maps.Clone(e.Rename), Set: maps.Clone(e.Set)}
}

func (r *Rewrite) clone() *Rewrite {
	if r == nil {
		return nil
	}
	c := *r
	c.RequestHeaders = r.RequestHeaders.clone()
	c.Query = r.Query.clone()
	c.ResponseHeaders = r.ResponseHeaders.clone()
	c.ClaimHeaders = maps.Clone(r.ClaimHeaders)
	return &c
}

// reservedRequestHeaders are the gateway's to set: the credential, the
// request id and the forwarding headers, and those of the connection.
var reservedRequestHeaders = []string{
	"Authorization", "X-Request-Id", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded",
	"Host", "Connection", "Upgrade", "Te", "Trailer", "Transfer-Encoding", "Keep-Alive", "Proxy-Authorization",
	"Content-Length", "Content-Encoding",
}

// reservedResponseHeaders are the gateway's announcements and framing.
var reservedResponseHeaders = []string{
	"Content-Length", "Content-Encoding", "Transfer-Encoding", "Connection", "Trailer", "X-Request-Id",
	"Deprecation", "Sunset", "Signature", "Signature-Input", "Content-Digest",
}

// rewrite checks an operation's rewrite (field of is the operation's).
func (v *validator) rewrite(of string, op Operation) {
	r := op.Rewrite
	if r == nil {
		return
	}
	f := of + ".rewrite"
	if r.Path != "" {
		v.rewritePath(f+".path", r.Path, op.Path)
	}
	v.headerEdits(f+".request_headers", r.RequestHeaders, reservedRequestHeaders, true)
	v.headerEdits(f+".response_headers", r.ResponseHeaders, reservedResponseHeaders, true)
	v.headerEdits(f+".query", r.Query, nil, false)
	for _, h := range slices.Sorted(maps.Keys(r.ClaimHeaders)) {
		hf := fmt.Sprintf("%s.claim_headers[%q]", f, h)
		v.headerName(hf, h, reservedRequestHeaders)
		if c := r.ClaimHeaders[h]; c == "" || printable.HasControl(c) {
			v.add(hf, "names a claim: not empty, no control characters", nil)
		}
	}
	if len(r.ClaimHeaders) > 0 && op.Public {
		v.add(f+".claim_headers", "a public operation is called without a token: there are no claims to send", nil)
	}
}

// rewritePath checks a path template: a path, whose {name} segments are
// parameters of the operation's pattern.
func (v *validator) rewritePath(field, tmpl, pattern string) {
	if msg := PathProblem(tmpl, true); msg != "" {
		v.add(field, msg, nil)
		return
	}
	have := map[string]bool{}
	for _, seg := range strings.Split(pattern, "/") {
		if name, ok := strings.CutPrefix(seg, "{"); ok {
			have[strings.TrimSuffix(strings.TrimSuffix(name, "}"), "...")] = true
		}
	}
	for _, seg := range strings.Split(tmpl, "/") {
		if name, ok := strings.CutPrefix(seg, "{"); ok {
			name = strings.TrimSuffix(strings.TrimSuffix(name, "}"), "...")
			if !have[name] {
				v.add(field, fmt.Sprintf("{%s} is not a parameter of the operation's path %q", name, pattern), nil)
			}
		}
	}
}

// headerEdits checks header (or, when header is false, query parameter)
// edits: names, values without control characters, no reserved names.
func (v *validator) headerEdits(f string, e HeaderEdits, reserved []string, header bool) {
	check := func(field, name string) {
		if header {
			v.headerName(field, name, reserved)
		} else if name == "" || printable.HasControl(name) {
			v.add(field, "a query parameter name: not empty, no control characters", nil)
		}
	}
	for i, n := range e.Remove {
		check(fmt.Sprintf("%s.remove[%d]", f, i), n)
	}
	for _, from := range slices.Sorted(maps.Keys(e.Rename)) {
		check(fmt.Sprintf("%s.rename[%q]", f, from), from)
		check(fmt.Sprintf("%s.rename[%q]", f, from), e.Rename[from])
	}
	for _, n := range slices.Sorted(maps.Keys(e.Set)) {
		field := fmt.Sprintf("%s.set[%q]", f, n)
		check(field, n)
		if printable.HasControl(e.Set[n]) {
			v.add(field, "the value must not contain control characters", nil)
		}
	}
}

// headerName checks a header field name (RFC 9110 §5.1: a token) that is
// not one of reserved.
func (v *validator) headerName(field, name string, reserved []string) {
	if !isHTTPToken(name) {
		v.add(field, fmt.Sprintf("%q is not a header name", name), nil)
		return
	}
	if slices.Contains(reserved, textproto.CanonicalMIMEHeaderKey(name)) {
		v.add(field, fmt.Sprintf("%s is the gateway's to set", textproto.CanonicalMIMEHeaderKey(name)), nil)
	}
}
