package gateway

import (
	"net/http"
	"net/textproto"
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
	// signer signs the response (signing.go); nil when the API does not.
	signer *responseSigner
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
