// Package phantom turns the tokens internet clients hold into the JWTs the
// gateway forwards: an opaque token is introspected at the authorization
// server with Accept: application/jwt (the phantom-token pattern), and the
// signature half of a split token is looked up and reassembled. Results
// are cached, concurrent misses for one token are coalesced, and failures
// are cached briefly so junk tokens cannot flood the authorization server.
//
// It never signs anything and never holds a private key: every JWT it
// returns has been verified against the issuer's published keys.
package phantom

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/portcullis/portcullis/internal/token"
)

// ErrInactive means the authorization server says the token is not active
// (or does not know it).
var ErrInactive = errors.New("phantom: token inactive")

// ErrUnavailable means the authorization server (or the split-token store)
// could not be asked; the gateway fails closed with 503.
var ErrUnavailable = errors.New("phantom: token service unavailable")

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
}

// Introspector resolves opaque tokens to verified phantom JWTs. Safe for
// concurrent use.
type Introspector struct{}

// NewIntrospector returns a resolver; v verifies every phantom JWT.
func NewIntrospector(cfg IntrospectorConfig, v JWTVerifier, logger *slog.Logger, now func() time.Time) (*Introspector, error) {
	panic("todo")
}

// Resolve returns the verified phantom token for the opaque token raw:
// from the cache (key: SHA-256(raw) and the introspection URL), else by one
// coalesced introspection. Errors: ErrInactive (cached briefly),
// ErrUnavailable, or a verification error.
func (i *Introspector) Resolve(ctx context.Context, raw string) (*token.Verified, error) {
	panic("todo")
}

// Stats are cache counters for metrics.
type Stats struct {
	Hits, Misses, NegativeHits, Introspections, Errors uint64
}

// Stats returns the counters so far.
func (i *Introspector) Stats() Stats { panic("todo") }

// SplitSource finds the header.payload part stored for the SHA-256 digest
// of a split token's signature. On one node it reads the authorization
// server's store; a shared Redis cache can implement it for a cluster.
type SplitSource interface {
	// HeaderPayload returns the stored part, or ErrInactive when the
	// digest is unknown, revoked or expired.
	HeaderPayload(ctx context.Context, digest []byte) (string, error)
}

// SplitResolver reassembles and verifies split tokens. Safe for concurrent
// use.
type SplitResolver struct{}

// NewSplitResolver returns a resolver reading src and verifying with v;
// results are cached like the Introspector's (MaxTTL, NegativeTTL,
// CacheSize from cfg; URL and credentials unused).
func NewSplitResolver(src SplitSource, v JWTVerifier, cfg IntrospectorConfig, logger *slog.Logger, now func() time.Time) *SplitResolver {
	panic("todo")
}

// Resolve reassembles the JWT whose signature part is sig and verifies it.
func (s *SplitResolver) Resolve(ctx context.Context, sig string) (*token.Verified, error) {
	panic("todo")
}
