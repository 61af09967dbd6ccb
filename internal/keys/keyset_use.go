package keys

import "github.com/go-jose/go-jose/v4"

// KeySetFor returns the published public keys of use (active, next and
// retired), for verifying a token the server issued itself with that
// use's keys: an ID token coming back as an id_token_hint (OpenID Connect
// RP-Initiated Logout 1.0 §2) must verify with an ID-token key, never
// with a key that signs access tokens, whose JWTs are meant for APIs.
func (m *Manager) KeySetFor(use Use) *jose.JSONWebKeySet {
	s := m.snap.Load()
	set := &jose.JSONWebKeySet{}
	for _, k := range s.set {
		if lk := s.byKID[k.KeyID]; lk != nil && Use(lk.row.Use) == use {
			set.Keys = append(set.Keys, k)
		}
	}
	return set
}
