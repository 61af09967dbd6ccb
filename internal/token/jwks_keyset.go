package token

import (
	"github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/pkg/issuer"
)

// keySet is one fetched JWK Set (parsed and reduced by pkg/issuer) and
// its generation in this cache. It is immutable once installed.
type keySet struct {
	keys *issuer.KeySet
	gen  uint64
}

// lookup is issuer.KeySet.Lookup; a nil set is empty.
func (s *keySet) lookup(kid, alg string) (k *jose.JSONWebKey, retry bool, err error) {
	if s == nil {
		return (*issuer.KeySet)(nil).Lookup(kid, alg)
	}
	return s.keys.Lookup(kid, alg)
}
