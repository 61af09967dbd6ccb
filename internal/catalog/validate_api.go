package catalog

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/duration"
	"github.com/portcullis/portcullis/internal/printable"
	"github.com/portcullis/portcullis/internal/scope"
)

// tokenKinds are the values of API.Tokens.
var tokenKinds = []string{TokenJWT, TokenOpaque, TokenSplit}

// api checks apis[i]; loc is the zone its policies read times in.
func (v *validator) api(i int, loc *time.Location) {
	s := v.s
	a := &s.APIs[i]
	f := v.gw(fmt.Sprintf("apis[%d]", i))
	switch {
	case a.Name == "":
		v.add(f+".name", "must not be empty", nil)
	case !apiName.MatchString(a.Name):
		v.add(f+".name", fmt.Sprintf("%q is not a name: up to 64 letters, digits, '.', '_' and '-', starting with a letter or digit", a.Name), nil)
	default:
		// Versions of one API share its name; a name and version
		// together are unique.
		if j := slices.IndexFunc(s.APIs[:i], func(o API) bool { return o.Name == a.Name && o.Version == a.Version }); j >= 0 {
			v.add(f+".name", fmt.Sprintf("%q version %q is also the name and version of %s", a.Name, a.Version, v.gw(fmt.Sprintf("apis[%d]", j))), nil)
		}
	}
	if !apiName.MatchString(a.Version) {
		v.add(f+".version", fmt.Sprintf("%q is not a version: up to 64 letters, digits, '.', '_' and '-', starting with a letter or digit", a.Version), nil)
	}
	v.basePath(i)
	v.upstream(f, a)
	v.apiIssuer(i)
	v.audiences(f, a)
	for k, kind := range a.Tokens {
		tf := fmt.Sprintf("%s.tokens[%d]", f, k)
		switch {
		case !contains(tokenKinds, kind):
			v.add(tf, fmt.Sprintf("%q is not one of %s", kind, strings.Join(tokenKinds, ", ")), nil)
		case contains(a.Tokens[:k], kind):
			v.add(tf, fmt.Sprintf("%q is listed twice", kind), nil)
		}
	}
	v.requestRule(f+".policy", a.Policy, loc)
	if printable.HasControl(a.OpenAPI) {
		v.add(f+".openapi", "must not contain control characters", nil)
	}
	v.operationChecks(f, a, loc)
	if a.CORS != nil {
		v.cors(f+".cors", a.CORS)
	}
	v.duration(f+".timeouts.upstream", a.Timeouts.Upstream, duration.Bounds{Min: time.Millisecond, Max: time.Hour})
	v.duration(f+".timeouts.dial", a.Timeouts.Dial, duration.Bounds{Min: time.Millisecond, Max: time.Minute})
	v.duration(f+".timeouts.request", a.Timeouts.Request, duration.Bounds{Min: time.Millisecond, Max: 24 * time.Hour})
	v.duration(f+".timeouts.response", a.Timeouts.Response, duration.Bounds{Min: time.Millisecond, Max: 24 * time.Hour})
	if a.MaxBodyBytes < 0 {
		v.add(f+".max_body_bytes", "must not be negative (0 means 1 MiB)", nil)
	}
	v.upstreamTLS(f, a)
	v.responseHeaders(f, a)
	v.upstreamErrors(f, a)
	v.upstreamToken(f, a)
	v.dpop(f, a)
	v.mtls(f, a)
	v.securityHeaders(f, a)
	v.responseSigning(f, a)
}

// operationChecks runs every check of a's operations, with those of the
// API settings they refine (validation, waf, request signatures),
// naming them under f.operations[j]. Validate runs it on the declared
// operations, OpenAPIImport.Check on those of an OpenAPI document: a
// check of operations added here applies to both. Their limits are
// checked with the catalog's other limits, for names unique across all
// of them (rateLimit).
func (v *validator) operationChecks(f string, a *API, loc *time.Location) {
	v.operations(f, a, loc)
	v.validation(f, a)
	v.waf(f, a)
	v.requestSignatures(f, a)
}

// basePath checks apis[i].base_path, and that no other API has the same
// one (a trailing slash aside). Base paths may nest ("/", "/shop",
// "/shop/admin"): the gateway routes each request to the API with the
// longest base path that is a whole-segment prefix of its path (see
// BasePathMatches), as Kong, Envoy and Tyk do, so a request belongs to
// exactly one API.
func (v *validator) basePath(i int) {
	apis := v.s.APIs
	p := apis[i].BasePath
	field := v.gw(fmt.Sprintf("apis[%d].base_path", i))
	if msg := PathProblem(p, false); msg != "" {
		v.add(field, msg, nil)
		return
	}
	norm := NormalizeBasePath(p)
	for j, o := range apis[:i] {
		if PathProblem(o.BasePath, false) != "" {
			continue
		}
		if NormalizeBasePath(o.BasePath) == norm {
			v.add(field, fmt.Sprintf("%q is also the base path of %s", p, v.gw(fmt.Sprintf("apis[%d]", j))), nil)
			return
		}
	}
}

// NormalizeBasePath returns a valid base path without its trailing slash
// ("/shop/" is "/shop"); "/" stays "/".
func NormalizeBasePath(p string) string {
	if len(p) > 1 {
		return strings.TrimSuffix(p, "/")
	}
	return p
}

// BasePathMatches reports whether a request path lies under a normalized
// base path, segment-wise: "/shop" holds "/shop" and "/shop/..." but not
// "/shopx"; "/" holds every path. Among the APIs whose base path
// matches, the longest wins.
func BasePathMatches(base, path string) bool {
	if base == "/" {
		return strings.HasPrefix(path, "/")
	}
	return strings.HasPrefix(path, base) && (len(path) == len(base) || path[len(base)] == '/')
}

// PathProblem says what is wrong with a base path (wildcards false) or an
// operation path pattern (wildcards true), or "" when nothing is.
// Patterns are literal segments, {name} for one segment and a final
// {name...} for the rest; a trailing slash is part of the pattern
// ("/items/" matches "/items/" only, as in net/http without the subtree)
// but not of a base path ("/shop/" is "/shop", see NormalizeBasePath).
// Dot segments, empty segments and percent signs are refused: each would
// let two spellings of one path reach different rules (RFC 3986 §5.2.4,
// §6.2.2). A base path holds only unreserved characters (RFC 3986 §2.3),
// so its escaped and unescaped forms are the same and the gateway strips
// it from either exactly.
func PathProblem(p string, wildcards bool) string {
	switch {
	case p == "":
		if wildcards {
			return `must not be empty: a path such as /items or /items/{id}`
		}
		return "must not be empty: the path the API lives under, such as /warehouse"
	case p[0] != '/':
		return fmt.Sprintf("%q must start with /", p)
	case p == "/":
		// The root: a base path under which everything lies, or the
		// operation path of the root itself.
		return ""
	}
	body, trailing := strings.CutSuffix(p[1:], "/")
	segs := strings.Split(body, "/")
	names := make(map[string]bool)
	for k, s := range segs {
		switch {
		case s == "":
			return fmt.Sprintf("%q has an empty segment (//)", p)
		case s == "." || s == "..":
			return fmt.Sprintf("%q must not contain . or .. segments", p)
		case strings.ContainsAny(s, "{}"):
			if !wildcards {
				return fmt.Sprintf("%q must be literal: wildcards belong in operation paths", p)
			}
			if s[0] != '{' || s[len(s)-1] != '}' || strings.Count(s, "{") != 1 || strings.Count(s, "}") != 1 {
				return fmt.Sprintf("%q: a wildcard is a whole segment, {name} or {name...}", p)
			}
			name, rest := strings.CutSuffix(s[1:len(s)-1], "...")
			switch {
			case !wildcardName.MatchString(name):
				return fmt.Sprintf("%q: wildcard name %q is not letters, digits and _ (not starting with a digit)", p, name)
			case rest && (k != len(segs)-1 || trailing):
				return fmt.Sprintf("%q: {%s...} must be the last segment", p, name)
			case names[name]:
				return fmt.Sprintf("%q: wildcard {%s} appears twice", p, name)
			}
			names[name] = true
		case !wildcards:
			if i := strings.IndexFunc(s, func(r rune) bool { return !isUnreserved(r) }); i >= 0 {
				return fmt.Sprintf("%q: %q is not allowed in a base path: letters, digits and -._~", p, s[i:i+1])
			}
		default:
			if i := strings.IndexFunc(s, func(r rune) bool { return !isPathChar(r) }); i >= 0 {
				return fmt.Sprintf("%q: %q is not allowed in a path here: letters, digits and -._~!$&'()*+,;=:@", p, s[i:i+1])
			}
		}
	}
	return ""
}

// isUnreserved reports an RFC 3986 §2.3 unreserved character.
func isUnreserved(r rune) bool {
	return r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~", r))
}

// isPathChar reports an RFC 3986 pchar other than a percent sign.
func isPathChar(r rune) bool {
	return isUnreserved(r) || r < 0x80 && strings.ContainsRune("!$&'()*+,;=:@", r)
}

// patternKey is an operation's identity for duplicate checks: its method
// ("*" for any) and its path with wildcard names left out, since
// /items/{id} and /items/{item} match the same requests.
func patternKey(method, path string) string {
	if method == "" {
		method = "*"
	}
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") {
			if strings.HasSuffix(s, "...}") {
				segs[i] = "{...}"
			} else {
				segs[i] = "{}"
			}
		}
	}
	return method + " " + strings.Join(segs, "/")
}

// upstream checks an API's upstream URL: absolute http or https, with a
// host and no user information, query or fragment (the request's own
// query is forwarded). Plain http is allowed: backends often sit on a
// private network. The URL is never echoed.
func (v *validator) upstream(f string, a *API) {
	field := f + ".upstream"
	if a.Upstream == "" {
		v.add(field, "must not be empty: the backend's base URL, such as http://10.0.0.7:9000", nil)
		return
	}
	u, err := url.Parse(a.Upstream)
	switch {
	case err != nil:
		v.add(field, "is not a valid URL", nil)
	case !u.IsAbs() || u.Opaque != "" || u.Hostname() == "":
		v.add(field, "must be an absolute URL such as http://10.0.0.7:9000", nil)
	case u.Scheme != "http" && u.Scheme != "https":
		v.add(field, fmt.Sprintf("scheme %q is not http or https", u.Scheme), nil)
	case u.User != nil:
		v.add(field, "must not contain user information", nil)
	case strings.ContainsAny(a.Upstream, "?#"):
		v.add(field, "must not have a query or fragment", nil)
	}
}

// apiIssuer checks which issuer an API trusts, and that the issuer can
// serve the token kinds the API accepts.
func (v *validator) apiIssuer(i int) {
	s := v.s
	a := &s.APIs[i]
	f := v.gw(fmt.Sprintf("apis[%d]", i))
	issuers := v.gw("issuers")
	is := s.IssuerFor(a)
	switch {
	case a.Issuer != "" && is == nil && len(s.Issuers) == 0:
		v.add(f+".issuer", fmt.Sprintf("names an issuer, but %s is empty", issuers), nil)
		return
	case a.Issuer != "" && is == nil:
		v.add(f+".issuer", fmt.Sprintf("does not name one of %s (compare the issuer URLs character for character)", issuers), nil)
		return
	case is == nil && a.NeedsToken() && len(s.Issuers) == 0:
		v.add(f+".issuer", fmt.Sprintf("the API needs tokens but %s is empty: add the authorization server there, or make the API public", issuers), nil)
		return
	case is == nil && a.NeedsToken():
		v.add(f+".issuer", fmt.Sprintf("must name one of %s (there are %d)", issuers, len(s.Issuers)), nil)
		return
	}
	if is != nil && a.NeedsToken() && a.Accepts(TokenOpaque) && is.ClientID == "" {
		k := slices.IndexFunc(s.Issuers, func(o Issuer) bool { return o.Issuer == is.Issuer })
		v.add(f+".tokens", fmt.Sprintf("accepts opaque tokens, which the gateway introspects as a client: set client_id on %s[%d], or list only jwt and split", issuers, k), nil)
	}
}

// audiences checks an API's audiences: required when the API takes
// tokens, since without them a token the issuer minted for any other API
// would pass (RFC 9068 §4, RFC 8725 §3.9), unless any_audience says so.
func (v *validator) audiences(f string, a *API) {
	switch {
	case a.AnyAudience && len(a.Audiences) > 0:
		v.add(f+".any_audience", "contradicts audiences: list the audiences the API accepts, or set any_audience alone to accept every token of the issuer", nil)
	case !a.AnyAudience && len(a.Audiences) == 0 && a.NeedsToken():
		v.add(f+".audiences", "must list the aud values of this API's tokens, so that a token issued for another API is refused (RFC 9068 §4); any_audience: true accepts every token of the issuer instead", nil)
	}
	for k, aud := range a.Audiences {
		af := fmt.Sprintf("%s.audiences[%d]", f, k)
		switch {
		case aud == "" || strings.IndexFunc(aud, printable.IsSpaceOrControl) >= 0:
			v.add(af, "must be non-empty, without spaces or control characters", nil)
		case contains(a.Audiences[:k], aud):
			v.add(af, fmt.Sprintf("%q is listed twice", aud), nil)
		}
	}
}

// operations checks an API's operations.
func (v *validator) operations(f string, a *API, loc *time.Location) {
	if len(a.Operations) == 0 && a.OpenAPI == "" {
		v.add(f+".operations", "the API declares no operations: list them, or name an openapi document (a request matching no operation is refused)", nil)
		return
	}
	seen := make(map[string]int, len(a.Operations))
	for j, op := range a.Operations {
		of := fmt.Sprintf("%s.operations[%d]", f, j)
		if op.Method != "" && op.Method != "*" && !contains(knownMethods, op.Method) {
			v.add(of+".method", fmt.Sprintf("%q is not one of %s, * or empty (any); methods are case sensitive", op.Method, strings.Join(knownMethods, ", ")), nil)
		}
		if msg := PathProblem(op.Path, true); msg != "" {
			v.add(of+".path", msg, nil)
		} else {
			key := patternKey(op.Method, op.Path)
			if k, dup := seen[key]; dup {
				v.add(of+".path", fmt.Sprintf("the same method and path as %s.operations[%d]", f, k), nil)
			} else {
				seen[key] = j
			}
		}
		for k, sc := range op.Scopes {
			if !scope.IsToken(sc) {
				v.add(fmt.Sprintf("%s.scopes[%d]", of, k), ScopeMsg(sc), nil)
			}
		}
		if (op.Public || a.Public) && len(op.Scopes) > 0 {
			v.add(of+".scopes", "a public operation is called without a token, so it cannot require scopes", nil)
		}
		v.requestRule(of+".policy", op.Policy, loc)
		v.upgrade(of, op)
		v.responseRules(of, &op)
		v.rewrite(of, op)
	}
}

// ScopeMsg says why scope is not a scope token.
func ScopeMsg(scope string) string {
	return fmt.Sprintf("scope %q is not a scope token: printable ASCII without spaces, quotes or backslashes (RFC 6749 §3.3)", scope)
}

// upstreamTLS checks an API's tls block: only for an https upstream, and
// a client certificate comes with its key.
func (v *validator) upstreamTLS(f string, a *API) {
	t := a.TLS
	if t == (UpstreamTLS{}) {
		return
	}
	if u, err := url.Parse(a.Upstream); err == nil && u.Scheme == "http" {
		v.add(f+".tls", "is set, but the upstream is plain http: use an https upstream", nil)
	}
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		v.add(f+".tls.key_file", "must be set with cert_file", nil)
	case t.KeyFile != "" && t.CertFile == "":
		v.add(f+".tls.cert_file", "must be set with key_file", nil)
	}
	for _, fv := range []struct{ field, value string }{
		{"ca_file", t.CAFile}, {"cert_file", t.CertFile}, {"key_file", t.KeyFile}, {"server_name", t.ServerName},
	} {
		if printable.HasControl(fv.value) {
			v.add(f+".tls."+fv.field, "must not contain control characters", nil)
		}
	}
}
