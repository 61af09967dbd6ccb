package verify

import (
	"errors"
	"strings"

	"github.com/portcullis/portcullis/pkg/issuer"
)

// Verification errors. Every error a Verifier returns wraps exactly one of
// them, so callers can tell them apart with errors.Is; the middleware
// answers each with RFC 6750 invalid_token (ErrKeysUnavailable with 503).
// None of them quotes the token or its claims.
var (
	// ErrMalformed: not a compact JWS, or claims that are not a JSON
	// object or hold a registered claim of the wrong type.
	ErrMalformed = errors.New("verify: malformed token")
	// ErrTooLarge: the token is longer than Config.MaxTokenSize; nothing
	// of it was parsed.
	ErrTooLarge = errors.New("verify: token too large")
	// ErrAlgorithm: the token's alg is not allowed, or its key is not
	// for that algorithm.
	ErrAlgorithm = issuer.ErrAlgorithm
	// ErrType: the typ header is not one of Config.Types (an ID token, a
	// DPoP proof, an untyped JWT).
	ErrType = errors.New("verify: unexpected token type")
	// ErrUnknownKey: no key of the issuer's key set matches the token,
	// even after a refetch.
	ErrUnknownKey = issuer.ErrUnknownKey
	// ErrKeysUnavailable: the issuer's keys could not be fetched and no
	// usable copy is cached. The token may be valid; nobody can tell.
	ErrKeysUnavailable = errors.New("verify: issuer keys unavailable")
	// ErrSignature: the signature does not verify.
	ErrSignature = errors.New("verify: bad signature")
	// ErrIssuer: iss is not the configured issuer.
	ErrIssuer = errors.New("verify: wrong issuer")
	// ErrAudience: aud does not contain the configured audience.
	ErrAudience = errors.New("verify: wrong audience")
	// ErrExpired: exp has passed, beyond the leeway.
	ErrExpired = errors.New("verify: token expired")
	// ErrNotYetValid: nbf or iat is in the future, beyond the leeway.
	ErrNotYetValid = errors.New("verify: token not yet valid")
)

// Request errors of the middleware.
var (
	// ErrNoToken: the request carries no credentials of a scheme the
	// middleware accepts. RFC 6750 §3.1: the challenge then names no
	// error.
	ErrNoToken = errors.New("verify: no access token")
	// ErrInvalidRequest: the Authorization header is repeated or not
	// well formed (RFC 6750 §3.1 invalid_request).
	ErrInvalidRequest = errors.New("verify: malformed authorization header")
	// ErrBinding: the token is bound to a key or certificate (its cnf
	// claim) the request does not prove possession of, or it is presented
	// with a scheme its binding forbids.
	ErrBinding = errors.New("verify: sender constraint not met")
)

// InsufficientScopeError is returned by Claims.RequireScopes when the
// token lacks scopes (RFC 6750 §3.1 insufficient_scope).
type InsufficientScopeError struct {
	// Missing are the required scopes the token does not carry, in the
	// order they were required.
	Missing []string
}

// Error implements error.
func (e *InsufficientScopeError) Error() string {
	return "verify: insufficient scope: missing " + strings.Join(e.Missing, " ")
}
