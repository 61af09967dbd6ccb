package gateway

import (
	"crypto/sha256"

	"github.com/portcullis/portcullis/internal/phantom"
)

// Revocation notices: the authorization server names each token it
// revokes by its stored digest (token.Digest: SHA-256 of an opaque
// token, or of a split token's signature), and the gateway drops what
// its opaque and split token caches hold for it, so a revoked token is
// refused at once instead of when its cache entry ends (cache_ttl).
// Self-contained JWTs are not cached by token and are not affected:
// they stay valid until they expire, which is why their lifetime is
// short.

// digestForgetter is a token cache that drops entries by stored digest,
// and all of them after a gap in the notices.
type digestForgetter interface {
	ForgetDigest(d [sha256.Size]byte)
	Flush()
}

var (
	_ digestForgetter = (*phantom.Introspector)(nil)
	_ digestForgetter = (*phantom.SplitResolver)(nil)
	_ digestForgetter = (*lazyIntrospector)(nil)
)

// ForgetTokenDigests drops the tokens of digests from every opaque and
// split token cache of the current table. A digest that is not 32 bytes
// names no token and is skipped.
func (g *Gateway) ForgetTokenDigests(digests [][]byte) {
	src := g.sources.Load()
	for _, d := range digests {
		if len(d) != sha256.Size {
			continue
		}
		k := [sha256.Size]byte(d)
		for _, list := range [][]cacheStats{src.opaque, src.split} {
			for _, c := range list {
				if f, ok := c.(digestForgetter); ok {
					f.ForgetDigest(k)
				}
			}
		}
	}
}

// FlushTokenCaches drops every cached opaque and split token answer: what
// a gateway does when it may have missed revocation notices (its
// subscription was down), as any cached token may have been revoked.
func (g *Gateway) FlushTokenCaches() {
	src := g.sources.Load()
	for _, list := range [][]cacheStats{src.opaque, src.split} {
		for _, c := range list {
			if f, ok := c.(digestForgetter); ok {
				f.Flush()
			}
		}
	}
}

// ForgetDigest drops d from the built introspector's cache; before it is
// built there is nothing to drop.
func (l *lazyIntrospector) ForgetDigest(d [sha256.Size]byte) {
	if b := l.cur.Load(); b != nil {
		if f, ok := b.r.(digestForgetter); ok {
			f.ForgetDigest(d)
		}
	}
}

// Flush drops the built introspector's cache.
func (l *lazyIntrospector) Flush() {
	if b := l.cur.Load(); b != nil {
		if f, ok := b.r.(digestForgetter); ok {
			f.Flush()
		}
	}
}
