// Package keys owns the authorization server's signing keys: it generates
// them, seals the private halves with the master key before they reach the
// store, rotates them (publishing the next key before it signs anything),
// and publishes the public halves as a JWK Set.
//
// It must never hand out a private key, write one unsealed, or log one.
// Only the authorization server imports it; the gateway never does.
//
// Each use (access tokens, ID tokens) has one active key that signs, one
// next key that is already published so verifiers cache it before it signs,
// and retired keys that stay published for Config.Retention after they stop
// signing, so tokens they signed still verify. Rotation promotes next to
// active and retires the old active key; Purge deletes retired keys once
// their retention has passed.
package keys

import (
	"context"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// Use says what a key signs.
type Use string

// Key uses.
const (
	// UseAccess keys sign access tokens (RFC 9068) and phantom tokens.
	UseAccess Use = "access"
	// UseID keys sign OpenID Connect ID tokens.
	UseID Use = "id"
)

// Store is what the manager needs from persistence.
type Store interface {
	CreateKey(ctx context.Context, k store.SigningKey) error
	ListKeys(ctx context.Context) ([]store.SigningKey, error)
	UpdateKey(ctx context.Context, k store.SigningKey) error
	DeleteKey(ctx context.Context, kid string) error
}

// KeySetLocker is a Store that can hold a lock across nodes around
// Manager.Init (store.DB does, on PostgreSQL): nodes that start together
// on an empty store then generate one active key per use between them,
// not one each.
type KeySetLocker interface {
	WithKeySetLock(ctx context.Context, fn func(ctx context.Context) error) error
}

// Config chooses algorithms and how long retired keys stay published.
type Config struct {
	// AccessAlg signs access tokens: ES256 (default), RS256, PS256, EdDSA.
	AccessAlg string
	// IDAlg signs ID tokens: RS256 (default, as OpenID Connect requires
	// support for), ES256, PS256, EdDSA.
	IDAlg string
	// Retention is how long a retired key stays in the JWKS; it must be at
	// least the longest token lifetime. Zero means 24h.
	Retention time.Duration
}

// KeyInfo describes a key without its private half.
type KeyInfo struct {
	KID string
	Alg string
	Use Use
	// State is "next" (published, not yet signing), "active" (signing) or
	// "retired" (published until its tokens expire).
	State       string
	CreatedAt   time.Time
	ActivatedAt time.Time
	RetiredAt   time.Time
}
