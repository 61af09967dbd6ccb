package gateway

import (
	"bytes"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/internal/catalog"
)

// responseFilter removes upstream response headers before they reach the
// client: those naming the backend's software, version or hosts (the
// API's response_headers on top of catalog.DefaultRemovedResponseHeaders),
// and, when the gateway answers CORS for the API, the upstream's own
// Access-Control-* headers (two Access-Control-Allow-Origin values make
// browsers refuse the response, and the gateway's policy is the one
// configured). Built once per API; the response path does map lookups
// and a few prefix tests per header.
type responseFilter struct {
	// names are removed (canonical form); prefixes too, except for the
	// names in keep, which exempt a header from the default prefixes.
	names    map[string]bool
	prefixes []string
	keep     map[string]bool
	// userPrefixes are the API's own, which keep does not exempt from.
	userPrefixes []string
	// lifecycle is the API version's Deprecation and Sunset. The
	// exchange stamps them on every response it writes; the filter sets
	// them too because a 101 answer is written by the proxy on the
	// hijacked connection, past the exchange.
	lifecycle lifecycle
	// fields runs operations' field rules (fieldrules.go); false when
	// no operation of the API has any.
	fields bool
	// signer signs the response (signing.go); nil when the API does not.
	signer *responseSigner
	// passErrors passes an upstream's 5xx body through; false replaces
	// it with the gateway's problem (upstream_errors).
	passErrors bool
	// security are the API's security_headers.
	security securityHeaders
}

// newResponseFilter compiles a validated policy.
func newResponseFilter(c catalog.ResponseHeaders, cors bool) *responseFilter {
	f := &responseFilter{names: map[string]bool{}, keep: map[string]bool{}}
	for _, n := range c.Keep {
		f.keep[normalizeHeaderName(n)] = true
	}
	for _, n := range catalog.DefaultRemovedResponseHeaders() {
		if p, ok := strings.CutSuffix(n, "*"); ok {
			f.prefixes = append(f.prefixes, p)
		} else if !f.keep[normalizeHeaderName(n)] {
			f.names[normalizeHeaderName(n)] = true
		}
	}
	for _, n := range c.Remove {
		if p, ok := strings.CutSuffix(n, "*"); ok {
			f.userPrefixes = append(f.userPrefixes, p)
		} else {
			f.names[normalizeHeaderName(n)] = true
		}
	}
	if cors {
		f.userPrefixes = append(f.userPrefixes, "Access-Control-")
	}
	return f
}

// modify is the proxy's ModifyResponse (101 answers included). The
// transport hands over canonical header names.
func (f *responseFilter) modify(res *http.Response) error {
	h := res.Header
	for k := range h {
		if f.drop(k) {
			delete(h, k)
		}
	}
	// The gateway's announcement replaces any the upstream made.
	f.lifecycle.set(h)
	if res.StatusCode >= 500 && !f.passErrors {
		replaceUpstreamError(res)
	}
	f.security.set(h, res.Request)
	if f.fields {
		if err := rewriteFields(res); err != nil {
			return err
		}
	}
	if f.signer != nil {
		return f.signer.sign(res)
	}
	return nil
}

func (f *responseFilter) drop(k string) bool {
	if f.names[k] {
		return true
	}
	for _, p := range f.userPrefixes {
		if hasHeaderPrefix(k, p) {
			return true
		}
	}
	for _, p := range f.prefixes {
		if hasHeaderPrefix(k, p) {
			return !f.keep[k]
		}
	}
	// A name spelled oddly ("X_Powered_By", which the transport leaves
	// as it came) is compared in its normalized form.
	if strings.IndexByte(k, '_') >= 0 || textproto.CanonicalMIMEHeaderKey(k) != k {
		if n := normalizeHeaderName(k); n != k {
			return f.drop(n)
		}
	}
	return false
}

// problemUpstreamError replaces an upstream's 5xx body.
var problemUpstreamError = []byte(`{"type":"urn:portcullis:problem:upstream-error","title":"Upstream error",` +
	`"detail":"The upstream service failed to answer this request.","status":`)

// upstreamBodyHeaders describe the upstream's body, which is gone.
var upstreamBodyHeaders = []string{"Content-Encoding", "Content-Range", "Content-Disposition", "Content-Language",
	"Content-Location", "Etag", "Last-Modified", "Trailer", "Transfer-Encoding"}

// replaceUpstreamError swaps a 5xx answer's body for the gateway's
// problem+json with the same status and the request id: an upstream's
// error page may hold a stack trace, an SQL statement or an internal
// host name, none of which a client needs. Its Retry-After stays.
func replaceUpstreamError(res *http.Response) {
	if res.Body != nil {
		// The body is dropped unread; closing it lets the transport
		// discard the connection rather than read an unbounded page.
		_ = res.Body.Close()
	}
	b := make([]byte, 0, len(problemUpstreamError)+64)
	b = append(b, problemUpstreamError...)
	b = strconv.AppendInt(b, int64(res.StatusCode), 10)
	b = append(b, `,"request_id":`...)
	id := ""
	if res.Request != nil {
		id = res.Request.Header.Get("X-Request-Id")
	}
	b = strconv.AppendQuote(b, id)
	b = append(b, "}\n"...)
	h := res.Header
	for _, k := range upstreamBodyHeaders {
		delete(h, k)
	}
	h["Content-Type"] = headerProblemType
	h["Cache-Control"] = headerNoStore
	h["X-Content-Type-Options"] = headerNoSniff
	h.Set("Content-Length", strconv.Itoa(len(b)))
	res.Body = io.NopCloser(bytes.NewReader(b))
	res.ContentLength = int64(len(b))
	res.TransferEncoding = nil
	res.Uncompressed = false
}
