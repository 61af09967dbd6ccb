package config

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	// Policies read times in a configured zone: the zone database is built
	// in so that time_zone means the same on a host (or a scratch
	// container) without /usr/share/zoneinfo.
	_ "time/tzdata"

	"github.com/portcullis/portcullis/internal/policy"
)

var (
	// issuerAlgs are the JWS algorithms a gateway issuer may allow:
	// asymmetric only (RFC 8725 §3.1, §3.2). HS* would let anyone holding
	// the public key forge tokens, and none needs no key at all.
	issuerAlgs = []string{"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"}
	// tokenKinds are the values of api.tokens.
	tokenKinds = []string{TokenJWT, TokenOpaque, TokenSplit}
	// knownMethods are the methods an operation or a CORS policy may name
	// (RFC 9110 §9, RFC 5789). CONNECT and TRACE are never proxied.
	knownMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
	// apiName is the syntax of API names and versions: they become metric
	// labels and log fields.
	apiName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	// envName is the syntax of an environment variable name (POSIX).
	envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// wildcardName is the syntax of a {name} in an operation path.
	wildcardName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// errRuleCompiler stands in for a panic of the policy compiler: the file
// is refused rather than the process brought down (on SIGHUP that would
// stop a server that is serving).
var errRuleCompiler = errors.New("the policy compiler failed on this expression")

// Validate checks the gateway section on its own, as Config.Validate
// does, with its copy of the ratelimit section; errors name the field
// (gateway.apis[0].base_path, ratelimit.plans.gold[0].rate) without a
// file or line. Call ApplyDefaults first.
func (g *Gateway) Validate() error {
	v := &validator{c: &Config{Gateway: *g, RateLimit: g.RateLimit}}
	v.gateway()
	v.rateLimit()
	return errors.Join(v.errs...)
}

// gateway checks the gateway section.
func (v *validator) gateway() {
	g := &v.c.Gateway
	for i, s := range g.TrustedProxies {
		if _, ok := parseProxy(s); !ok {
			v.add(fmt.Sprintf("gateway.trusted_proxies[%d]", i), proxyMsg(s), nil)
		}
	}
	v.headerNames("gateway.strip_headers", g.StripHeaders)
	v.headerNames("gateway.strip_header_prefixes", g.StripHeaderPrefixes)
	loc := v.timeZone(g.TimeZone)
	for i := range g.Issuers {
		v.gatewayIssuer(i)
	}
	for i := range g.APIs {
		v.api(i, loc)
	}
}

// proxyMsg says what is wrong with a trusted proxy entry.
func proxyMsg(s string) string {
	if p, err := netip.ParsePrefix(s); err == nil && p != p.Masked() {
		return fmt.Sprintf("%q has bits set past its prefix length: write %s", s, p.Masked())
	}
	return fmt.Sprintf("%q is not a CIDR prefix (10.0.0.0/8, 2001:db8::/32) or an IP address", s)
}

// headerNames checks a list of header names (or name prefixes): each a
// field-name token (RFC 9110 §5.1), listed once.
func (v *validator) headerNames(field string, names []string) {
	seen := make(map[string]bool, len(names))
	for i, name := range names {
		f := fmt.Sprintf("%s[%d]", field, i)
		key := strings.ToLower(name)
		switch {
		case !isToken(name):
			v.add(f, fmt.Sprintf("%q is not a header name: letters, digits and !#$%%&'*+-.^_`|~ (RFC 9110 §5.1)", name), nil)
		case seen[key]:
			v.add(f, fmt.Sprintf("%q is listed twice (header names ignore case)", name), nil)
		}
		seen[key] = true
	}
}

// timeZone checks gateway.time_zone and returns the zone policies are
// compiled with (UTC when it is bad, so they are still checked).
func (v *validator) timeZone(tz string) *time.Location {
	switch tz {
	case "":
		return time.UTC
	case "Local":
		v.add("gateway.time_zone", "must be an IANA zone name such as Europe/Berlin: Local would change with the host", nil)
		return time.UTC
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		v.add("gateway.time_zone", fmt.Sprintf("%q is not an IANA time zone name such as Europe/Berlin or UTC", tz), nil)
		return time.UTC
	}
	return loc
}

// gatewayIssuer checks gateway.issuers[i].
func (v *validator) gatewayIssuer(i int) {
	g := &v.c.Gateway
	is := &g.Issuers[i]
	f := fmt.Sprintf("gateway.issuers[%d]", i)
	switch {
	case is.Issuer == "":
		v.add(f+".issuer", "must not be empty: the issuer URL, as in its tokens' iss claim", nil)
	case issuerURLProblem(is.Issuer) != "":
		v.add(f+".issuer", issuerURLProblem(is.Issuer), nil)
	default:
		if j := slices.IndexFunc(g.Issuers[:i], func(o Issuer) bool { return o.Issuer == is.Issuer }); j >= 0 {
			v.add(f+".issuer", fmt.Sprintf("is the same issuer as gateway.issuers[%d]", j), nil)
		}
	}
	v.endpointURL(f+".jwks_uri", is.JWKSURI)
	v.endpointURL(f+".introspection_url", is.IntrospectionURL)
	for k, alg := range is.Algorithms {
		af := fmt.Sprintf("%s.algorithms[%d]", f, k)
		switch {
		case !slices.Contains(issuerAlgs, alg):
			v.add(af, fmt.Sprintf("%q is not one of %s: none and HMAC (HS*) are never accepted (RFC 8725 §3.1, §3.2)", alg, strings.Join(issuerAlgs, ", ")), nil)
		case slices.Contains(is.Algorithms[:k], alg):
			v.add(af, fmt.Sprintf("%q is listed twice", alg), nil)
		}
	}
	// The gateway authenticates at the introspection endpoint with
	// client_secret_basic (RFC 7662 §2.1): a client id and one place to
	// read its secret from.
	hasFile, hasEnv := is.ClientSecretFile != "", is.ClientSecretEnv != ""
	switch {
	case is.ClientID == "" && (hasFile || hasEnv):
		v.add(f+".client_id", "must be set when client_secret_file or client_secret_env is", nil)
	case is.ClientID != "" && hasFile && hasEnv:
		v.add(f+".client_secret_env", "set only one of client_secret_file and client_secret_env", nil)
	case is.ClientID != "" && !hasFile && !hasEnv:
		v.add(f+".client_id", "needs client_secret_file or client_secret_env to read the secret from (the secret itself never goes in this file)", nil)
	}
	if is.ClientID != "" && strings.IndexFunc(is.ClientID, isControl) >= 0 {
		v.add(f+".client_id", "must not contain control characters", nil)
	}
	if hasEnv && !envName.MatchString(is.ClientSecretEnv) {
		v.add(f+".client_secret_env", "is not an environment variable name: letters, digits and _, not starting with a digit", nil)
	}
	if hasFile && strings.IndexFunc(is.ClientSecretFile, isControl) >= 0 {
		v.add(f+".client_secret_file", "must not contain control characters", nil)
	}
	for _, r := range []durationRule{
		// The cache bound is how late a revocation takes effect at the
		// gateway: past an hour, revoking is nearly pointless.
		{f + ".cache_ttl", is.CacheTTL, time.Second, time.Hour, " (revocation takes effect within it)"},
		{f + ".negative_cache_ttl", is.NegativeCacheTTL, time.Second, 10 * time.Minute, ""},
		{f + ".leeway", is.Leeway, 0, 5 * time.Minute, " (RFC 7519 §4.1.4 asks for a small leeway)"},
	} {
		v.duration(r)
	}
}

// endpointURL checks a URL the gateway fetches with trust attached (keys,
// introspection with the gateway's secret): absolute, https unless on
// loopback, without user information or fragment. Empty is allowed
// (discovery supplies it). The URL is never echoed.
func (v *validator) endpointURL(field, raw string) {
	if raw == "" {
		return
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		v.add(field, "is not a valid URL", nil)
	case !u.IsAbs() || u.Opaque != "" || u.Hostname() == "":
		v.add(field, "must be an absolute URL such as https://auth.example.com/jwks.json", nil)
	case u.User != nil:
		v.add(field, "must not contain user information", nil)
	case strings.Contains(raw, "#"):
		v.add(field, "must not have a fragment", nil)
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		v.add(field, "must use https unless the host is a loopback address or localhost: keys and introspection answers decide access", nil)
	case u.Scheme != "https" && u.Scheme != "http":
		v.add(field, fmt.Sprintf("scheme %q is not https", u.Scheme), nil)
	}
}

// api checks gateway.apis[i]; loc is the zone its policies read times in.
func (v *validator) api(i int, loc *time.Location) {
	g := &v.c.Gateway
	a := &g.APIs[i]
	f := fmt.Sprintf("gateway.apis[%d]", i)
	switch {
	case a.Name == "":
		v.add(f+".name", "must not be empty", nil)
	case !apiName.MatchString(a.Name):
		v.add(f+".name", fmt.Sprintf("%q is not a name: up to 64 letters, digits, '.', '_' and '-', starting with a letter or digit", a.Name), nil)
	default:
		if j := slices.IndexFunc(g.APIs[:i], func(o API) bool { return o.Name == a.Name }); j >= 0 {
			v.add(f+".name", fmt.Sprintf("%q is also the name of gateway.apis[%d]", a.Name, j), nil)
		}
	}
	if !apiName.MatchString(a.Version) {
		v.add(f+".version", fmt.Sprintf("%q is not a version: up to 64 letters, digits, '.', '_' and '-', starting with a letter or digit", a.Version), nil)
	}
	v.basePath(i)
	v.upstream(f, a)
	v.apiIssuer(i)
	for k, aud := range a.Audiences {
		af := fmt.Sprintf("%s.audiences[%d]", f, k)
		switch {
		case aud == "" || strings.IndexFunc(aud, isSpaceOrControl) >= 0:
			v.add(af, "must be non-empty, without spaces or control characters", nil)
		case slices.Contains(a.Audiences[:k], aud):
			v.add(af, fmt.Sprintf("%q is listed twice", aud), nil)
		}
	}
	for k, kind := range a.Tokens {
		tf := fmt.Sprintf("%s.tokens[%d]", f, k)
		switch {
		case !slices.Contains(tokenKinds, kind):
			v.add(tf, fmt.Sprintf("%q is not one of %s", kind, strings.Join(tokenKinds, ", ")), nil)
		case slices.Contains(a.Tokens[:k], kind):
			v.add(tf, fmt.Sprintf("%q is listed twice", kind), nil)
		}
	}
	v.requestRule(f+".policy", a.Policy, loc)
	if strings.IndexFunc(a.OpenAPI, isControl) >= 0 {
		v.add(f+".openapi", "must not contain control characters", nil)
	}
	v.operations(f, a, loc)
	if a.CORS != nil {
		v.cors(f+".cors", a.CORS)
	}
	v.duration(durationRule{f + ".timeouts.upstream", a.Timeouts.Upstream, time.Millisecond, time.Hour, ""})
	v.duration(durationRule{f + ".timeouts.dial", a.Timeouts.Dial, time.Millisecond, time.Minute, ""})
	if a.MaxBodyBytes < 0 {
		v.add(f+".max_body_bytes", "must not be negative (0 means 1 MiB)", nil)
	}
	v.upstreamTLS(f, a)
}

// basePath checks gateway.apis[i].base_path, and that no other API's
// base path equals it or lies inside it (or it inside theirs): a request
// must belong to exactly one API.
func (v *validator) basePath(i int) {
	apis := v.c.Gateway.APIs
	p := apis[i].BasePath
	field := fmt.Sprintf("gateway.apis[%d].base_path", i)
	if msg := pathProblem(p, false); msg != "" {
		v.add(field, msg, nil)
		return
	}
	for j, o := range apis[:i] {
		if pathProblem(o.BasePath, false) != "" {
			continue
		}
		switch {
		case o.BasePath == p:
			v.add(field, fmt.Sprintf("%q is also the base path of gateway.apis[%d]", p, j), nil)
			return
		case strings.HasPrefix(p, o.BasePath+"/") || strings.HasPrefix(o.BasePath, p+"/"):
			v.add(field, fmt.Sprintf("%q and %q (gateway.apis[%d]) are nested: a request under the longer one would belong to both APIs", p, o.BasePath, j), nil)
			return
		}
	}
}

// pathProblem says what is wrong with a base path (wildcards false) or an
// operation path pattern (wildcards true), or "" when nothing is.
// Patterns are literal segments, {name} for one segment and a final
// {name...} for the rest; a trailing slash is part of the pattern
// ("/items/" matches "/items/" only, as in net/http without the subtree).
// Dot segments, empty segments and percent signs are refused: each would
// let two spellings of one path reach different rules (RFC 3986 §5.2.4,
// §6.2.2).
func pathProblem(p string, wildcards bool) string {
	switch {
	case p == "":
		if wildcards {
			return `must not be empty: a path such as /items or /items/{id}`
		}
		return "must not be empty: the path the API lives under, such as /warehouse"
	case p[0] != '/':
		return fmt.Sprintf("%q must start with /", p)
	case p == "/" && wildcards:
		return ""
	case strings.HasSuffix(p, "/") && !wildcards:
		return fmt.Sprintf("%q must not end with /", p)
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
		default:
			if i := strings.IndexFunc(s, func(r rune) bool { return !isPathChar(r) }); i >= 0 {
				return fmt.Sprintf("%q: %q is not allowed in a path here: letters, digits and -._~!$&'()*+,;=:@", p, s[i:i+1])
			}
		}
	}
	return ""
}

// isPathChar reports an RFC 3986 pchar other than a percent sign.
func isPathChar(r rune) bool {
	return r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~!$&'()*+,;=:@", r))
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
	g := &v.c.Gateway
	a := &g.APIs[i]
	f := fmt.Sprintf("gateway.apis[%d]", i)
	is := g.IssuerFor(a)
	switch {
	case a.Issuer != "" && is == nil && len(g.Issuers) == 0:
		v.add(f+".issuer", "names an issuer, but gateway.issuers is empty", nil)
		return
	case a.Issuer != "" && is == nil:
		v.add(f+".issuer", "does not name one of gateway.issuers (compare the issuer URLs character for character)", nil)
		return
	case is == nil && a.NeedsToken() && len(g.Issuers) == 0:
		v.add(f+".issuer", "the API needs tokens but gateway.issuers is empty: add the authorization server there, or make the API public", nil)
		return
	case is == nil && a.NeedsToken():
		v.add(f+".issuer", fmt.Sprintf("must name one of gateway.issuers (there are %d)", len(g.Issuers)), nil)
		return
	}
	if is != nil && a.NeedsToken() && a.Accepts(TokenOpaque) && is.ClientID == "" {
		k := slices.IndexFunc(g.Issuers, func(o Issuer) bool { return o.Issuer == is.Issuer })
		v.add(f+".tokens", fmt.Sprintf("accepts opaque tokens, which the gateway introspects as a client: set client_id on gateway.issuers[%d], or list only jwt and split", k), nil)
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
		if op.Method != "" && op.Method != "*" && !slices.Contains(knownMethods, op.Method) {
			v.add(of+".method", fmt.Sprintf("%q is not one of %s, * or empty (any); methods are case sensitive", op.Method, strings.Join(knownMethods, ", ")), nil)
		}
		if msg := pathProblem(op.Path, true); msg != "" {
			v.add(of+".path", msg, nil)
		} else {
			key := patternKey(op.Method, op.Path)
			if k, dup := seen[key]; dup {
				v.add(of+".path", fmt.Sprintf("the same method and path as %s.operations[%d]", f, k), nil)
			} else {
				seen[key] = j
			}
		}
		for k, scope := range op.Scopes {
			if !isScopeToken(scope) {
				v.add(fmt.Sprintf("%s.scopes[%d]", of, k), scopeMsg(scope), nil)
			}
		}
		if (op.Public || a.Public) && len(op.Scopes) > 0 {
			v.add(of+".scopes", "a public operation is called without a token, so it cannot require scopes", nil)
		}
		v.requestRule(of+".policy", op.Policy, loc)
	}
}

// requestRule compiles a gateway policy, so that a bad one is refused at
// load with its position, like a scope condition.
func (v *validator) requestRule(field, expr string, loc *time.Location) {
	if expr == "" {
		return
	}
	err := compileRequestRule(expr, loc)
	if err == nil {
		return
	}
	var ce *policy.CompileError
	if errors.As(err, &ce) {
		v.exprError(field, ce)
		return
	}
	v.add(field, err.Error(), err)
}

// compileRequestRule calls the policy compiler, turning a panic into
// errRuleCompiler.
func compileRequestRule(expr string, loc *time.Location) (err error) {
	defer func() {
		if recover() != nil {
			err = errRuleCompiler
		}
	}()
	_, err = policy.CompileRequestRule(expr, loc)
	return err
}

// cors checks an API's CORS policy (Fetch standard, "CORS protocol").
func (v *validator) cors(f string, c *CORS) {
	if len(c.AllowedOrigins) == 0 {
		v.add(f+".allowed_origins", "must list at least one origin (leave cors out to send no CORS headers)", nil)
	}
	for k, o := range c.AllowedOrigins {
		of := fmt.Sprintf("%s.allowed_origins[%d]", f, k)
		switch {
		case o == "*" && c.AllowCredentials:
			v.add(of, `"*" cannot be combined with allow_credentials (browsers refuse it): list the origins`, nil)
		case o == "*":
		case originProblem(o) != "":
			v.add(of, fmt.Sprintf("%q %s", o, originProblem(o)), nil)
		case slices.Contains(c.AllowedOrigins[:k], o):
			v.add(of, fmt.Sprintf("%q is listed twice", o), nil)
		}
	}
	for k, m := range c.AllowedMethods {
		if !slices.Contains(knownMethods, m) {
			v.add(fmt.Sprintf("%s.allowed_methods[%d]", f, k), fmt.Sprintf("%q is not one of %s; methods are case sensitive", m, strings.Join(knownMethods, ", ")), nil)
		}
	}
	v.corsHeaders(f+".allowed_headers", c.AllowedHeaders)
	v.corsHeaders(f+".exposed_headers", c.ExposedHeaders)
	v.duration(durationRule{f + ".max_age", c.MaxAge, time.Second, 24 * time.Hour, " (browsers cap it lower still)"})
}

// corsHeaders checks a CORS header list. "*" is refused: it never covers
// Authorization and means nothing with credentials, so listing the
// headers is the only way to say what is meant.
func (v *validator) corsHeaders(field string, names []string) {
	if k := slices.Index(names, "*"); k >= 0 {
		v.add(fmt.Sprintf("%s[%d]", field, k), `"*" does not cover Authorization and is ignored with credentials: list the headers`, nil)
		return
	}
	v.headerNames(field, names)
}

// originProblem says what is wrong with a CORS origin, or "" when
// nothing is. An origin is compared with the Origin header as browsers
// serialize it (RFC 6454 §6.1): lower case, no path, no default port.
func originProblem(o string) string {
	const shape = "is not an origin: http(s)://host[:port] such as https://app.example.com, or https://*.domain for its subdomains"
	if o != strings.ToLower(o) {
		return "must be lower case, as browsers send it"
	}
	scheme, rest, ok := strings.Cut(o, "://")
	if !ok || rest == "" {
		return shape
	}
	if scheme != "http" && scheme != "https" {
		return "is not an http or https origin"
	}
	if strings.ContainsAny(rest, "/?#@") {
		return "must not have a path, query, fragment or user information: an origin is scheme://host[:port]"
	}
	host, port, hasPort := rest, "", false
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return shape
		}
		a, err := netip.ParseAddr(rest[1:end])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return shape
		}
		after := rest[end+1:]
		if after != "" {
			p, ok := strings.CutPrefix(after, ":")
			if !ok {
				return shape
			}
			port, hasPort = p, true
		}
		host = ""
	} else if k := strings.LastIndexByte(rest, ':'); k >= 0 {
		host, port, hasPort = rest[:k], rest[k+1:], true
	}
	if hasPort {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
			return "has a port that is not a number from 1 to 65535"
		}
		if scheme == "http" && n == 80 || scheme == "https" && n == 443 {
			return fmt.Sprintf("names the default port %d, which browsers leave out of Origin: drop it", n)
		}
	}
	switch {
	case host == "":
		// An IPv6 literal, already checked.
	case strings.HasPrefix(host, "*."):
		domain := host[2:]
		if !isDNSName(domain) || !strings.Contains(domain, ".") {
			return "is a wildcard too wide or malformed: write scheme://*.example.com to allow the subdomains of example.com"
		}
	case isDNSName(host):
	default:
		return shape
	}
	return ""
}

// isDNSName reports a lower-case host name (RFC 1123 §2.1) or IPv4
// address: dot-separated labels of letters, digits and hyphens.
func isDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
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
		if strings.IndexFunc(fv.value, isControl) >= 0 {
			v.add(f+".tls."+fv.field, "must not contain control characters", nil)
		}
	}
}

// isToken reports an RFC 9110 §5.6.2 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 }
