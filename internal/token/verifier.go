package token

import (
	"context"
	"errors"
	"time"
)

// Verification errors. Callers map all of them to RFC 6750 invalid_token;
// the distinction is for logs and metrics only.
var (
	ErrExpired     = errors.New("token: expired")
	ErrNotYetValid = errors.New("token: not yet valid")
	ErrIssuer      = errors.New("token: wrong issuer")
	ErrAudience    = errors.New("token: wrong audience")
	ErrAlgorithm   = errors.New("token: algorithm not allowed")
	ErrUnknownKey  = errors.New("token: unknown key")
	ErrTooLarge    = errors.New("token: too large")
)

// VerifierConfig says what a valid access token JWT looks like.
type VerifierConfig struct {
	Issuer string
	// Audiences: the token's aud must contain at least one of them.
	// Empty means the aud claim is not checked (only for APIs whose
	// config says so explicitly).
	Audiences []string
	// Algorithms allowed (never "none", never HS*); empty means ES256,
	// RS256, PS256, EdDSA.
	Algorithms []string
	// Type is the required "typ" header; empty means "at+jwt" (RFC 9068 §4).
	Type string
	// Leeway is the clock skew allowed on exp, nbf and iat; zero means 30s.
	Leeway time.Duration
	// MaxSize bounds the token in bytes; zero means 8 KiB.
	MaxSize int
	// CacheSize bounds the verified-token cache (entries, keyed by the
	// SHA-256 of the token, kept until exp); zero means 100000, negative
	// disables it.
	CacheSize int
}

// Claims are a verified token's claims, parsed once.
type Claims struct {
	Issuer    string
	Subject   string
	Audience  []string
	ExpiresAt time.Time
	IssuedAt  time.Time
	NotBefore time.Time
	ClientID  string
	// Scopes is the "scope" claim split on spaces.
	Scopes []string
	JTI    string
	// Raw holds every claim as decoded JSON, for policies.
	Raw map[string]any
}

// Verified is the result of verifying a JWT: the token string itself (to
// forward) and its claims.
type Verified struct {
	JWT    string
	Claims *Claims
}

// Verifier checks JWT access tokens against an issuer's JWKS: signature
// with an allow-listed algorithm and a key of the cache only (jku, x5u and
// embedded jwk headers are ignored), typ, iss, aud, exp, nbf, iat with
// bounded skew, size. Results are cached by SHA-256(token) until exp, so a
// token is verified cryptographically once. Safe for concurrent use.
type Verifier struct{}

// NewVerifier returns a verifier using keys from jwks.
func NewVerifier(cfg VerifierConfig, jwks *JWKSCache, now func() time.Time) (*Verifier, error) {
	panic("todo")
}

// Verify checks raw and returns its claims, or an error wrapping one of
// the Err* values above (or ErrMalformed / ErrSignature).
func (v *Verifier) Verify(ctx context.Context, raw string) (*Verified, error) { panic("todo") }
