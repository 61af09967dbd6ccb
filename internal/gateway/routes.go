package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/phantom"
	"github.com/portcullis/portcullis/internal/ratelimit"
	"github.com/portcullis/portcullis/internal/token"
)

// ConfigError is a gateway configuration New or Reload refuses, saying
// where the problem is.
type ConfigError struct {
	// API is the API's name (or base path when it has none); empty for
	// gateway-wide settings.
	API string
	// Operation is "METHOD /pattern"; empty when the error is not about
	// one operation.
	Operation string
	Err       error
}

// Error reads "gateway: api "x": operation "GET /y": why".
func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("gateway: ")
	if e.API != "" {
		b.WriteString("api " + strconv.Quote(e.API) + ": ")
	}
	if e.Operation != "" {
		b.WriteString("operation " + strconv.Quote(e.Operation) + ": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the cause.
func (e *ConfigError) Unwrap() error { return e.Err }

// acceptKinds is the set of token kinds an API accepts.
type acceptKinds uint8

const (
	acceptJWT acceptKinds = 1 << iota
	acceptOpaque
	acceptSplit
)

const defaultMaxBody = 1 << 20

// table is an immutable routing table, built once per configuration and
// swapped whole by Reload.
type table struct {
	// apis is sorted longest base path first, so the first match is the
	// most specific API.
	apis    []*apiRoute
	trusted trustedProxies
	// unmatched counts requests that matched no API.
	unmatched *opMetrics
	// limits are the plans and abuse rules (for Quotas).
	limits *limitTable
}

// apiRoute is one API of a table.
type apiRoute struct {
	name, version, base string
	router              router
	cors                *corsPolicy
	accepts             acceptKinds
	resolvers           *resolvers
	policy              requestRule
	maxBody             int64
	upstream            *upstream
	// RFC 6750 §3 challenges, rendered once: no credential (no error
	// code, §3.1), a bad one, a malformed request.
	challengeNone, challengeInvalid, challengeRequest []string
	// unmatched counts requests for the API that matched no operation.
	unmatched *opMetrics
}

// operation is one method and pattern of an API, with its chain.
type operation struct {
	method         string // "" for any
	pattern        *pattern
	label          string // "GET /items/{id}", for logs and metrics
	scopes         []string
	scopeChallenge []string
	public         bool
	policy         requestRule
	handler        http.Handler
	metrics        *opMetrics
}

// matchAPI finds the API whose base path is the longest prefix of path
// at a segment boundary.
func (t *table) matchAPI(path string) *apiRoute {
	for _, a := range t.apis {
		if strings.HasPrefix(path, a.base) && (len(path) == len(a.base) || path[len(a.base)] == '/') {
			return a
		}
	}
	return nil
}

// builder turns a configuration into a table, reusing what the previous
// one had (issuers with their caches, transports with their connections).
type builder struct {
	f       factory
	logger  *slog.Logger
	now     func() time.Time
	baseDir string
	getenv  func(string) string
	split   phantom.SplitSource
	metrics *metrics
	limiter ratelimit.Backend
	blocks  ratelimit.Blocks
	limitRT *limitRuntime
	lim     limitBuild

	oldIssuers    map[string]*issuer
	oldTransports map[transportKey]*http.Transport

	issuers    map[string]*issuer
	fresh      []*issuer // issuers created by this build, to start
	transports map[transportKey]*http.Transport
}

// build makes the table for cfg. Nothing it creates is started; on error
// the caller throws it all away.
func (b *builder) build(ctx context.Context, cfg *config.Gateway) (_ *table, err error) {
	t := &table{unmatched: b.metrics.forOp("", "")}
	for i, s := range cfg.TrustedProxies {
		p, err := parseTrusted(s)
		if err != nil {
			return nil, &ConfigError{Err: fmt.Errorf("trusted_proxies[%d]: %w", i, err)}
		}
		t.trusted = append(t.trusted, p)
	}
	loc := time.UTC
	if cfg.TimeZone != "" {
		l, err := time.LoadLocation(cfg.TimeZone)
		if err != nil {
			return nil, &ConfigError{Err: fmt.Errorf("time_zone: %w", err)}
		}
		loc = l
	}
	prefixes := cfg.StripHeaderPrefixes
	for i, p := range prefixes {
		if !isToken(p) {
			return nil, &ConfigError{Err: fmt.Errorf("strip_header_prefixes[%d] is not a header name prefix", i)}
		}
	}
	for i, h := range cfg.StripHeaders {
		if !isToken(h) {
			return nil, &ConfigError{Err: fmt.Errorf("strip_headers[%d] is not a header name", i)}
		}
	}
	strip := newStripSet(cfg.StripHeaders, prefixes)
	if t.limits, err = b.buildLimits(cfg, loc); err != nil {
		return nil, &ConfigError{Err: err}
	}

	b.issuers = map[string]*issuer{}
	b.transports = map[transportKey]*http.Transport{}
	// Reused issuers get their resolvers rebuilt (reusing those whose
	// audience set is still asked for); a failed build puts them back.
	prevCombos := map[*issuer]map[string]*resolvers{}
	defer func() {
		if err != nil {
			for is, c := range prevCombos {
				is.combos = c
			}
		}
	}()
	for i := range cfg.Issuers {
		is, err := b.issuer(cfg.Issuers[i])
		if err != nil {
			return nil, &ConfigError{Err: fmt.Errorf("issuers[%d]: %w", i, err)}
		}
		if _, dup := b.issuers[is.cfg.Issuer]; dup {
			return nil, &ConfigError{Err: fmt.Errorf("issuers[%d]: issuer %s listed twice", i, is.cfg.Issuer)}
		}
		b.issuers[is.cfg.Issuer] = is
		prevCombos[is] = is.combos
		is.combos = map[string]*resolvers{}
	}
	bases := map[string]bool{}
	for i := range cfg.APIs {
		a := &cfg.APIs[i]
		name := a.Name
		if name == "" {
			name = a.BasePath
		}
		if name == "" {
			name = "#" + strconv.Itoa(i)
		}
		api, err := b.api(ctx, cfg, a, loc, strip, prevCombos)
		if err != nil {
			var ce *ConfigError
			if errors.As(err, &ce) {
				ce.API = name
				return nil, ce
			}
			return nil, &ConfigError{API: name, Err: err}
		}
		if bases[api.base] {
			return nil, &ConfigError{API: name, Err: fmt.Errorf("base_path %s is used by another api", api.base)}
		}
		bases[api.base] = true
		t.apis = append(t.apis, api)
	}
	slices.SortStableFunc(t.apis, func(x, y *apiRoute) int { return len(y.base) - len(x.base) })
	return t, nil
}

// parseTrusted reads a CIDR or a single address; a prefix with host bits
// set is refused as the likely typo it is.
func parseTrusted(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if p != p.Masked() {
			return netip.Prefix{}, fmt.Errorf("%s has bits set beyond its length (did you mean %s?)", s, p.Masked())
		}
		if a := p.Addr(); a.Is4In6() {
			// Peers are compared unmapped; so are prefixes.
			if p.Bits() < 96 {
				return netip.Prefix{}, fmt.Errorf("%s mixes IPv4-mapped and IPv6 addresses", s)
			}
			return netip.PrefixFrom(a.Unmap(), p.Bits()-96), nil
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// issuer returns the issuer for c: the previous one when nothing changed
// (keeping its warm caches), else a new, not yet started one.
func (b *builder) issuer(c config.Issuer) (*issuer, error) {
	if c.Issuer == "" {
		return nil, errors.New("issuer is required")
	}
	if u, err := url.Parse(c.Issuer); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("issuer %q is not an absolute http(s) url", c.Issuer)
	}
	secret, err := readSecret(c, b.baseDir, b.getenv)
	if err != nil {
		return nil, fmt.Errorf("issuer %s: %w", c.Issuer, err)
	}
	is := &issuer{cfg: issuerDefaults(c), secret: secret}
	if old := b.oldIssuers[c.Issuer]; old != nil && sameIssuer(old, is) {
		return old, nil
	}
	is.keys = b.f.keys(token.JWKSConfig{Issuer: c.Issuer, JWKSURI: c.JWKSURI}, b.logger, b.now)
	is.endpoint = &introspectionEndpoint{issuer: c.Issuer, client: b.f.client, url: c.IntrospectionURL}
	b.fresh = append(b.fresh, is)
	return is, nil
}

func (b *builder) api(ctx context.Context, cfg *config.Gateway, c *config.API, loc *time.Location,
	strip *stripSet, prevCombos map[*issuer]map[string]*resolvers) (*apiRoute, error) {
	if c.Name == "" {
		return nil, errors.New("name is required")
	}
	if !isRealmSafe(c.Name) {
		return nil, errors.New("name must be printable ASCII without quotes or backslashes")
	}
	if err := checkBasePath(c.BasePath); err != nil {
		return nil, err
	}
	api := &apiRoute{
		name:    c.Name,
		version: c.Version,
		base:    c.BasePath,
		maxBody: c.MaxBodyBytes,
	}
	if api.version == "" {
		api.version = "v1"
	}
	if api.maxBody == 0 {
		api.maxBody = defaultMaxBody
	}
	if api.maxBody < 0 {
		return nil, errors.New("max_body_bytes must not be negative")
	}
	realm := `Bearer realm="` + c.Name + `"`
	api.challengeNone = []string{realm}
	api.challengeInvalid = []string{realm + `, error="invalid_token"`}
	api.challengeRequest = []string{realm + `, error="invalid_request"`}

	kinds := c.Tokens
	if len(kinds) == 0 {
		kinds = []string{config.TokenJWT, config.TokenOpaque, config.TokenSplit}
	}
	for _, k := range kinds {
		switch k {
		case config.TokenJWT:
			api.accepts |= acceptJWT
		case config.TokenOpaque:
			api.accepts |= acceptOpaque
		case config.TokenSplit:
			api.accepts |= acceptSplit
		default:
			return nil, fmt.Errorf("tokens: unknown kind %q (jwt, opaque, split)", k)
		}
	}
	var err error
	if api.cors, err = compileCORS(c.CORS); err != nil {
		return nil, fmt.Errorf("cors: %w", err)
	}
	if c.Policy != "" {
		if api.policy, err = b.f.rule(c.Policy, loc); err != nil {
			return nil, fmt.Errorf("policy: %w", err)
		}
	}

	ops, err := b.operations(c, loc)
	if err != nil {
		return nil, err
	}
	needsToken := false
	for _, op := range ops {
		needsToken = needsToken || !op.public
	}
	if needsToken {
		is, err := b.issuerFor(cfg, c)
		if err != nil {
			return nil, err
		}
		if api.accepts&acceptOpaque != 0 && is.cfg.ClientID == "" {
			return nil, fmt.Errorf("accepts opaque tokens but issuer %s has no client_id for introspection", is.cfg.Issuer)
		}
		if api.resolvers, err = is.resolversFor(ctx, b, c.Audiences, prevCombos[is]); err != nil {
			return nil, err
		}
	}

	target, err := url.Parse(c.Upstream)
	if err != nil || target.Host == "" || (target.Scheme != "http" && target.Scheme != "https") ||
		target.User != nil || target.Fragment != "" {
		return nil, errors.New("upstream must be an absolute http(s) url without credentials or fragment")
	}
	key, mk, err := transportFor(c, target, b.baseDir)
	if err != nil {
		return nil, err
	}
	tr := b.transports[key]
	if tr == nil {
		tr = b.oldTransports[key]
		if tr == nil {
			tr = mk()
		}
		b.transports[key] = tr
	}
	api.upstream = newUpstream(c.Name, c.BasePath, target, tr, api.cors != nil, b.logger)
	api.unmatched = b.metrics.forOp(c.Name, "")

	for j, op := range ops {
		op.metrics = b.metrics.forOp(c.Name, op.label)
		sc := &stepConfig{api: api, op: op, strip: strip, loc: loc, now: b.now}
		// The configured operations come first in ops, in order; those
		// of an OpenAPI document have no limits of their own.
		var opCfg []config.Limit
		if j < len(c.Operations) {
			opCfg = c.Operations[j].Limits
		}
		if sc.limits, err = b.opLimitsFor(c.Name, op.label, c.Limits, opCfg, op.public, loc); err != nil {
			return nil, &ConfigError{Operation: op.label, Err: err}
		}
		if op.handler, err = buildChain(sc, api.upstream); err != nil {
			return nil, &ConfigError{Operation: op.label, Err: err}
		}
		if err := api.router.add(op); err != nil {
			return nil, &ConfigError{Operation: op.label, Err: err}
		}
	}
	return api, nil
}

// issuerFor is the issuer whose tokens the API accepts.
func (b *builder) issuerFor(cfg *config.Gateway, c *config.API) (*issuer, error) {
	if c.Issuer == "" {
		if len(cfg.Issuers) != 1 {
			return nil, fmt.Errorf("needs a token but names no issuer, and the gateway has %d", len(cfg.Issuers))
		}
		return b.issuers[cfg.Issuers[0].Issuer], nil
	}
	is := b.issuers[c.Issuer]
	if is == nil {
		return nil, fmt.Errorf("issuer %s is not among the gateway's issuers", c.Issuer)
	}
	return is, nil
}

// operations collects the configured operations and those of the API's
// OpenAPI document.
func (b *builder) operations(c *config.API, loc *time.Location) ([]*operation, error) {
	var ops []*operation
	add := func(method, path string, scopes []string, public bool, rule string) error {
		op, err := b.operation(c, method, path, scopes, public, rule, loc)
		if err != nil {
			return err
		}
		ops = append(ops, op)
		return nil
	}
	for _, o := range c.Operations {
		if err := add(o.Method, o.Path, o.Scopes, o.Public, o.Policy); err != nil {
			return nil, err
		}
	}
	if c.OpenAPI != "" {
		data, err := os.ReadFile(resolvePath(b.baseDir, c.OpenAPI))
		if err != nil {
			return nil, fmt.Errorf("openapi: %w", err)
		}
		doc, err := b.f.openapi(data)
		if err != nil {
			return nil, fmt.Errorf("openapi %s: %w", c.OpenAPI, err)
		}
		for _, o := range doc.Operations {
			if err := add(o.Method, o.Path, o.Scopes, o.Public, ""); err != nil {
				return nil, fmt.Errorf("openapi %s: %w", c.OpenAPI, err)
			}
		}
	}
	return ops, nil
}

func (b *builder) operation(c *config.API, method, path string, scopes []string, public bool,
	rule string, loc *time.Location) (*operation, error) {
	m := strings.ToUpper(method)
	if m == "*" {
		m = ""
	}
	labelMethod := m
	if m == "" {
		labelMethod = "*"
	}
	label := labelMethod + " " + path
	if m != "" && !isToken(m) {
		return nil, &ConfigError{Operation: label, Err: errors.New("method is not an HTTP method")}
	}
	pt, err := parsePattern(path)
	if err != nil {
		return nil, &ConfigError{Operation: label, Err: err}
	}
	op := &operation{method: m, pattern: pt, label: label, public: public || c.Public}
	for _, s := range scopes {
		if !isScopeToken(s) {
			return nil, &ConfigError{Operation: label, Err: fmt.Errorf("scope %q is not a scope token (RFC 6749 §3.3)", s)}
		}
		if !contains(op.scopes, s) {
			op.scopes = append(op.scopes, s)
		}
	}
	if len(op.scopes) > 0 {
		op.scopeChallenge = []string{`Bearer realm="` + c.Name + `", error="insufficient_scope", scope="` +
			strings.Join(op.scopes, " ") + `"`}
	}
	if rule != "" {
		if op.policy, err = b.f.rule(rule, loc); err != nil {
			return nil, &ConfigError{Operation: label, Err: fmt.Errorf("policy: %w", err)}
		}
	}
	return op, nil
}

// isScopeToken is RFC 6749 §3.3 scope-token: %x21 / %x23-5B / %x5D-7E.
func isScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c == '"' || c == '\\' || c > 0x7e {
			return false
		}
	}
	return true
}

// isRealmSafe reports whether s can go in a quoted-string realm as is.
func isRealmSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return s != ""
}

// checkBasePath accepts "/name[/name...]" of unreserved characters, so its
// escaped and unescaped forms are the same and stripping it from either
// is exact.
func checkBasePath(p string) error {
	if p == "" || p[0] != '/' || p == "/" || strings.HasSuffix(p, "/") {
		return fmt.Errorf("base_path %q must start with / and not end with one", p)
	}
	for seg := range strings.SplitSeq(p[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("base_path %q has an empty or dot segment", p)
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
				return fmt.Errorf("base_path %q may hold only letters, digits and -._~", p)
			}
		}
	}
	return nil
}

// stepConfig is what a chain step is built from.
type stepConfig struct {
	api   *apiRoute
	op    *operation
	strip *stripSet
	loc   *time.Location
	now   func() time.Time
	// limits are the operation's rate limits; nil when it has none to
	// check.
	limits *opLimits
}

// stepConstructor builds one step around next; a step with nothing to do
// for the operation returns next itself, so a request pays only for what
// its route enables.
type stepConstructor func(c *stepConfig, next http.Handler) (http.Handler, error)

// chainSteps are the phases of DESIGN's request path, outermost first.
// Request inspection slots in between limits and body when its package
// exists.
var chainSteps = []struct {
	name  string
	build stepConstructor
}{
	{"cors", newCORS},
	{"credentials", newCredentials},
	{"resolve", newResolve},
	{"scope", newScope},
	{"policy", newPolicy},
	{"limits", newLimits},
	{"body", newBodyLimit},
	{"headers", newHeaders},
}

// buildChain wraps the proxy in every step, innermost last.
func buildChain(c *stepConfig, proxy http.Handler) (http.Handler, error) {
	h := proxy
	for i := len(chainSteps) - 1; i >= 0; i-- {
		s := chainSteps[i]
		next, err := s.build(c, h)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		h = next
	}
	return h, nil
}
