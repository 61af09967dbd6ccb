package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/phantom"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/token"
)

const (
	// discoveryRetry spaces attempts to discover an introspection
	// endpoint after one failed, so requests do not hammer the issuer.
	discoveryRetry = 30 * time.Second
	// discoveryTimeout bounds one discovery, which runs detached from
	// the requests waiting for it.
	discoveryTimeout = 10 * time.Second
)

// keySource is what the gateway needs of a JWKS cache (*token.JWKSCache).
type keySource interface {
	Start(ctx context.Context) error
	Ready() bool
	Refreshes() uint64
}

// tokenResolver turns a presented token into a verified JWT
// (*phantom.Introspector, *phantom.SplitResolver).
type tokenResolver interface {
	Resolve(ctx context.Context, raw string) (*token.Verified, error)
}

// cacheStats is implemented by resolvers that cache.
type cacheStats interface{ Stats() phantom.Stats }

var (
	_ keySource           = (*token.JWKSCache)(nil)
	_ phantom.JWTVerifier = (*token.Verifier)(nil)
	_ tokenResolver       = (*phantom.Introspector)(nil)
	_ tokenResolver       = (*phantom.SplitResolver)(nil)
	_ cacheStats          = (*phantom.Introspector)(nil)
	_ cacheStats          = (*phantom.SplitResolver)(nil)
)

// factory makes the gateway's collaborators. Production uses the token,
// phantom, policy and catalog packages; tests substitute fakes.
type factory struct {
	keys         func(cfg token.JWKSConfig, logger *slog.Logger, now func() time.Time) keySource
	verifier     func(cfg token.VerifierConfig, keys keySource, now func() time.Time) (phantom.JWTVerifier, error)
	introspector func(cfg phantom.IntrospectorConfig, v phantom.JWTVerifier, logger *slog.Logger, now func() time.Time) (tokenResolver, error)
	split        func(src phantom.SplitSource, v phantom.JWTVerifier, cfg phantom.IntrospectorConfig, logger *slog.Logger, now func() time.Time) tokenResolver
	rule         func(expr string, loc *time.Location) (requestRule, error)
	openapi      func(data []byte) (*catalog.OpenAPIImport, error)
	// client fetches discovery documents.
	client *http.Client
}

func productionFactory() factory {
	return factory{
		keys: func(cfg token.JWKSConfig, logger *slog.Logger, now func() time.Time) keySource {
			return token.NewJWKSCache(cfg, logger, now)
		},
		verifier: func(cfg token.VerifierConfig, keys keySource, now func() time.Time) (phantom.JWTVerifier, error) {
			c, ok := keys.(*token.JWKSCache)
			if !ok {
				return nil, errors.New("key source is not a JWKS cache")
			}
			return token.NewVerifier(cfg, c, now)
		},
		introspector: func(cfg phantom.IntrospectorConfig, v phantom.JWTVerifier, logger *slog.Logger, now func() time.Time) (tokenResolver, error) {
			return phantom.NewIntrospector(cfg, v, logger, now)
		},
		split: func(src phantom.SplitSource, v phantom.JWTVerifier, cfg phantom.IntrospectorConfig, logger *slog.Logger, now func() time.Time) tokenResolver {
			return phantom.NewSplitResolver(src, v, cfg, logger, now)
		},
		rule: func(expr string, loc *time.Location) (requestRule, error) {
			return policy.CompileRequestRule(expr, loc)
		},
		openapi: catalog.ImportOpenAPI,
		client:  &http.Client{Timeout: 10 * time.Second},
	}
}

// issuer is one trusted authorization server: its key cache, and the
// resolvers built over it for each audience set APIs ask for. Reloads keep
// an issuer whose settings did not change, so its caches stay warm.
type issuer struct {
	cfg    catalog.Issuer // defaults applied
	secret string         // the introspection client secret; never logged
	keys   keySource
	// stop ends the key cache's background refresh; nil until started.
	stop     context.CancelFunc
	endpoint *introspectionEndpoint
	// calls caps the introspections in flight to the issuer, shared by
	// the introspectors of every audience set.
	calls *phantom.CallLimit
	// combos maps an audience set to its resolvers. Written only while
	// building a table (under Gateway.mu); requests never read it.
	combos map[string]*resolvers
}

// resolvers turn tokens into verified JWTs for one issuer and audience
// set.
type resolvers struct {
	keys keySource
	// jwt verifies the JWTs clients present: access tokens (at+jwt)
	// only, so a phantom token that leaked from inside is refused.
	jwt phantom.JWTVerifier
	// opaqueFormat is the shape of the issuer's opaque tokens; others
	// are refused before the cache or the introspection endpoint.
	opaqueFormat token.OpaqueFormat
	opaque       tokenResolver // nil when the issuer has no client_id
	split        tokenResolver // nil without a split source (fail closed)
}

// clientTypes are the JWT types a client may present: RFC 9068 access
// tokens. internalTypes are those the resolvers accept from the
// introspection endpoint or the split-token store, which a client cannot
// write to: the phantom type Portcullis mints for them, and at+jwt for
// an authorization server that types its phantom tokens as access tokens
// (and for split tokens minted before phantom+jwt existed).
var (
	clientTypes   = []string{token.TypeAccessJWT}
	internalTypes = []string{token.TypePhantomJWT, token.TypeAccessJWT}
)

// warnAnyAudience says, at every start and reload, which APIs accept a
// token whatever its audience: any token of their issuer passes, one
// minted for another API included (RFC 8725 §3.9), which an operator
// should see each time the configuration is read.
func warnAnyAudience(logger *slog.Logger, s *catalog.Snapshot) {
	for i := range s.APIs {
		a := &s.APIs[i]
		if a.AnyAudience && a.NeedsToken() {
			logger.Warn("api accepts tokens for any audience (any_audience: true): a token its issuer minted for another API passes too; list its audiences instead",
				"api", a.Name, "issuer", s.IssuerFor(a).Issuer)
		}
	}
}

// opaqueFormat maps an issuer's opaque_format to its shape check.
func opaqueFormat(f string) token.OpaqueFormat {
	if f == catalog.OpaqueFormatAny {
		return token.OpaqueAny
	}
	return token.OpaquePortcullis
}

// sameIssuer reports whether two issuers can share caches.
func sameIssuer(a, b *issuer) bool {
	return a.cfg.Issuer == b.cfg.Issuer && a.cfg.JWKSURI == b.cfg.JWKSURI &&
		slices.Equal(a.cfg.Algorithms, b.cfg.Algorithms) &&
		a.cfg.IntrospectionURL == b.cfg.IntrospectionURL && a.cfg.ClientID == b.cfg.ClientID &&
		a.cfg.CacheTTL == b.cfg.CacheTTL && a.cfg.NegativeCacheTTL == b.cfg.NegativeCacheTTL &&
		a.cfg.Leeway == b.cfg.Leeway && a.cfg.MaxIntrospections == b.cfg.MaxIntrospections &&
		a.cfg.OpaqueFormat == b.cfg.OpaqueFormat && a.secret == b.secret
}

// readSecret finds the introspection client secret: from a file that
// only its owner can read, or from the environment (Validate made sure
// a client_id comes with exactly one of them). The secret never appears
// in an error.
func readSecret(is catalog.Issuer, baseDir string, getenv func(string) string) (string, error) {
	switch {
	case is.ClientID == "":
		return "", nil
	case is.ClientSecretFile != "":
		path := resolvePath(baseDir, is.ClientSecretFile)
		fi, err := os.Stat(path)
		if err != nil {
			return "", fmt.Errorf("client_secret_file: %w", err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return "", fmt.Errorf("client_secret_file %s is readable by group or others (mode %04o); chmod 600 it",
				is.ClientSecretFile, fi.Mode().Perm())
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("client_secret_file: %w", err)
		}
		s := strings.TrimSpace(string(b))
		if s == "" {
			return "", fmt.Errorf("client_secret_file %s is empty", is.ClientSecretFile)
		}
		return s, nil
	default:
		s := strings.TrimSpace(getenv(is.ClientSecretEnv))
		if s == "" {
			return "", fmt.Errorf("client_secret_env: environment variable %s is empty", is.ClientSecretEnv)
		}
		return s, nil
	}
}

// resolversFor returns the resolvers for an audience set, reusing those of
// prev (the issuer's previous combos) when there are some.
func (is *issuer) resolversFor(ctx context.Context, b *builder, audiences []string, prev map[string]*resolvers) (*resolvers, error) {
	aud := slices.Clone(audiences)
	slices.Sort(aud)
	aud = slices.Compact(aud)
	key := strings.Join(aud, "\x00")
	if r := is.combos[key]; r != nil {
		return r, nil
	}
	if r := prev[key]; r != nil {
		is.combos[key] = r
		return r, nil
	}
	// Two verifiers over the same keys, with caches of their own: a
	// phantom token that a resolver verified is never a cache hit for
	// the same string presented by a client as a JWT.
	vc := token.VerifierConfig{
		Issuer:     is.cfg.Issuer,
		Audiences:  aud,
		Algorithms: is.cfg.Algorithms,
		Types:      clientTypes,
		Leeway:     is.cfg.Leeway.Duration(),
		MaxSize:    token.MaxLength,
	}
	clientV, err := b.f.verifier(vc, is.keys, b.now)
	if err != nil {
		return nil, fmt.Errorf("issuer %s: verifier: %w", is.cfg.Issuer, err)
	}
	vc.Types = internalTypes
	v, err := b.f.verifier(vc, is.keys, b.now)
	if err != nil {
		return nil, fmt.Errorf("issuer %s: verifier: %w", is.cfg.Issuer, err)
	}
	r := &resolvers{keys: is.keys, jwt: clientV, opaqueFormat: opaqueFormat(is.cfg.OpaqueFormat)}
	cacheCfg := phantom.IntrospectorConfig{
		ClientID:     is.cfg.ClientID,
		ClientSecret: is.secret,
		MaxTTL:       is.cfg.CacheTTL.Duration(),
		NegativeTTL:  is.cfg.NegativeCacheTTL.Duration(),
		OpaqueFormat: r.opaqueFormat,
		Tracer:       b.tracer,
		SpanName:     spanIntrospect,
	}
	if is.cfg.ClientID != "" {
		li := &lazyIntrospector{endpoint: is.endpoint}
		li.build = func(u string) (tokenResolver, error) {
			c := cacheCfg
			c.URL = u
			c.Calls = is.calls
			return b.f.introspector(c, v, b.logger, b.now)
		}
		// Build now when possible, so a bad endpoint is a config error
		// and the first request does not pay for discovery.
		if _, err := li.init(ctx); err != nil && is.cfg.IntrospectionURL != "" {
			return nil, fmt.Errorf("issuer %s: introspection: %w", is.cfg.Issuer, err)
		}
		r.opaque = li
	}
	if b.split != nil {
		r.split = b.f.split(b.split, v, cacheCfg, b.logger, b.now)
	}
	is.combos[key] = r
	return r, nil
}

// introspectionEndpoint is an issuer's introspection URL: configured, or
// read from its discovery document on first need (and again, at most once
// per discoveryRetry, while that fails).
//
// Discovery is coalesced and detached, as phantom's cache runs its
// calls: the first caller starts it on a goroutine of its own under a
// context bounded by discoveryTimeout and cut from every caller's, and
// callers wait for it without holding a lock. A caller hanging up gives
// up its own wait only; it neither cancels the discovery nor caches a
// failure for everyone else.
type introspectionEndpoint struct {
	issuer string
	client *http.Client
	// now is the clock for the retry spacing; nil means time.Now.
	now func() time.Time

	mu  sync.Mutex
	url string
	// next is when a discovery that failed may be tried again, and
	// lastErr why it failed.
	next    time.Time
	lastErr error
	// flight is the discovery in progress; nil when none is.
	flight *discovery
}

// discovery is one discovery in flight; done is closed when url or err
// is set.
type discovery struct {
	done chan struct{}
	url  string
	err  error
}

// errDiscoveryRecent answers while a failed discovery waits out
// discoveryRetry.
var errDiscoveryRecent = errors.New("discovery failed recently")

func (e *introspectionEndpoint) clock() time.Time {
	if e.now != nil {
		return e.now()
	}
	return time.Now()
}

// get returns the endpoint, discovering it if need be. ctx bounds only
// this caller's wait.
func (e *introspectionEndpoint) get(ctx context.Context) (string, error) {
	e.mu.Lock()
	if e.url != "" {
		u := e.url
		e.mu.Unlock()
		return u, nil
	}
	d := e.flight
	if d == nil {
		if e.clock().Before(e.next) {
			err := e.lastErr
			e.mu.Unlock()
			return "", fmt.Errorf("%w: %w", errDiscoveryRecent, err)
		}
		d = &discovery{done: make(chan struct{})}
		e.flight = d
		go e.discover(context.WithoutCancel(ctx), d)
	}
	e.mu.Unlock()
	select {
	case <-d.done:
		return d.url, d.err
	case <-ctx.Done():
		return "", fmt.Errorf("gave up waiting for discovery: %w", context.Cause(ctx))
	}
}

// discover runs one discovery and publishes its result.
func (e *introspectionEndpoint) discover(ctx context.Context, d *discovery) {
	ctx, cancel := context.WithTimeout(ctx, discoveryTimeout)
	defer cancel()
	u, err := e.safeDiscover(ctx)
	e.mu.Lock()
	if err != nil {
		e.next = e.clock().Add(discoveryRetry)
		e.lastErr = err
	} else {
		e.url = u
	}
	e.flight = nil
	d.url, d.err = u, err
	e.mu.Unlock()
	close(d.done)
}

// safeDiscover is the one safe discovery of package token: the document
// must name this issuer, redirects never leave https, and the endpoint it
// gives (which receives the gateway's client secret) obeys the same URL
// rules. A panic becomes an error: it runs on a goroutine of its own,
// where a panic would end the process.
func (e *introspectionEndpoint) safeDiscover(ctx context.Context) (u string, err error) {
	defer func() {
		if p := recover(); p != nil {
			u, err = "", fmt.Errorf("discovery panicked (%T)", p)
		}
	}()
	return token.DiscoverEndpoint(ctx, e.client, e.issuer, token.EndpointIntrospection)
}

// lazyIntrospector builds its phantom.Introspector once the endpoint is
// known. Until then, opaque tokens get 503 (fail closed), never a pass.
type lazyIntrospector struct {
	cur      atomic.Pointer[resolverBox]
	mu       sync.Mutex // serializes build, which does no I/O
	endpoint *introspectionEndpoint
	build    func(url string) (tokenResolver, error)
}

type resolverBox struct{ r tokenResolver }

func (l *lazyIntrospector) init(ctx context.Context) (tokenResolver, error) {
	if b := l.cur.Load(); b != nil {
		return b.r, nil
	}
	// The endpoint coalesces discovery; no lock of ours is held across
	// it.
	u, err := l.endpoint.get(ctx)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if b := l.cur.Load(); b != nil {
		return b.r, nil
	}
	r, err := l.build(u)
	if err != nil {
		return nil, err
	}
	l.cur.Store(&resolverBox{r: r})
	return r, nil
}

// Resolve introspects raw, building the introspector first if needed.
// The resolve step has already refused a token not shaped like the
// issuer's, so junk never starts a discovery.
func (l *lazyIntrospector) Resolve(ctx context.Context, raw string) (*token.Verified, error) {
	if b := l.cur.Load(); b != nil {
		return b.r.Resolve(ctx, raw)
	}
	r, err := l.init(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", phantom.ErrUnavailable, err)
	}
	return r.Resolve(ctx, raw)
}

// Stats are the built introspector's, zero before.
func (l *lazyIntrospector) Stats() phantom.Stats {
	if b := l.cur.Load(); b != nil {
		if s, ok := b.r.(cacheStats); ok {
			return s.Stats()
		}
	}
	return phantom.Stats{}
}

// Forget drops raw from the built introspector's cache; before it is
// built there is nothing to drop.
func (l *lazyIntrospector) Forget(raw string) {
	if b := l.cur.Load(); b != nil {
		if f, ok := b.r.(tokenForgetter); ok {
			f.Forget(raw)
		}
	}
}

// startKeys starts the key caches of new issuers concurrently and waits
// for their first fetch (token.JWKSCache.Start returns after it, bounded
// by its client timeout). An issuer that is down does not stop the
// gateway: its APIs answer 503 until the keys load, and Ready says so.
func startKeys(issuers []*issuer, run func(keySource) (context.CancelFunc, error), logger *slog.Logger) {
	var wg sync.WaitGroup
	for _, is := range issuers {
		wg.Go(func() {
			stop, err := run(is.keys)
			is.stop = stop
			if err != nil {
				logger.Warn("issuer keys not loaded yet; its APIs answer 503 until they are",
					"issuer", is.cfg.Issuer, "err", err)
			}
		})
	}
	wg.Wait()
}
