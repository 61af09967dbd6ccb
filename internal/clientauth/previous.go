package clientauth

import (
	"context"
	"slices"

	"github.com/portcullis/portcullis/internal/store"
)

// PreviousKey lets an Authenticator accept client secrets digested under
// the previous master key while a master-key rotation is under way:
// digests cannot be recomputed without the secrets, so each moves to the
// current key when its client next authenticates.
type PreviousKey struct {
	// SecretKey keys the digests made under the previous master key; empty
	// accepts no previous digest.
	SecretKey []byte
	// Redigest is called after a client authenticated with a secret whose
	// stored digest was made under SecretKey, with the digest of the same
	// secret under the current key, for the caller to store in place of
	// c.SecretDigest. It runs on the request path and handles its own
	// errors: the client has authenticated either way.
	Redigest func(ctx context.Context, c store.Client, digest []byte)
}

// AcceptPreviousKey makes a also accept secrets whose digests were made
// under p.SecretKey. Call it before the first Authenticate.
func (a *Authenticator) AcceptPreviousKey(p PreviousKey) {
	p.SecretKey = slices.Clone(p.SecretKey)
	a.previous = p
}

// previousDigest is the digest of secret under the previous key, or a
// value no stored digest equals when there is none. The HMAC runs for
// every secret, known client or not, so accepting a previous key does
// not make the response time tell which client ids exist.
func (a *Authenticator) previousDigest(secret string) []byte {
	if len(a.previous.SecretKey) == 0 {
		return nil // hmac.Equal(nil, d) is false for every stored digest
	}
	return DigestSecret(a.previous.SecretKey, secret)
}

// redigest hands the current key's digest of a secret that matched only
// under the previous key to the caller.
func (a *Authenticator) redigest(ctx context.Context, c store.Client, digest []byte) {
	if a.previous.Redigest != nil {
		a.previous.Redigest(ctx, c, digest)
	}
}
