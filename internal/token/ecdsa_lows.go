package token

import (
	"crypto/elliptic"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// ECDSA signature malleability: if (R, S) verifies, so does (R, n-S),
// where n is the curve's order. A JWS signed with ES256, ES384 or ES512
// therefore has a second spelling, a different string that verifies and
// means the same. Wherever a token string is a key (a revocation or
// replay list keyed by its digest, a backend's cache) the twin is a new
// token. Requiring the low form (S <= n/2, as Bitcoin's BIP 62 and
// Ethereum do) leaves one spelling; a signer keeps to it with
// CanonicalECDSA.

// ecdsaCurve is the curve and the size of R and S in bytes of each ECDSA
// algorithm (RFC 7518 §3.4).
func ecdsaCurve(alg string) (elliptic.Curve, int, bool) {
	switch jose.SignatureAlgorithm(alg) {
	case jose.ES256:
		return elliptic.P256(), 32, true
	case jose.ES384:
		return elliptic.P384(), 48, true
	case jose.ES512:
		return elliptic.P521(), 66, true
	}
	return nil, 0, false
}

// halfOrders are n/2 of each curve, computed once.
var halfOrders = map[elliptic.Curve]*big.Int{
	elliptic.P256(): new(big.Int).Rsh(elliptic.P256().Params().N, 1),
	elliptic.P384(): new(big.Int).Rsh(elliptic.P384().Params().N, 1),
	elliptic.P521(): new(big.Int).Rsh(elliptic.P521().Params().N, 1),
}

// checkLowS refuses a high-S ECDSA signature (sig is the JWS signature,
// R and S concatenated, RFC 7518 §3.4). Other algorithms pass: RSA
// PKCS#1 v1.5 and Ed25519 (RFC 8032 §5.1.7 already requires S < L) have
// one signature per key and message, and PSS is randomized by design,
// each spelling made by the key holder. A signature of the wrong length
// is left to the verification, which refuses it.
func checkLowS(alg string, sig []byte) error {
	curve, size, ok := ecdsaCurve(alg)
	if !ok || len(sig) != 2*size {
		return nil
	}
	s := new(big.Int).SetBytes(sig[size:])
	if s.Cmp(halfOrders[curve]) > 0 {
		return fmt.Errorf("%w: ecdsa signature with high s", ErrSignature)
	}
	return nil
}

// CanonicalECDSA returns the compact JWS jws with its ECDSA signature in
// the low-S form, the one spelling a verifier with RequireLowS accepts;
// a JWS of another algorithm is returned unchanged. For signers: go-jose
// (through crypto/ecdsa) makes a high-S signature half of the time.
func CanonicalECDSA(jws string) (string, error) {
	parsed, err := jose.ParseSignedCompact(jws, []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.ES512})
	if ae := (*jose.ErrUnexpectedSignatureAlgorithm)(nil); errors.As(err, &ae) {
		return jws, nil
	}
	if err != nil || len(parsed.Signatures) != 1 {
		return "", fmt.Errorf("%w: not a compact jws", ErrMalformed)
	}
	curve, size, _ := ecdsaCurve(string(parsed.Signatures[0].Protected.Algorithm))
	sig := parsed.Signatures[0].Signature
	if len(sig) != 2*size {
		return "", fmt.Errorf("%w: ecdsa signature of %d bytes", ErrMalformed, len(sig))
	}
	s := new(big.Int).SetBytes(sig[size:])
	if s.Cmp(halfOrders[curve]) <= 0 {
		return jws, nil
	}
	low := make([]byte, 2*size)
	copy(low, sig[:size])
	s.Sub(curve.Params().N, s).FillBytes(low[size:])
	return jws[:strings.LastIndexByte(jws, '.')+1] + base64.RawURLEncoding.EncodeToString(low), nil
}
