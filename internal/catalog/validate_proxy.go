package catalog

import (
	"fmt"
	"net/textproto"
	"strings"
)

// responseHeaders checks an API's response_headers: header names or
// prefixes ending in "*" to remove, and names of the default list to
// keep.
// The values of API.UpstreamErrors.
const (
	UpstreamErrorsReplace = "replace"
	UpstreamErrorsPass    = "pass"
)

// upstreamErrors checks the API's upstream_errors.
func (v *validator) upstreamErrors(f string, a *API) {
	if a.UpstreamErrors != "" {
		v.oneOf(f+".upstream_errors", a.UpstreamErrors, []string{UpstreamErrorsReplace, UpstreamErrorsPass})
	}
}

func (v *validator) responseHeaders(f string, a *API) {
	rh := a.ResponseHeaders
	f += ".response_headers"
	seen := map[string]int{}
	for k, n := range rh.Remove {
		field := fmt.Sprintf("%s.remove[%d]", f, k)
		name, prefix := strings.CutSuffix(n, "*")
		switch {
		case !isHTTPToken(name) || strings.Contains(name, "*"):
			v.add(field, fmt.Sprintf("%q is not a header name, or a prefix of one followed by *", n), nil)
			continue
		case !prefix && isFramingHeader(name):
			v.add(field, fmt.Sprintf("%q frames the response and cannot be removed", n), nil)
			continue
		}
		key := textproto.CanonicalMIMEHeaderKey(name)
		if prefix {
			key += "*"
		}
		if j, dup := seen[key]; dup {
			v.add(field, fmt.Sprintf("%q is listed twice (also remove[%d]; names ignore case)", n, j), nil)
			continue
		}
		seen[key] = k
	}
	for k, n := range rh.Keep {
		field := fmt.Sprintf("%s.keep[%d]", f, k)
		switch {
		case !isHTTPToken(n) || strings.Contains(n, "*"):
			v.add(field, fmt.Sprintf("%q is not a header name", n), nil)
		case !HeaderListed(defaultRemovedResponseHeaders, n):
			v.add(field, fmt.Sprintf("%q is not removed by default (%s), so keeping it changes nothing", n,
				strings.Join(defaultRemovedResponseHeaders, ", ")), nil)
		case HeaderListed(rh.Remove, n):
			v.add(field, fmt.Sprintf("%q is also removed by remove", n), nil)
		}
	}
}

// isFramingHeader reports the headers whose removal would change how a
// response is read rather than what it says.
func isFramingHeader(name string) bool {
	switch textproto.CanonicalMIMEHeaderKey(name) {
	case "Content-Length", "Transfer-Encoding", "Connection", "Upgrade", "Content-Type", "Content-Encoding":
		return true
	}
	return false
}

// HeaderListed reports whether header name is named by list: an entry
// equal to it ignoring case, or a prefix of it ending in "*".
func HeaderListed(list []string, name string) bool {
	for _, e := range list {
		if p, ok := strings.CutSuffix(e, "*"); ok {
			if len(name) >= len(p) && strings.EqualFold(name[:len(p)], p) {
				return true
			}
			continue
		}
		if strings.EqualFold(e, name) {
			return true
		}
	}
	return false
}

// upgrade checks an operation's upgrade: websocket on GET (RFC 6455
// §4.1), nothing else.
func (v *validator) upgrade(of string, op Operation) {
	switch {
	case op.Upgrade == "":
	case strings.EqualFold(op.Upgrade, "h2c"):
		v.add(of+".upgrade", `h2c is never allowed: it would turn the connection into an HTTP/2 one to the upstream that the gateway no longer checks request by request`, nil)
	case op.Upgrade != UpgradeWebSocket:
		v.add(of+".upgrade", fmt.Sprintf("%q is not %s (or empty: no upgrade)", op.Upgrade, UpgradeWebSocket), nil)
	case op.Method != "GET" && op.Method != "" && op.Method != "*":
		v.add(of+".upgrade", fmt.Sprintf("a websocket handshake is a GET request (RFC 6455 §4.1), not %s", op.Method), nil)
	}
}
