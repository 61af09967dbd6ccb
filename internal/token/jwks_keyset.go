package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// minRSABits is the smallest RSA modulus accepted (RFC 7518 §3.3 asks for
// 2048 bits or more).
const minRSABits = 2048

// errPrivateKey means a fetched key set holds private key material.
var errPrivateKey = errors.New("jwk set contains private key material; refusing the whole set")

// keySet is one fetched JWK Set, reduced to the public signature keys this
// package may use. It is immutable once built.
type keySet struct {
	keys  []*jose.JSONWebKey
	byKID map[string][]*jose.JSONWebKey
	// fingerprint summarises the keys (kid, alg, use, RFC 7638 thumbprint)
	// so a refresh that brings the same keys can be recognised.
	fingerprint [sha256.Size]byte
	gen         uint64
}

// parseKeySet parses a JWK Set (RFC 7517 §5) and keeps the keys that are
// public, asymmetric and meant for signatures. A set that publishes a
// private key is refused outright: it means the issuer leaked its
// signing key, and anything signed with it proves nothing.
func parseKeySet(body []byte) (*keySet, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("jwk set is not a json object: %w", err)
	}
	if doc.Keys == nil {
		return nil, errors.New("jwk set has no keys member")
	}
	set := &keySet{byKID: make(map[string][]*jose.JSONWebKey, len(doc.Keys))}
	var lines []string
	for _, rawKey := range doc.Keys {
		k := new(jose.JSONWebKey)
		// RFC 7517 §5: keys with a kty or parameters we do not
		// understand are ignored, not fatal to the whole set.
		if err := k.UnmarshalJSON(rawKey); err != nil {
			continue
		}
		switch pub := k.Key.(type) {
		case *ecdsa.PrivateKey, *rsa.PrivateKey, ed25519.PrivateKey:
			return nil, errPrivateKey
		case *ecdsa.PublicKey, ed25519.PublicKey:
		case *rsa.PublicKey:
			if pub.N.BitLen() < minRSABits {
				continue
			}
		default:
			// Symmetric ("oct") keys and anything else: never a key a
			// gateway may verify with.
			continue
		}
		// RFC 7517 §4.2: a key whose use is set to anything but "sig"
		// is not for signatures.
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		if !k.Valid() || (k.Algorithm != "" && !signatureAlgorithms[k.Algorithm]) {
			continue
		}
		tp, err := k.Thumbprint(crypto.SHA256)
		if err != nil {
			continue
		}
		set.keys = append(set.keys, k)
		set.byKID[k.KeyID] = append(set.byKID[k.KeyID], k)
		lines = append(lines, strings.Join([]string{k.KeyID, k.Algorithm, k.Use, hex.EncodeToString(tp)}, "\x00"))
	}
	if len(set.keys) == 0 {
		// Installing an empty set would turn every token away; a
		// broken document is far likelier than an issuer withdrawing
		// every key at once, so keep what we have.
		return nil, errors.New("jwk set holds no usable signature keys")
	}
	slices.Sort(lines)
	set.fingerprint = sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return set, nil
}

// signatureAlgorithms are the asymmetric JWS algorithms (RFC 7518 §3.1,
// RFC 8037 §3.1) a key or a verifier may name. HMAC and "none" are
// deliberately absent.
var signatureAlgorithms = map[string]bool{
	string(jose.ES256): true, string(jose.ES384): true, string(jose.ES512): true,
	string(jose.RS256): true, string(jose.RS384): true, string(jose.RS512): true,
	string(jose.PS256): true, string(jose.PS384): true, string(jose.PS512): true,
	string(jose.EdDSA): true,
}

// lookup finds the key for kid and alg. retry reports whether fetching the
// set again could help (the kid is not there at all). A nil set is empty.
func (s *keySet) lookup(kid, alg string) (k *jose.JSONWebKey, retry bool, err error) {
	if s == nil {
		return nil, true, fmt.Errorf("%w: no key set loaded", ErrUnknownKey)
	}
	if kid == "" {
		var found *jose.JSONWebKey
		n := 0
		for _, k := range s.keys {
			if keyUsable(k, alg) {
				found = k
				n++
			}
		}
		switch {
		case n == 1:
			return found, false, nil
		case n == 0:
			return nil, true, fmt.Errorf("%w: no kid and no key for the algorithm", ErrUnknownKey)
		default:
			return nil, false, fmt.Errorf("%w: no kid and several candidate keys", ErrUnknownKey)
		}
	}
	keys := s.byKID[kid]
	if len(keys) == 0 {
		return nil, true, fmt.Errorf("%w: not in the key set", ErrUnknownKey)
	}
	for _, k := range keys {
		if keyUsable(k, alg) {
			return k, false, nil
		}
	}
	// RFC 8725 §3.1: the key decides the algorithm, not the token.
	return nil, false, fmt.Errorf("%w: the key is not for this algorithm", ErrAlgorithm)
}

// keyUsable reports whether k may verify a signature made with alg: its
// declared alg, when it has one, must be alg, and its type and curve must
// fit alg, so a token can never choose how its key is interpreted.
func keyUsable(k *jose.JSONWebKey, alg string) bool {
	if k.Algorithm != "" && k.Algorithm != alg {
		return false
	}
	switch pub := k.Key.(type) {
	case *ecdsa.PublicKey:
		switch jose.SignatureAlgorithm(alg) {
		case jose.ES256:
			return pub.Curve == elliptic.P256()
		case jose.ES384:
			return pub.Curve == elliptic.P384()
		case jose.ES512:
			return pub.Curve == elliptic.P521()
		}
	case *rsa.PublicKey:
		switch jose.SignatureAlgorithm(alg) {
		case jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512:
			return true
		}
	case ed25519.PublicKey:
		return jose.SignatureAlgorithm(alg) == jose.EdDSA
	}
	return false
}
