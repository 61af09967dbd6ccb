package verify

import (
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/pkg/issuer"
)

// jwkSet is one fetched JWK Set (parsed and reduced to public signature
// keys by pkg/issuer) and when it was fetched, for its TTL. It is never
// modified once built.
type jwkSet struct {
	keys    *issuer.KeySet
	fetched time.Time
}

// lookup is issuer.KeySet.Lookup; a nil set is empty.
func (s *jwkSet) lookup(kid, alg string) (k *jose.JSONWebKey, refetch bool, err error) {
	if s == nil {
		return (*issuer.KeySet)(nil).Lookup(kid, alg)
	}
	return s.keys.Lookup(kid, alg)
}
