package issuer

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

// Key errors. A lookup's error wraps one of them.
var (
	// ErrUnknownKey: no key of the set matches the token's kid (or,
	// without a kid, no single key fits its algorithm).
	ErrUnknownKey = errors.New("unknown signing key")
	// ErrAlgorithm: the key that the kid names is not for the token's
	// algorithm.
	ErrAlgorithm = errors.New("algorithm not allowed")
	// ErrPrivateKey: a key set publishes private key material, so the
	// whole set is refused.
	ErrPrivateKey = errors.New("jwk set contains private key material; refusing the whole set")
)

// minRSABits is the smallest RSA modulus accepted (RFC 7518 §3.3).
const minRSABits = 2048

// signatureAlgorithms are the asymmetric JWS algorithms (RFC 7518 §3.1,
// RFC 8037 §3.1) a key or a verifier may name. "none" and the HMAC
// algorithms are absent on purpose (RFC 8725 §3.1-3.2): a verifier
// holding public keys must never treat one as a shared secret.
var signatureAlgorithms = map[string]bool{
	string(jose.ES256): true, string(jose.ES384): true, string(jose.ES512): true,
	string(jose.RS256): true, string(jose.RS384): true, string(jose.RS512): true,
	string(jose.PS256): true, string(jose.PS384): true, string(jose.PS512): true,
	string(jose.EdDSA): true,
}

// SignatureAlgorithm reports whether alg is an asymmetric JWS algorithm
// a verifier may allow.
func SignatureAlgorithm(alg string) bool { return signatureAlgorithms[alg] }

// KeySet is one JWK Set reduced to the public signature keys a verifier
// may use. It is never modified once built; a nil *KeySet is empty.
type KeySet struct {
	keys  []*jose.JSONWebKey
	byKID map[string][]*jose.JSONWebKey
	// fingerprint summarises the keys (kid, alg, use, RFC 7638
	// thumbprint) so a refetch that brings the same keys is recognised.
	fingerprint [sha256.Size]byte
}

// ParseKeySet parses a JWK Set (RFC 7517 §5) and keeps the keys that are
// public, asymmetric and meant for signatures. A set that publishes a
// private key is refused outright: the issuer has leaked a signing key,
// and nothing signed with it proves anything.
func ParseKeySet(body []byte) (*KeySet, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, errors.New("jwk set is not a json object")
	}
	if doc.Keys == nil {
		return nil, errors.New("jwk set has no keys member")
	}
	set := &KeySet{byKID: make(map[string][]*jose.JSONWebKey, len(doc.Keys))}
	var lines []string
	for _, raw := range doc.Keys {
		k := new(jose.JSONWebKey)
		// RFC 7517 §5: a key of a type or with parameters we do not
		// understand is skipped, not fatal to the set.
		if err := k.UnmarshalJSON(raw); err != nil {
			continue
		}
		switch pub := k.Key.(type) {
		case *ecdsa.PrivateKey, *rsa.PrivateKey, ed25519.PrivateKey:
			return nil, ErrPrivateKey
		case *ecdsa.PublicKey, ed25519.PublicKey:
		case *rsa.PublicKey:
			if pub.N.BitLen() < minRSABits {
				continue
			}
		default:
			// Symmetric ("oct") keys and anything else: never a key a
			// token may be verified with.
			continue
		}
		// RFC 7517 §4.2: a key whose use is anything but "sig" is not
		// for signatures.
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
		// An empty set would refuse every token; a broken document is
		// likelier than an issuer withdrawing every key at once, so
		// the caller keeps what it has.
		return nil, errors.New("jwk set holds no usable signature keys")
	}
	slices.Sort(lines)
	set.fingerprint = sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return set, nil
}

// Keys returns the set's keys, in the document's order. The caller must
// not modify them.
func (s *KeySet) Keys() []*jose.JSONWebKey {
	if s == nil {
		return nil
	}
	return s.keys
}

// Fingerprint summarises the set: two sets with the same keys (kid, alg,
// use and RFC 7638 thumbprint, in any order) have the same fingerprint.
func (s *KeySet) Fingerprint() [sha256.Size]byte {
	if s == nil {
		return [sha256.Size]byte{}
	}
	return s.fingerprint
}

// Lookup finds the key for kid and alg. refetch reports whether fetching
// the set again could help: the kid is not in it at all.
func (s *KeySet) Lookup(kid, alg string) (k *jose.JSONWebKey, refetch bool, err error) {
	if s == nil {
		return nil, true, fmt.Errorf("%w: no key set loaded", ErrUnknownKey)
	}
	if kid == "" {
		// Without a kid, only an unambiguous key will do.
		var found *jose.JSONWebKey
		n := 0
		for _, k := range s.keys {
			if KeyFits(k, alg) {
				found = k
				n++
			}
		}
		switch n {
		case 1:
			return found, false, nil
		case 0:
			return nil, true, fmt.Errorf("%w: no kid and no key for the algorithm", ErrUnknownKey)
		default:
			return nil, false, fmt.Errorf("%w: no kid and several candidate keys", ErrUnknownKey)
		}
	}
	keys := s.byKID[kid]
	if len(keys) == 0 {
		return nil, true, fmt.Errorf("%w: kid not in the key set", ErrUnknownKey)
	}
	for _, k := range keys {
		if KeyFits(k, alg) {
			return k, false, nil
		}
	}
	// RFC 8725 §3.1: the key decides the algorithm, not the token.
	return nil, false, fmt.Errorf("%w: the key is not for this algorithm", ErrAlgorithm)
}

// KeyFits reports whether k may verify a signature made with alg: its
// declared alg, if any, is alg, and its type and curve fit alg, so a
// token never chooses how its key is read.
func KeyFits(k *jose.JSONWebKey, alg string) bool {
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
