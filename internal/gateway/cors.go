package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/catalog"
)

// corsPolicy is an API's compiled cross-origin policy (Fetch standard,
// "CORS protocol"). Header values are rendered once.
type corsPolicy struct {
	anyOrigin bool
	exact     map[string]bool
	wildcards []wildcardOrigin

	methods     []string
	headers     []string // lower case
	credentials bool

	allowMethods  []string
	allowHeaders  []string
	exposeHeaders []string
	maxAge        []string
}

// wildcardOrigin is "scheme://*.suffix[:port]": one or more labels in
// front of suffix, the same scheme and port, never the bare suffix.
type wildcardOrigin struct {
	scheme string // "https://"
	suffix string // ".example.com"
	port   string // ":8443" or ""
}

var (
	headerVaryOrigin    = []string{"Origin"}
	headerVaryPreflight = []string{"Origin, Access-Control-Request-Method, Access-Control-Request-Headers"}
	headerAnyOrigin     = []string{"*"}
	headerTrue          = []string{"true"}
)

var errCORS = errors.New("invalid cors")

// compileCORS renders a validated CORS policy (nil: none). Defaults are
// applied and origins checked by the catalog; only a wildcard's parts
// are worked out here.
func compileCORS(c *catalog.CORS) (*corsPolicy, error) {
	if c == nil {
		return nil, nil
	}
	p := &corsPolicy{exact: map[string]bool{}, credentials: c.AllowCredentials, methods: c.AllowedMethods}
	for _, o := range c.AllowedOrigins {
		switch {
		case o == "*":
			p.anyOrigin = true
		case strings.Contains(o, "*"):
			w, err := parseWildcardOrigin(o)
			if err != nil {
				return nil, err
			}
			p.wildcards = append(p.wildcards, w)
		default:
			p.exact[strings.ToLower(o)] = true
		}
	}
	for _, h := range c.AllowedHeaders {
		p.headers = append(p.headers, strings.ToLower(h))
	}
	p.allowMethods = []string{strings.Join(p.methods, ", ")}
	p.allowHeaders = []string{strings.Join(c.AllowedHeaders, ", ")}
	if len(c.ExposedHeaders) > 0 {
		p.exposeHeaders = []string{strings.Join(c.ExposedHeaders, ", ")}
	}
	p.maxAge = []string{strconv.FormatInt(int64(c.MaxAge.Duration()/time.Second), 10)}
	return p, nil
}

// checkOrigin accepts a serialized origin: scheme "://" host [":" port],
// nothing else.
func checkOrigin(o string) error {
	scheme, hostport, ok := strings.Cut(o, "://")
	if !ok || (scheme != "http" && scheme != "https") || hostport == "" ||
		strings.ContainsAny(hostport, "/?#@ \\") {
		return fmt.Errorf("%w: origin %q must be scheme://host[:port]", errCORS, o)
	}
	return nil
}

// parseWildcardOrigin splits "scheme://*.domain[:port]" into what
// wildcardOrigin.matches compares.
func parseWildcardOrigin(o string) (wildcardOrigin, error) {
	bad := fmt.Errorf("%w: origin %q: a wildcard must read scheme://*.domain[:port]", errCORS, o)
	if err := checkOrigin(o); err != nil {
		return wildcardOrigin{}, bad
	}
	scheme, hostport, _ := strings.Cut(o, "://")
	rest, ok := strings.CutPrefix(hostport, "*.")
	if !ok || strings.Contains(rest, "*") || rest == "" {
		return wildcardOrigin{}, bad
	}
	w := wildcardOrigin{scheme: strings.ToLower(scheme) + "://"}
	if i := strings.LastIndexByte(rest, ':'); i >= 0 {
		if _, err := strconv.ParseUint(rest[i+1:], 10, 16); err != nil {
			return wildcardOrigin{}, bad
		}
		w.port = rest[i:]
		rest = rest[:i]
	}
	// At least a registrable-looking domain: a wildcard over a bare TLD
	// ("https://*.com") would trust half the internet.
	if !strings.Contains(rest, ".") || !isHostname(rest) {
		return wildcardOrigin{}, bad
	}
	w.suffix = "." + strings.ToLower(rest)
	return w, nil
}

// allowed reports whether origin may read responses.
func (p *corsPolicy) allowed(origin string) bool {
	if origin == "" || origin == "null" {
		// "null" is what sandboxed frames and file: pages send; it names
		// no one and is never allowed.
		return false
	}
	if p.anyOrigin || p.exact[origin] {
		return true
	}
	for _, w := range p.wildcards {
		if w.matches(origin) {
			return true
		}
	}
	return false
}

func (w wildcardOrigin) matches(origin string) bool {
	if len(origin) <= len(w.scheme) || !asciiEqualFold(origin[:len(w.scheme)], w.scheme) {
		return false
	}
	hostport := origin[len(w.scheme):]
	host, port := hostport, ""
	if i := strings.LastIndexByte(hostport, ':'); i >= 0 {
		host, port = hostport[:i], hostport[i:]
	}
	if port != w.port || len(host) <= len(w.suffix) {
		return false
	}
	cut := len(host) - len(w.suffix)
	if !asciiEqualFold(host[cut:], w.suffix) {
		return false
	}
	return isHostname(host[:cut])
}

// isHostname reports whether s is dot-separated labels of letters,
// digits and inner hyphens.
func isHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// isToken is RFC 9110 §5.6.2 token syntax.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// isPreflight reports a CORS-preflight request (Fetch §3.2.2).
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && len(r.Header["Origin"]) > 0 &&
		len(r.Header["Access-Control-Request-Method"]) > 0
}

// corsStep answers preflights and adds the CORS response headers for
// allowed origins. It runs before credentials, so a browser's preflight
// (which never carries a token) gets its answer, and a 401 for an allowed
// origin stays readable to the page.
type corsStep struct {
	p    *corsPolicy
	next http.Handler
}

func newCORS(c *stepConfig, next http.Handler) (http.Handler, error) {
	if c.api.cors == nil {
		return next, nil
	}
	return &corsStep{p: c.api.cors, next: next}, nil
}

func (s *corsStep) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ex := exchangeOf(w)
	h := ex.rw.Header()
	if ex.preflight {
		s.preflight(ex, r)
		return
	}
	// The answer depends on Origin whether or not one was sent, so caches
	// must key on it (Fetch §3.2.5 "CORS protocol and HTTP caches").
	h["Vary"] = headerVaryOrigin
	origins := r.Header["Origin"]
	if len(origins) == 1 && s.p.allowed(origins[0]) {
		s.allow(h, origins[0])
		if s.p.exposeHeaders != nil {
			h["Access-Control-Expose-Headers"] = s.p.exposeHeaders
		}
	}
	s.next.ServeHTTP(w, r)
}

func (s *corsStep) allow(h http.Header, origin string) {
	if s.p.anyOrigin {
		h["Access-Control-Allow-Origin"] = headerAnyOrigin
	} else {
		h["Access-Control-Allow-Origin"] = []string{origin}
	}
	if s.p.credentials {
		h["Access-Control-Allow-Credentials"] = headerTrue
	}
}

// preflight answers 204 with the policy, or 403 without any CORS header
// when the origin, method or a requested header is not allowed.
func (s *corsStep) preflight(ex *exchange, r *http.Request) {
	h := ex.rw.Header()
	h["Vary"] = headerVaryPreflight
	origins := r.Header["Origin"]
	if len(origins) != 1 || !s.p.allowed(origins[0]) ||
		!s.p.methodAllowed(r.Header.Get("Access-Control-Request-Method")) ||
		!s.p.headersAllowed(r.Header["Access-Control-Request-Headers"]) {
		ex.reason = "cors"
		ex.problem(problemAccessDenied, decisionDenyCORS)
		return
	}
	s.allow(h, origins[0])
	h["Access-Control-Allow-Methods"] = s.p.allowMethods
	h["Access-Control-Allow-Headers"] = s.p.allowHeaders
	h["Access-Control-Max-Age"] = s.p.maxAge
	ex.decision = decisionPreflight
	ex.WriteHeader(http.StatusNoContent)
}

func (p *corsPolicy) methodAllowed(m string) bool {
	for _, have := range p.methods {
		if have == m {
			return true
		}
	}
	return false
}

// headersAllowed checks Access-Control-Request-Headers: a comma-separated
// list (possibly over several lines) of names, each allowed.
func (p *corsPolicy) headersAllowed(lines []string) bool {
	for _, line := range lines {
		for name := range strings.SplitSeq(line, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			if !isToken(name) {
				return false
			}
			ok := false
			for _, have := range p.headers {
				if asciiEqualFold(name, have) {
					ok = true
					break
				}
			}
			if !ok {
				return false
			}
		}
	}
	return true
}
