// Package keys owns the authorization server's signing keys: it generates
// them, seals the private halves with the master key before they reach the
// store, rotates them (publishing the next key before it signs anything),
// and publishes the public halves as a JWK Set.
//
// It must never hand out a private key, write one unsealed, or log one.
// Only the authorization server imports it; the gateway never does.
package keys

import (
	"context"
	"log/slog"
	"time"

	"github.com/go-jose/go-jose/v4"

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

// Manager holds the current keys in memory, signs with the active key of
// each use and serves the JWKS. It is safe for concurrent use.
type Manager struct{}

// NewManager returns a manager; call Init before use.
func NewManager(st Store, master []byte, cfg Config, logger *slog.Logger, now func() time.Time) (*Manager, error) {
	panic("todo")
}

// Init loads the keys and, for each use without an active key, generates an
// active key and a next key.
func (m *Manager) Init(ctx context.Context) error { panic("todo") }

// Reload re-reads the keys from the store, so a rotation made by the CLI or
// another node takes effect.
func (m *Manager) Reload(ctx context.Context) error { panic("todo") }

// Sign returns a compact JWS of payload signed with the active key of use,
// with the "kid", "alg" and "typ" (when non-empty) headers set.
func (m *Manager) Sign(use Use, typ string, payload []byte) (string, error) { panic("todo") }

// Alg returns the JWS algorithm the active key of use signs with.
func (m *Manager) Alg(use Use) string { panic("todo") }

// JWKS returns the JSON JWK Set of every published public key.
func (m *Manager) JWKS() []byte { panic("todo") }

// KeySet returns the published public keys, for verifying tokens the server
// issued itself.
func (m *Manager) KeySet() *jose.JSONWebKeySet { panic("todo") }

// Rotate promotes the next key of use to active, retires the active one and
// generates a new next key.
func (m *Manager) Rotate(ctx context.Context, use Use) (KeyInfo, error) { panic("todo") }

// List describes every stored key.
func (m *Manager) List(ctx context.Context) ([]KeyInfo, error) { panic("todo") }

// Purge deletes retired keys older than the retention.
func (m *Manager) Purge(ctx context.Context) (int, error) { panic("todo") }
