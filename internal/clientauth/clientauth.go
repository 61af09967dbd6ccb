// Package clientauth authenticates OAuth clients at the token,
// introspection and revocation endpoints (RFC 6749 §2.3): client_secret_basic,
// client_secret_post, private_key_jwt (RFC 7523 §2.2, with jti replay
// protection) and none for public clients.
//
// It must never log or return a presented secret or assertion, and every
// secret comparison is constant-time.
package clientauth

import (
	"context"
	"net/http"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// Store is what authentication reads and records.
type Store interface {
	GetClient(ctx context.Context, id string) (store.Client, error)
	UseJTI(ctx context.Context, issuer, jti string, exp time.Time) error
}

// Error is an authentication failure, ready to be written as an RFC 6749
// §5.2 error response.
type Error struct {
	// Code is "invalid_client" or "invalid_request".
	Code string
	// Description is safe to show the client: it never echoes a secret.
	Description string
	// Basic is true when the client tried HTTP Basic, so the response must
	// be 401 with WWW-Authenticate: Basic (RFC 6749 §5.2).
	Basic bool
	// Cause is the internal reason, for the log only.
	Cause error
}

func (e *Error) Error() string { return e.Code + ": " + e.Description }

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Cause }

// Authenticator checks client credentials.
type Authenticator struct{}

// New returns an authenticator. secretKey keys the HMAC-SHA-256 digests of
// client secrets; audiences are the values a client assertion's "aud" may
// hold (the issuer and the token endpoint URL, RFC 7523 §3).
func New(st Store, secretKey []byte, audiences []string, now func() time.Time) *Authenticator {
	panic("todo")
}

// Authenticate identifies the client of r from its Authorization header or
// its form (r.ParseForm must have run) and checks its credentials against
// the client's registered method. Exactly one method may be used (RFC 6749
// §2.3). On failure the error is an *Error.
func (a *Authenticator) Authenticate(ctx context.Context, r *http.Request) (store.Client, error) {
	panic("todo")
}

// DigestSecret returns the HMAC-SHA-256 of secret under key: what the store
// keeps for a client secret.
func DigestSecret(key []byte, secret string) []byte { panic("todo") }

// GenerateSecret returns a new client secret of 256 random bits,
// base64url-encoded.
func GenerateSecret() (string, error) { panic("todo") }
