package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/portcullis/portcullis/internal/backendtoken"
	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/clientcert"
	"github.com/portcullis/portcullis/internal/phantom"
	"github.com/portcullis/portcullis/internal/ratelimit"
	"github.com/portcullis/portcullis/internal/token"
	"github.com/portcullis/portcullis/pkg/verify"
)

// ConfigError is a catalog snapshot New or Reload refuses, saying where
// the problem is. When the catalog's validation refused it, Err joins
// the *catalog.FieldError problems and API and Operation are empty.
type ConfigError struct {
	// API is the API's name (or base path when it has none); empty for
	// gateway-wide settings.
	API string
	// Operation is "METHOD /pattern"; empty when the error is not about
	// one operation.
	Operation string
	Err       error
}

// Error reads `api "x": operation "GET /y": why`. It does not say
// "gateway": the caller that adds that context says it once.
func (e *ConfigError) Error() string {
	var b strings.Builder
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

// table is an immutable routing table, built once per snapshot and
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
	// responseKeys is the JWKS of the APIs' response signing keys
	// (signing.go); nil when no API signs.
	responseKeys []byte
}

// apiRoute is one API of a table.
type apiRoute struct {
	// base is the normalized base path; strip is what is cut off a
	// request's path before its operation is matched: base, or nothing
	// for "/".
	name, version, base, strip string
	router                     router
	cors                       *corsPolicy
	accepts                    acceptKinds
	resolvers                  *resolvers
	policy                     requestRule
	maxBody                    int64
	// pathParams lets request paths hold ';' (allow_path_parameters).
	pathParams bool
	upstream   *upstream
	// requestTimeout bounds reading a call's request, responseTimeout
	// the whole call (timeouts.request, timeouts.response).
	requestTimeout, responseTimeout time.Duration
	// RFC 6750 §3 challenges, rendered once: no credential (no error
	// code, §3.1), a bad one, a malformed request.
	challengeNone, challengeInvalid, challengeRequest []string
	// unmatched counts requests for the API that matched no operation.
	unmatched *opMetrics
	// lifecycle announces the version's deprecation and sunset on every
	// response for it.
	lifecycle lifecycle
	// waf is the API's compiled rule sets; nil when it has no WAF.
	waf *apiWAF
	// validation is the API's validation settings and its OpenAPI
	// document's compiled contract (validate.go).
	validation *apiValidation
	// dpop is the API's DPoP mode and challenges (dpop.go).
	dpop dpopPolicy
	// mtls is the API's certificate-binding mode (mtls.go).
	mtls mtlsPolicy
	// backendToken obtains the token sent upstream; nil forwards the
	// caller's verified JWT (backend_token.go).
	backendToken *backendtoken.Source
}

// operation is one method and pattern of an API, with its chain.
type operation struct {
	method         string // "" for any
	pattern        *pattern
	label          string // "GET /items/{id}", for logs and metrics
	scopes         []string
	scopeChallenge []string
	public         bool
	// websocket lets the operation's requests upgrade to WebSocket
	// (upgrade: websocket); no other upgrade ever passes.
	websocket bool
	policy    requestRule
	handler   http.Handler
	metrics   *opMetrics
}

// matchAPI finds the API whose base path is the longest prefix of path
// at a segment boundary (catalog.BasePathMatches): t.apis is sorted
// longest first, so the first match wins, and "/" matches last.
func (t *table) matchAPI(path string) *apiRoute {
	for _, a := range t.apis {
		if catalog.BasePathMatches(a.base, path) {
			return a
		}
	}
	return nil
}

// builder turns a snapshot into a table, reusing what the previous
// one had (issuers with their caches, transports with their connections).
type builder struct {
	f      factory
	logger *slog.Logger
	// root names no component; the JWKS caches add their own.
	root *slog.Logger
	now  func() time.Time
	// tracer is the gateway's; nil when tracing is off.
	tracer  trace.Tracer
	baseDir string
	getenv  func(string) string
	split   phantom.SplitSource
	// clientKeys finds clients' registered keys; nil when none.
	clientKeys ClientKeys
	// dpopReplay remembers accepted DPoP proofs (dpop.go).
	dpopReplay verify.ReplayCache
	// clientCerts is where client certificates come from (mtls.go).
	clientCerts clientcert.Source
	metrics     *metrics
	limiter     ratelimit.Backend
	blocks      ratelimit.Blocks
	limitRT     *limitRuntime
	lim         limitBuild
	// preAuthMem counts the pre-authentication limit; preAuth is the
	// limit compiled for this table (nil when it has none).
	preAuthMem *ratelimit.Memory
	preAuth    *preAuthLimit

	oldIssuers map[string]*issuer
	// oldBackend are the previous table's upstream token sources, backend
	// this one's (backend_token.go); backendShared is the gateway's
	// shared cache for them, nil when none.
	oldBackend    map[string]*backendtoken.Source
	backend       map[string]*backendtoken.Source
	backendShared backendtoken.Shared
	oldTransports map[transportKey]*http.Transport
	// limitNames are the snapshot's limit names and those of the
	// OpenAPI documents read so far, unique across all of them; nil
	// until the first document is read.
	limitNames catalog.LimitNames

	issuers    map[string]*issuer
	fresh      []*issuer // issuers created by this build, to start
	transports map[transportKey]*http.Transport
}

// build makes the table for s, which Reload has defaulted and validated:
// what is left to check here needs the running process (files, secrets,
// compiled rules). Nothing it creates is started; on error the caller
// throws it all away.
func (b *builder) build(ctx context.Context, s *catalog.Snapshot) (_ *table, err error) {
	t := &table{unmatched: b.metrics.forOp("", "", ""), trusted: s.TrustedProxyPrefixes()}
	loc := s.Location()
	// The proxy's client-certificate header is the gateway's to read and
	// never the upstream's: forward_client_cert sets Client-Cert anew.
	strip := newStripSet(slices.Concat(s.StripHeaders, []string{b.clientCerts.Header}), s.StripHeaderPrefixes)
	if t.limits, err = b.buildLimits(s, loc); err != nil {
		return nil, &ConfigError{Err: err}
	}
	if b.preAuth, err = newPreAuthLimit(s.PreAuthLimit, b.preAuthMem, b.limitRT.keys); err != nil {
		return nil, &ConfigError{Err: err}
	}

	b.issuers = map[string]*issuer{}
	b.transports = map[transportKey]*http.Transport{}
	b.backend = map[string]*backendtoken.Source{}
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
	for i := range s.Issuers {
		is, err := b.issuer(s.Issuers[i])
		if err != nil {
			return nil, &ConfigError{Err: fmt.Errorf("issuers[%d]: %w", i, err)}
		}
		b.issuers[is.cfg.Issuer] = is
		prevCombos[is] = is.combos
		is.combos = map[string]*resolvers{}
	}
	for i := range s.APIs {
		a := &s.APIs[i]
		api, err := b.api(ctx, s, a, loc, strip, prevCombos)
		if err != nil {
			var ce *ConfigError
			if errors.As(err, &ce) {
				ce.API = a.Name
				return nil, ce
			}
			return nil, &ConfigError{API: a.Name, Err: err}
		}
		t.apis = append(t.apis, api)
	}
	slices.SortStableFunc(t.apis, func(x, y *apiRoute) int { return len(y.base) - len(x.base) })
	if t.responseKeys, err = responseKeySet(t.apis); err != nil {
		return nil, err
	}
	return t, nil
}

// issuer returns the issuer for c: the previous one when nothing changed
// (keeping its warm caches), else a new, not yet started one.
func (b *builder) issuer(c catalog.Issuer) (*issuer, error) {
	secret, err := readSecret(c, b.baseDir, b.getenv)
	if err != nil {
		return nil, err
	}
	is := &issuer{cfg: c, secret: secret}
	if old := b.oldIssuers[c.Issuer]; old != nil && sameIssuer(old, is) {
		return old, nil
	}
	is.keys = b.f.keys(token.JWKSConfig{Issuer: c.Issuer, JWKSURI: c.JWKSURI}, b.root, b.now)
	is.endpoint = &introspectionEndpoint{issuer: c.Issuer, client: b.f.client, url: c.IntrospectionURL, now: b.now}
	is.calls = phantom.NewCallLimit(c.MaxIntrospections)
	b.fresh = append(b.fresh, is)
	return is, nil
}

func (b *builder) api(ctx context.Context, s *catalog.Snapshot, c *catalog.API, loc *time.Location,
	strip *stripSet, prevCombos map[*issuer]map[string]*resolvers) (*apiRoute, error) {
	base := catalog.NormalizeBasePath(c.BasePath)
	cut := base
	if base == "/" {
		cut = ""
	}
	api := &apiRoute{
		name:    c.Name,
		version: c.Version,
		base:    base,
		strip:   cut,
		maxBody: c.MaxBodyBytes,

		pathParams: c.AllowPathParameters,

		requestTimeout:  c.Timeouts.Request.Duration(),
		responseTimeout: c.Timeouts.Response.Duration(),
	}
	// The name is safe in a quoted-string realm as it is: the catalog's
	// name syntax has no quotes, backslashes or controls.
	realm := `Bearer realm="` + c.Name + `"`
	api.challengeNone = []string{realm}
	api.challengeInvalid = []string{realm + `, error="invalid_token"`}
	api.challengeRequest = []string{realm + `, error="invalid_request"`}
	api.setDPoP(c.DPoP)
	api.setMTLS(c.MTLS, c.ForwardClientCert)

	for _, k := range c.Tokens {
		switch k {
		case catalog.TokenJWT:
			api.accepts |= acceptJWT
		case catalog.TokenOpaque:
			api.accepts |= acceptOpaque
		case catalog.TokenSplit:
			api.accepts |= acceptSplit
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
	if api.waf, err = newAPIWAF(c); err != nil {
		return nil, fmt.Errorf("waf: %w", err)
	}

	ops, imported, doc, err := b.operations(s, c, loc)
	if err != nil {
		return nil, err
	}
	if api.validation, err = newAPIValidation(c, doc); err != nil {
		return nil, fmt.Errorf("validation: %w", err)
	}
	needsToken := false
	for _, op := range ops {
		needsToken = needsToken || !op.public
	}
	if needsToken {
		// Validate made sure the issuer exists and, for opaque tokens,
		// has a client_id; the snapshot's issuers are those built.
		is := b.issuers[s.IssuerFor(c).Issuer]
		if api.resolvers, err = is.resolversFor(ctx, b, c.Audiences, prevCombos[is]); err != nil {
			return nil, err
		}
	}

	target, err := url.Parse(c.Upstream)
	if err != nil {
		return nil, fmt.Errorf("upstream: %w", err)
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
	api.lifecycle = newLifecycle(c.Deprecation, c.Sunset)
	filter := newResponseFilter(c.ResponseHeaders, api.cors != nil)
	filter.passErrors = c.UpstreamErrors == catalog.UpstreamErrorsPass
	filter.security = newSecurityHeaders(c.SecurityHeaders)
	filter.lifecycle = api.lifecycle
	filter.fields = hasResponseRules(c) || slices.ContainsFunc(imported, func(o catalog.Operation) bool { return o.Response != nil })
	if filter.signer, err = b.responseSigner(c); err != nil {
		return nil, fmt.Errorf("response_signing: %w", err)
	}
	api.upstream = newUpstream(c.Name, cut, target, tr, filter, b.logger)
	// With tracing on, each upstream call is a client span whose
	// traceparent replaces the one the client sent (proxy.go).
	api.upstream.traced = b.tracer != nil
	if api.backendToken, err = b.backendSource(s, c); err != nil {
		return nil, err
	}
	api.unmatched = b.metrics.forOp(c.Name, c.Version, "")

	for j, op := range ops {
		op.metrics = b.metrics.forOp(c.Name, c.Version, op.label)
		sc := &stepConfig{api: api, op: op, strip: strip, loc: loc, now: b.now, preAuth: b.preAuth, limitRT: b.limitRT}
		sc.getenv = b.getenv
		sc.clientKeys = b.clientKeys
		sc.dpopReplay = b.dpopReplay
		sc.clientCerts = b.clientCerts
		sc.apiCfg = c
		// The declared operations come first in ops, in order, then
		// those of the OpenAPI document.
		if j < len(c.Operations) {
			sc.opCfg = &c.Operations[j]
		} else {
			sc.opCfg, sc.imported = &imported[j-len(c.Operations)], true
		}
		if sc.limits, err = b.opLimitsFor(c.Name, op.label, c.Limits, sc.opCfg.Limits, op.public, loc); err != nil {
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

// operations collects the declared operations and those of the API's
// OpenAPI document, whose catalog entries (their x-portcullis-*
// extensions decoded) it returns as imported, checked as Validate checks
// declared ones and their limit names unique across the snapshot. It
// returns the document as read (nil when the API has none), so that its
// schemas come from the same bytes.
func (b *builder) operations(s *catalog.Snapshot, c *catalog.API, loc *time.Location) (ops []*operation, imported []catalog.Operation, doc []byte, err error) {
	for _, o := range c.Operations {
		op, err := b.operation(c, o, loc)
		if err != nil {
			return nil, nil, nil, err
		}
		ops = append(ops, op)
	}
	if c.OpenAPI == "" {
		return ops, nil, nil, nil
	}
	data, err := os.ReadFile(resolvePath(b.baseDir, c.OpenAPI))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("openapi: %w", err)
	}
	im, err := b.f.openapi(data)
	if err != nil {
		// The importer's errors start with "openapi: " already.
		return nil, nil, nil, fmt.Errorf("%s: %w", c.OpenAPI, err)
	}
	im.ApplyDefaults()
	if b.limitNames == nil {
		b.limitNames = s.LimitNames()
	}
	if err := im.Check(s, c, c.OpenAPI, b.limitNames); err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", c.OpenAPI, err)
	}
	for _, o := range im.Operations {
		op, err := b.operation(c, o, loc)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("openapi %s: %w", c.OpenAPI, err)
		}
		ops = append(ops, op)
	}
	return ops, im.Operations, data, nil
}

// operation compiles one operation: its pattern, scopes and policy. The
// declared ones are validated, those of an OpenAPI document checked
// alike (OpenAPIImport.Check); patterns are checked here again.
func (b *builder) operation(c *catalog.API, o catalog.Operation, loc *time.Location) (*operation, error) {
	m := strings.ToUpper(o.Method)
	if m == "*" {
		m = ""
	}
	labelMethod := m
	if m == "" {
		labelMethod = "*"
	}
	label := labelMethod + " " + o.Path
	pt, err := parsePattern(o.Path)
	if err != nil {
		return nil, &ConfigError{Operation: label, Err: err}
	}
	op := &operation{method: m, pattern: pt, label: label, public: o.Public || c.Public,
		websocket: o.Upgrade == catalog.UpgradeWebSocket}
	for _, s := range o.Scopes {
		if !contains(op.scopes, s) {
			op.scopes = append(op.scopes, s)
		}
	}
	if len(op.scopes) > 0 {
		op.scopeChallenge = []string{`Bearer realm="` + c.Name + `", error="insufficient_scope", scope="` +
			strings.Join(op.scopes, " ") + `"`}
	}
	if o.Policy != "" {
		if op.policy, err = b.f.rule(o.Policy, loc); err != nil {
			return nil, &ConfigError{Operation: label, Err: fmt.Errorf("policy: %w", err)}
		}
	}
	return op, nil
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
	// preAuth is the pre-authentication limit; nil when there is none.
	preAuth *preAuthLimit
	limitRT *limitRuntime
	// opCfg is the operation's catalog entry: as declared, or as its
	// OpenAPI document and x-portcullis-* extensions say (imported).
	opCfg *catalog.Operation
	// imported is true for an operation of the API's OpenAPI document:
	// its request and response contract are the document's, not
	// opCfg.Validation's (which sets modes only).
	imported bool
	// getenv reads the keys of encrypt field rules.
	getenv func(string) string
	// clientKeys finds the calling client's registered keys; nil when
	// the gateway has no source (steps that need one refuse to build).
	clientKeys ClientKeys
	// apiCfg is the API as declared, for settings an operation inherits.
	apiCfg *catalog.API
	// dpopReplay remembers the DPoP proofs accepted (dpop.go).
	dpopReplay verify.ReplayCache
	// clientCerts finds a request's client certificate (mtls.go).
	clientCerts clientcert.Source
}

// stepConstructor builds one step around next; a step with nothing to do
// for the operation returns next itself, so a request pays only for what
// its route enables.
type stepConstructor func(c *stepConfig, next http.Handler) (http.Handler, error)

// chainSteps are the phases of DESIGN's request path, outermost first.
// The body is bounded before anything reads it; validation guards and
// checks it against the contract before the WAF inspects it, so the WAF
// sees only well-formed input (readBody shares one read between them).
var chainSteps = []struct {
	name  string
	build stepConstructor
}{
	{"cors", newCORS},
	{"credentials", newCredentials},
	{"resolve", newResolve},
	{"dpop", newDPoP},
	// After dpop: a token bound to a key and a certificate meets both.
	{"mtls", newMTLS},
	{"scope", newScope},
	{"request_signatures", newRequestSignatures},
	{"policy", newPolicy},
	{"limits", newLimits},
	{"body", newBodyLimit},
	{"validate", newValidate},
	{"waf", newWAF},
	{"headers", newHeaders},
	// After headers, which set the caller's verified JWT: an API with
	// upstream_token sends the token obtained for its upstream instead.
	{"upstream_token", newBackendToken},
	{"rewrite", newRewrite},
	{"fields", newFieldRules},
	// Innermost: the answer as the proxy writes it, held and checked
	// against the response schemas before any outer step sees it.
	{"validate_response", newValidateResponse},
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
