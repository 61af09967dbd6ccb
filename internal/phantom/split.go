package phantom

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/portcullis/portcullis/internal/token"
)

// splitScope is the scope of split-token cache keys. The digest alone
// names a split token (the authorization server stores it that way), and
// a split resolver serves one issuer.
const splitScope = "split"

// errSplitShape answers a presented signature that cannot be the third
// part of a compact JWS; it is decided locally, so nothing is looked up.
var errSplitShape = fmt.Errorf("%w: not a jws signature", ErrInactive)

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
type SplitResolver struct {
	core *core
	src  SplitSource
	v    JWTVerifier
}

// NewSplitResolver returns a resolver reading src and verifying with v;
// results are cached like the Introspector's (MaxTTL, NegativeTTL,
// CacheSize from cfg; URL, credentials and Calls unused).
//
// Zero or negative values in cfg take the defaults (it cannot report an
// error). src and v must not be nil: it panics, at start-up, rather than
// build a resolver that could never answer.
func NewSplitResolver(src SplitSource, v JWTVerifier, cfg IntrospectorConfig, logger *slog.Logger, now func() time.Time) *SplitResolver {
	if src == nil || v == nil {
		panic("phantom: NewSplitResolver needs a source and a verifier")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &SplitResolver{
		core: newCore(cfg, splitScope, logger.With("resolver", "split"), now),
		src:  src,
		v:    v,
	}
}

// Resolve reassembles the JWT whose signature part is sig and verifies it.
//
// Errors wrap ErrInactive (unknown, revoked or expired, or the reassembled
// JWT does not verify; cached for NegativeTTL) or ErrUnavailable (the
// source failed; not cached). The returned *token.Verified is shared
// between callers and must not be modified.
func (s *SplitResolver) Resolve(ctx context.Context, sig string) (*token.Verified, error) {
	if len(sig) > token.MaxLength {
		return nil, errTooLong
	}
	if sig == "" {
		return nil, errEmpty
	}
	// RFC 7515 §7.1: the signature part is base64url without padding, of
	// the length an allowed algorithm signs. Anything else (a '.' above
	// all) cannot be reassembled into the JWT it claims to be, so it is
	// refused before any lookup.
	if !token.IsSplitSignature(sig) {
		return nil, errSplitShape
	}
	// Same bytes as token.Digest(sig), kept in an array so a hit
	// allocates nothing.
	k := cacheKey{digest: digest(sig), scope: splitScope}
	if v, err, ok := s.core.cached(k); ok {
		s.core.traceCache(ctx, true)
		return v, err
	}
	return s.miss(ctx, k, sig)
}

// miss is the slow path, kept apart so that only a miss pays for the
// closure and the key it captures.
func (s *SplitResolver) miss(ctx context.Context, k cacheKey, sig string) (*token.Verified, error) {
	return s.core.load(ctx, k, func(ctx context.Context) (*token.Verified, error) {
		return s.reassemble(ctx, sig, &k.digest)
	})
}

// Forget marks the split token's signature sig revoked in the cache, as
// Introspector.Forget does for an opaque token.
func (s *SplitResolver) Forget(sig string) {
	s.core.forget(cacheKey{digest: digest(sig), scope: splitScope})
}

// ForgetDigest marks the split token whose stored digest (token.Digest
// of its signature) is d revoked in the cache.
func (s *SplitResolver) ForgetDigest(d [sha256.Size]byte) {
	s.core.forget(cacheKey{digest: d, scope: splitScope})
}

// Flush drops every cached answer.
func (s *SplitResolver) Flush() { s.core.flush() }

// Stats returns the counters so far; Introspections counts source
// lookups.
func (s *SplitResolver) Stats() Stats { return s.core.stats() }

// Len returns the number of cache entries, expired ones not yet dropped
// included (for metrics).
func (s *SplitResolver) Len() int { return s.core.cache.len() }

func (s *SplitResolver) reassemble(ctx context.Context, sig string, d *[sha256.Size]byte) (*token.Verified, error) {
	hp, err := s.src.HeaderPayload(ctx, d[:])
	switch {
	case errors.Is(err, ErrInactive):
		s.core.log.DebugContext(ctx, "split token inactive")
		return nil, ErrInactive
	case err != nil:
		s.core.log.WarnContext(ctx, "split token lookup failed", "error", err)
		return nil, fmt.Errorf("%w: split token lookup: %w", ErrUnavailable, err)
	}
	v, err := s.v.Verify(ctx, token.Join(hp, sig))
	switch {
	case err == nil:
		return v, nil
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		s.core.log.WarnContext(ctx, "split token verification timed out")
		return nil, fmt.Errorf("%w: verifying split token: %w", ErrUnavailable, err)
	default:
		// The signature matched a stored digest, so the authorization
		// server issued this very JWT: if it does not verify, it was
		// meant for another API, or keys or issuer disagree.
		logVerifyFailure(ctx, s.core.log, "split token failed verification", err)
		return nil, fmt.Errorf("%w: split token failed verification: %w", ErrInactive, err)
	}
}
