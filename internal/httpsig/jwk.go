package httpsig

import (
	"crypto"
	"fmt"
	"slices"

	"github.com/go-jose/go-jose/v4"
)

// jwaNames are the JWA "alg" values (RFC 7518 §3, RFC 8037 §3.1, RFC
// 9864 §2.2) of the same signature algorithms as RFC 9421's: a JWK that
// declares one of them may sign HTTP messages with the matching one.
var jwaNames = map[string][]string{
	Ed25519:         {"EdDSA", "Ed25519"},
	ECDSAP256SHA256: {"ES256"},
	RSAPSSSHA512:    {"PS512"},
}

// KeyFromJWKS finds the public key that a signature's keyid names in a
// JWK Set (RFC 7517), such as the one a client registered: a key with
// that kid, meant for signatures (use "sig", or no use: RFC 7517 §4.2),
// of a type that RequestAlgorithms covers, and whose own alg, when it
// declares one, is that algorithm's JWA name; an encryption key with the
// same kid is never taken. alg is the signature's alg parameter ("" when
// absent): among keys that share a kid it picks one. Private members, if
// a set has any, are ignored.
func KeyFromJWKS(set *jose.JSONWebKeySet, keyID, alg string) (crypto.PublicKey, error) {
	var found crypto.PublicKey
	if set == nil {
		return nil, fmt.Errorf("%w: no key set", ErrUnknownKey)
	}
	for i := range set.Keys {
		k := &set.Keys[i]
		if k.KeyID != keyID || k.Use != "" && k.Use != "sig" {
			continue
		}
		pub := publicOf(k.Key)
		a := AlgorithmFor(pub)
		if a == "" || alg != "" && a != alg || k.Algorithm != "" && !slices.Contains(jwaNames[a], k.Algorithm) {
			continue
		}
		if found != nil && !samePublic(found, pub) {
			// RFC 7517 §4.5: a kid should name one key; two signing keys
			// under one kid leave the choice to the message.
			return nil, fmt.Errorf("%w: several signing keys have this keyid", ErrUnknownKey)
		}
		found = pub
	}
	if found == nil {
		return nil, ErrUnknownKey
	}
	return found, nil
}

// publicOf is the public half of a JWK's key; nil for a symmetric key
// or anything else that has none.
func publicOf(key any) crypto.PublicKey {
	switch k := key.(type) {
	case crypto.Signer:
		return k.Public()
	case []byte, nil:
		return nil
	}
	return key
}

func samePublic(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}
