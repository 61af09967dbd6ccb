package verify

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/go-jose/go-jose/v4"
)

// Verifier checks the JWTs one issuer mints for one audience. It is built
// once (New) and shared: safe for concurrent use.
type Verifier struct {
	cfg  settings
	algs []jose.SignatureAlgorithm
	keys *keyCache
}

// New returns a Verifier for cfg. The configuration is checked here, so a
// Verifier that exists accepts only what it should; nothing is fetched
// until the first token is verified.
func New(cfg Config) (*Verifier, error) {
	s, err := resolve(cfg)
	if err != nil {
		return nil, err
	}
	v := &Verifier{cfg: s}
	for _, a := range s.Algorithms {
		v.algs = append(v.algs, jose.SignatureAlgorithm(a))
	}
	v.keys = newKeyCache(&v.cfg)
	return v, nil
}

// Verify checks token and returns its claims. Errors wrap one of the
// Err* values of this package and never quote the token.
//
// The checks, in order: size; compact serialization in canonical
// base64url; the algorithm against the allow-list, before any key is
// looked up (RFC 8725 §3.1); no critical or b64 header; typ (RFC 8725
// §3.11); the signature, with a key of the issuer's key set found by kid
// and fitting the algorithm (jku, x5u, jwk and x5c are never used, RFC
// 8725 §3.10); then iss, aud, exp, nbf and iat (RFC 9068 §4).
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	// Size first: nothing of an oversized token is parsed.
	if len(token) > v.cfg.MaxTokenSize {
		return nil, ErrTooLarge
	}
	if !isCompactJWS(token) {
		return nil, fmt.Errorf("%w: not a compact jws", ErrMalformed)
	}
	jws, err := jose.ParseSignedCompact(token, v.algs)
	if err != nil {
		// go-jose's messages may quote header values: keep them out.
		if ae := (*jose.ErrUnexpectedSignatureAlgorithm)(nil); errors.As(err, &ae) {
			return nil, ErrAlgorithm
		}
		return nil, fmt.Errorf("%w: cannot parse the jws", ErrMalformed)
	}
	if len(jws.Signatures) != 1 {
		return nil, fmt.Errorf("%w: want exactly one signature", ErrMalformed)
	}
	// In the compact serialization every header is protected.
	h := jws.Signatures[0].Protected
	// RFC 7515 §4.1.11: no extension is implemented, so a token naming a
	// critical one is refused; "b64" (RFC 7797) would change what the
	// signature covers.
	if _, ok := h.ExtraHeaders["crit"]; ok {
		return nil, fmt.Errorf("%w: critical header extensions are not supported", ErrMalformed)
	}
	if _, ok := h.ExtraHeaders["b64"]; ok {
		return nil, fmt.Errorf("%w: unencoded payloads are not supported", ErrMalformed)
	}
	typ, _ := h.ExtraHeaders[jose.HeaderType].(string)
	if !v.typeAccepted(typ) {
		return nil, ErrType
	}
	key, err := v.keys.key(ctx, h.KeyID, h.Algorithm)
	if err != nil {
		return nil, err
	}
	payload, err := jws.Verify(key.Key)
	if err != nil {
		return nil, ErrSignature
	}
	// Claims are read only from a payload whose signature verified.
	c, err := parseClaims(payload)
	if err != nil {
		return nil, err
	}
	c.Type = typ
	if err := v.checkClaims(c); err != nil {
		return nil, err
	}
	return c, nil
}

// checkClaims applies RFC 9068 §4 to verified claims.
func (v *Verifier) checkClaims(c *Claims) error {
	// RFC 8725 §3.8: the issuer whose keys verified the token.
	if c.Issuer != v.cfg.Issuer {
		return ErrIssuer
	}
	// RFC 8725 §3.9: a token for another resource is refused.
	if !slices.Contains(c.Audience, v.cfg.Audience) {
		return ErrAudience
	}
	if c.ExpiresAt.IsZero() {
		return fmt.Errorf("%w: no exp claim", ErrMalformed)
	}
	now, leeway := v.cfg.Now(), v.cfg.Leeway
	// RFC 7519 §4.1.4: now must be before exp, give or take the leeway.
	if !now.Before(c.ExpiresAt.Add(leeway)) {
		return ErrExpired
	}
	// RFC 7519 §4.1.5.
	if !c.NotBefore.IsZero() && now.Before(c.NotBefore.Add(-leeway)) {
		return ErrNotYetValid
	}
	// A token issued in the future comes from a clock not to be trusted.
	if !c.IssuedAt.IsZero() && now.Before(c.IssuedAt.Add(-leeway)) {
		return fmt.Errorf("%w: iat in the future", ErrNotYetValid)
	}
	return nil
}

// typeAccepted reports whether typ is one of the accepted types.
func (v *Verifier) typeAccepted(typ string) bool {
	for _, want := range v.cfg.Types {
		if sameMediaType(typ, want) {
			return true
		}
	}
	return false
}
