// Package phantom turns the tokens internet clients hold into the JWTs the
// gateway forwards: an opaque token is introspected at the authorization
// server with Accept: application/jwt (the phantom-token pattern), and the
// signature half of a split token is looked up and reassembled. Results
// are cached, concurrent misses for one token are coalesced, and failures
// are cached briefly so junk tokens cannot flood the authorization server:
// a token not shaped like the issuer's (IntrospectorConfig.OpaqueFormat)
// is refused before anything is asked, and the introspections in flight
// to one server are capped (CallLimit).
//
// It never signs anything and never holds a private key: every JWT it
// returns has been verified against the issuer's published keys. It never
// logs or echoes a token either, nor any digest of one.
//
// Revocation: a resolved token stays in the cache until the earlier of its
// exp and MaxTTL, so revoking it takes effect at the gateway within MaxTTL
// (60s by default). An "inactive" answer is remembered for NegativeTTL
// (10s by default), so one junk token reaches the authorization server at
// most once per NegativeTTL per gateway, however often it is presented.
package phantom

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/portcullis/portcullis/internal/loopback"
	"github.com/portcullis/portcullis/internal/token"
	"github.com/portcullis/portcullis/internal/tracing"
)

// ErrInactive means the authorization server says the token is not active
// (or does not know it).
var ErrInactive = errors.New("phantom: token inactive")

// ErrUnavailable means the authorization server (or the split-token store)
// could not be asked; the gateway fails closed with 503.
var ErrUnavailable = errors.New("phantom: token service unavailable")

// ErrInvalidConfig means an IntrospectorConfig cannot be used.
var ErrInvalidConfig = errors.New("phantom: invalid config")

// errTooLong answers a presented token longer than token.MaxLength. It is
// decided locally, so nothing is asked and nothing is cached.
var errTooLong = fmt.Errorf("%w: token longer than %d bytes", ErrInactive, token.MaxLength)

// errEmpty answers an empty presented token.
var errEmpty = fmt.Errorf("%w: empty token", ErrInactive)

// errOpaqueShape answers a presented token that cannot be an opaque
// access token of the issuer (see token.OpaqueFormat); it is decided
// locally, so nothing is asked and nothing is cached.
var errOpaqueShape = fmt.Errorf("%w: not an opaque access token", ErrInactive)

// JWTVerifier verifies the JWT a resolver obtained.
type JWTVerifier interface {
	Verify(ctx context.Context, raw string) (*token.Verified, error)
}

// IntrospectorConfig configures phantom-token resolution for one issuer.
type IntrospectorConfig struct {
	// URL is the introspection endpoint (RFC 7662).
	URL string
	// ClientID and ClientSecret authenticate the gateway
	// (client_secret_basic).
	ClientID     string
	ClientSecret string
	// MaxTTL caps how long a resolved token is cached (the entry also
	// ends at the token's exp): revocation takes effect at the gateway
	// within this bound. Zero means 60s.
	MaxTTL time.Duration
	// NegativeTTL is how long an inactive answer is cached; zero means 10s.
	NegativeTTL time.Duration
	// CacheSize bounds entries; zero means 100000.
	CacheSize int
	// Timeout bounds one introspection call; zero means 5s.
	Timeout time.Duration
	// Client makes the calls; nil means a tuned client with Timeout.
	Client *http.Client
	// Calls caps the introspections in flight; share one between the
	// resolvers of one authorization server. Nil means a cap of
	// DefaultMaxCalls for this resolver alone. A miss past the cap fails
	// with ErrBusy.
	Calls *CallLimit
	// OpaqueFormat is what the issuer's opaque tokens look like; a token
	// of another shape is inactive without a call. The zero value is
	// Portcullis's own format (token.OpaquePortcullis); token.OpaqueAny
	// suits an authorization server with a format of its own, whose
	// tokens still go through the cache and Calls like any other.
	OpaqueFormat token.OpaqueFormat
	// Tracer, when not nil, makes each introspection call a client span
	// named SpanName whose traceparent goes to the authorization server,
	// and marks the caller's span with portcullis.token.cache_hit. Nil
	// means tracing is off and costs nothing.
	Tracer   trace.Tracer
	SpanName string
}

// Defaults of IntrospectorConfig's zero values.
const (
	DefaultMaxTTL      = 60 * time.Second
	DefaultNegativeTTL = 10 * time.Second
	DefaultCacheSize   = 100000
	DefaultTimeout     = 5 * time.Second
)

// withDefaults fills zero (and, for constructors that cannot fail,
// negative) values with the defaults.
func (c IntrospectorConfig) withDefaults() IntrospectorConfig {
	if c.MaxTTL <= 0 {
		c.MaxTTL = DefaultMaxTTL
	}
	if c.NegativeTTL <= 0 {
		c.NegativeTTL = DefaultNegativeTTL
	}
	if c.CacheSize <= 0 {
		c.CacheSize = DefaultCacheSize
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}

// Introspector resolves opaque tokens to verified phantom JWTs. Safe for
// concurrent use.
type Introspector struct {
	core   *core
	url    string
	format token.OpaqueFormat
	client *http.Client
	v      JWTVerifier
	// basic is the whole Authorization header value, computed once.
	basic string
}

// NewIntrospector returns a resolver; v verifies every phantom JWT.
func NewIntrospector(cfg IntrospectorConfig, v JWTVerifier, logger *slog.Logger, now func() time.Time) (*Introspector, error) {
	if err := validate(cfg); err != nil {
		return nil, err
	}
	if v == nil {
		return nil, fmt.Errorf("%w: no JWT verifier", ErrInvalidConfig)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("resolver", "introspection")
	if u, _ := url.Parse(cfg.URL); u.Scheme == "http" && !loopback.Host(u.Hostname()) {
		logger.Warn("introspection endpoint is plain http: the gateway's credentials and tokens travel unencrypted",
			"url", cfg.URL)
	}
	cfg = cfg.withDefaults()
	if cfg.Calls == nil {
		cfg.Calls = NewCallLimit(DefaultMaxCalls)
	}
	client := cfg.Client
	if client == nil {
		client = newClient(cfg.Timeout)
	}
	if cfg.Tracer != nil {
		// A copy: the caller's client may serve others untraced.
		c := *client
		c.Transport = tracing.Transport(cfg.Tracer, cfg.SpanName, c.Transport)
		client = &c
	}
	// RFC 6749 §2.3.1: client_secret_basic form-urlencodes the id and the
	// secret before base64, so ':' or non-ASCII in either survives.
	cred := url.QueryEscape(cfg.ClientID) + ":" + url.QueryEscape(cfg.ClientSecret)
	return &Introspector{
		// The URL is part of every cache key: two issuers never share
		// entries, even if a cache is one day shared between resolvers.
		core:   newCore(cfg, cfg.URL, logger, now),
		url:    cfg.URL,
		format: cfg.OpaqueFormat,
		client: client,
		v:      v,
		basic:  "Basic " + base64.StdEncoding.EncodeToString([]byte(cred)),
	}, nil
}

func validate(cfg IntrospectorConfig) error {
	u, err := url.Parse(cfg.URL)
	switch {
	case cfg.URL == "":
		return fmt.Errorf("%w: introspection url is empty", ErrInvalidConfig)
	case err != nil:
		return fmt.Errorf("%w: introspection url: %w", ErrInvalidConfig, err)
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("%w: introspection url must be http or https", ErrInvalidConfig)
	case u.Host == "":
		return fmt.Errorf("%w: introspection url has no host", ErrInvalidConfig)
	case u.User != nil:
		// Credentials go in the Authorization header, never in a URL
		// that ends up in logs.
		return fmt.Errorf("%w: introspection url must not carry credentials", ErrInvalidConfig)
	case u.Fragment != "":
		return fmt.Errorf("%w: introspection url must not have a fragment", ErrInvalidConfig)
	case cfg.ClientID == "" || cfg.ClientSecret == "":
		return fmt.Errorf("%w: introspection needs a client id and secret", ErrInvalidConfig)
	case cfg.MaxTTL < 0, cfg.NegativeTTL < 0, cfg.Timeout < 0:
		return fmt.Errorf("%w: durations must not be negative", ErrInvalidConfig)
	case cfg.CacheSize < 0:
		return fmt.Errorf("%w: cache size must not be negative", ErrInvalidConfig)
	case cfg.OpaqueFormat != token.OpaquePortcullis && cfg.OpaqueFormat != token.OpaqueAny:
		return fmt.Errorf("%w: unknown opaque token format", ErrInvalidConfig)
	}
	return nil
}

// Resolve returns the verified phantom token for the opaque token raw:
// from the cache (key: SHA-256(raw) and the introspection URL), else by one
// coalesced introspection. Errors: ErrInactive (cached briefly),
// ErrUnavailable, or a verification error.
//
// A verification error wraps both ErrInactive and the verifier's error, so
// callers mapping ErrInactive to invalid_token need no other case. The
// returned *token.Verified is shared between callers and must not be
// modified.
func (i *Introspector) Resolve(ctx context.Context, raw string) (*token.Verified, error) {
	if len(raw) > token.MaxLength {
		return nil, errTooLong
	}
	if raw == "" {
		return nil, errEmpty
	}
	// Only the issuer's format can be active: anything else is refused
	// before the cache or the network sees it, so junk costs nothing.
	if !i.format.Allows(raw) {
		return nil, errOpaqueShape
	}
	k := cacheKey{digest: digest(raw), scope: i.url}
	if v, err, ok := i.core.cached(k); ok {
		i.core.traceCache(ctx, true)
		return v, err
	}
	return i.miss(ctx, k, raw)
}

// miss is the slow path, kept apart so that only a miss pays for the
// closure and the key it captures.
func (i *Introspector) miss(ctx context.Context, k cacheKey, raw string) (*token.Verified, error) {
	return i.core.load(ctx, k, func(ctx context.Context) (*token.Verified, error) {
		return i.introspect(ctx, raw)
	})
}

// Forget marks the opaque token raw revoked in the cache: a token this
// node has seen revoked (a token handler's logout) is refused at once,
// without asking the issuer, instead of when its entry ends. Other nodes
// keep their entries until then, or until a revocation notice.
func (i *Introspector) Forget(raw string) {
	i.core.forget(cacheKey{digest: digest(raw), scope: i.url})
}

// ForgetDigest marks the token whose SHA-256 digest (token.Digest) is d
// revoked in the cache, as Forget does: how a revocation notice names a
// token without carrying it.
func (i *Introspector) ForgetDigest(d [sha256.Size]byte) {
	i.core.forget(cacheKey{digest: d, scope: i.url})
}

// Flush drops every cached answer.
func (i *Introspector) Flush() { i.core.flush() }

// Stats are cache counters for metrics.
//
// Hits and NegativeHits count lookups answered by a positive or negative
// entry; Misses counts lookups that had to wait for a call (coalesced
// waiters included); Introspections counts calls actually made (for a
// SplitResolver, source lookups); Errors counts calls that ended with
// ErrUnavailable, which are never cached; Busy counts misses refused with
// ErrBusy because the calls in flight were at their cap.
type Stats struct {
	Hits, Misses, NegativeHits, Introspections, Errors, Busy uint64
}

// Stats returns the counters so far.
func (i *Introspector) Stats() Stats { return i.core.stats() }

// Len returns the number of cache entries, expired ones not yet dropped
// included (for metrics).
func (i *Introspector) Len() int { return i.core.cache.len() }
