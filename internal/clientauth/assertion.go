package clientauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/portcullis/portcullis/internal/store"
)

// assertionAlgs are the only algorithms a client assertion may use:
// asymmetric ones, so the server holds nothing that could forge an
// assertion. HS* (a shared secret the store keeps only as a digest) and
// "none" never verify.
var assertionAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256, jose.ES384, jose.EdDSA}

const (
	// assertionLeeway absorbs clock skew between client and server.
	assertionLeeway = 30 * time.Second
	// maxAssertionLifetime bounds how far ahead exp may be. RFC 7523 §3
	// sets no limit, but a long-lived assertion is a bearer credential;
	// since every jti is remembered until exp, the bound also caps how
	// long the replay records live.
	maxAssertionLifetime = 10 * time.Minute
	// maxJTILen bounds what is written to the replay store.
	maxJTILen = 256
	// maxCandidateKeys bounds the signature checks one assertion without
	// a kid can cost.
	maxCandidateKeys = 8
	// minRSABits follows RFC 7518 §3.3.
	minRSABits = 2048
)

// authenticateAssertion checks a private_key_jwt client assertion
// (RFC 7523 §3) against the client's registered keys and records its jti
// so it cannot be replayed.
func (a *Authenticator) authenticateAssertion(ctx context.Context, in credentials) (store.Client, error) {
	invalid := func(desc string, cause error) error {
		return &Error{Code: CodeInvalidClient, Description: desc, Cause: cause}
	}
	tok, err := jwt.ParseSigned(in.assertion, assertionAlgs)
	if err != nil {
		return store.Client{}, invalid(descAssertion, fmt.Errorf("parse client assertion: %w", err))
	}
	if len(tok.Headers) != 1 {
		return store.Client{}, invalid(descAssertion, errors.New("client assertion must have exactly one signature"))
	}
	// The unverified claims only say which client's keys to try; every
	// check below runs again on the verified claims.
	var claimed jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&claimed); err != nil {
		return store.Client{}, invalid(descAssertion, fmt.Errorf("decode client assertion claims: %w", err))
	}
	clientID := in.clientID
	if clientID == "" {
		clientID = claimed.Subject
	}
	if !validClientID(clientID) || claimed.Issuer != clientID || claimed.Subject != clientID {
		return store.Client{}, invalid(descAssertion, errors.New("iss and sub must both equal the client id"))
	}

	c, err := a.st.GetClient(ctx, clientID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return store.Client{}, unavailable(false, err)
	}
	var candidates []jose.JSONWebKey
	var refuse error
	switch {
	case err != nil:
		refuse = invalid(descFailed, errors.New("unknown client"))
	case c.AuthMethod != store.AuthPrivateKeyJWT:
		refuse = invalid(descFailed, errors.New("client is registered for "+c.AuthMethod+", used private_key_jwt"))
	default:
		if candidates, err = verificationKeys(c.JWKS, tok.Headers[0]); err != nil {
			refuse = invalid(descFailed, err)
		}
	}
	if refuse != nil {
		// A signature check is by far the dearest step; skipping it
		// when there is no key to check against would tell, by timing,
		// which client ids are registered for private_key_jwt.
		a.decoyVerify(tok)
		return store.Client{}, refuse
	}
	var claims jwt.Claims
	var aud struct {
		Aud json.RawMessage `json:"aud"`
	}
	verified := false
	for _, k := range candidates {
		if err := tok.Claims(k, &claims, &aud); err == nil {
			verified = true
			break
		}
	}
	if !verified {
		return store.Client{}, invalid(descFailed, errors.New("client assertion signature does not verify with a registered key"))
	}

	// RFC 7523 §3 items 1-2: iss and sub are the client_id.
	if claims.Issuer != clientID || claims.Subject != clientID {
		return store.Client{}, invalid(descAssertion, errors.New("iss and sub must both equal the client id"))
	}
	// RFC 7523 §3 item 3: the audience identifies this server.
	if err := a.checkAudience(aud.Aud); err != nil {
		return store.Client{}, invalid(descAssertion, err)
	}
	now := a.now()
	if err := checkAssertionTimes(claims, now); err != nil {
		return store.Client{}, err
	}
	// RFC 7523 §3 item 7 makes jti optional; OpenID Connect Core §9
	// requires it, and without it replay cannot be refused.
	if claims.ID == "" || len(claims.ID) > maxJTILen {
		return store.Client{}, invalid(descAssertion, errors.New("jti missing or too long"))
	}
	// The record must outlive the assertion, leeway included.
	exp := claims.Expiry.Time().Add(assertionLeeway)
	if err := a.st.UseJTI(ctx, clientID, claims.ID, exp); err != nil {
		if errors.Is(err, store.ErrReplay) {
			return store.Client{}, invalid(descAssertionReplay, errors.New("client assertion jti replayed"))
		}
		return store.Client{}, unavailable(false, err)
	}
	return c, nil
}

// checkAudience applies draft-ietf-oauth-rfc7523bis (its update of RFC
// 7523 §3), written after the 2025 disclosure that an assertion whose
// audience is an endpoint URL can be replayed by a malicious server that
// advertises another server's endpoint: the aud claim MUST be the
// authorization server's issuer identifier as a JSON string, never an
// array, and the server MUST refuse any other audience. Only when the
// legacy option is on is the token endpoint URL (what RFC 7523 §3 and
// OpenID Connect Core §9 suggested) accepted too, still as a single
// string. Comparison is simple string comparison (RFC 3986 §6.2.1).
func (a *Authenticator) checkAudience(raw json.RawMessage) error {
	if len(raw) == 0 {
		return errors.New("aud missing")
	}
	var aud string
	if err := json.Unmarshal(raw, &aud); err != nil {
		return errors.New("aud must be a single string")
	}
	switch {
	case a.issuer != "" && aud == a.issuer:
		return nil
	case a.legacyTokenEndpoint && a.tokenEndpoint != "" && aud == a.tokenEndpoint:
		return nil
	}
	return errors.New("aud is not this server's issuer identifier")
}

// decoyVerify checks tok's signature against a key nobody holds, of the
// kind tok's algorithm needs, so a refusal before any real check costs
// about what a real check does. The result is ignored: it never verifies.
func (a *Authenticator) decoyVerify(tok *jwt.JSONWebToken) {
	a.decoys.Add(1)
	if k := decoyKey(tok.Headers[0].Algorithm); k != nil {
		var sink jwt.Claims
		_ = tok.Claims(k, &sink)
	}
}

// Decoy public keys, one per key type, made on first use: RSA key
// generation is slow and most servers never see an RSA assertion.
var (
	decoyRSA = sync.OnceValue(func() any {
		k, err := rsa.GenerateKey(rand.Reader, minRSABits)
		if err != nil {
			return nil
		}
		return &k.PublicKey
	})
	decoyP256 = sync.OnceValue(func() any { return decoyECDSA(elliptic.P256()) })
	decoyP384 = sync.OnceValue(func() any { return decoyECDSA(elliptic.P384()) })
	decoyEd   = sync.OnceValue(func() any {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil
		}
		return pub
	})
)

func decoyECDSA(c elliptic.Curve) any {
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		return nil
	}
	return &k.PublicKey
}

// decoyKey returns the decoy public key for alg, nil for an algorithm
// outside assertionAlgs (which parsing already refused).
func decoyKey(alg string) any {
	switch jose.SignatureAlgorithm(alg) {
	case jose.RS256, jose.PS256:
		return decoyRSA()
	case jose.ES256:
		return decoyP256()
	case jose.ES384:
		return decoyP384()
	case jose.EdDSA:
		return decoyEd()
	}
	return nil
}

// checkAssertionTimes applies RFC 7523 §3 items 4-6 with a leeway, and
// bounds the lifetime (see maxAssertionLifetime).
func checkAssertionTimes(claims jwt.Claims, now time.Time) error {
	expired := func(cause string) error {
		return &Error{Code: CodeInvalidClient, Description: descAssertionExp, Cause: errors.New(cause)}
	}
	if claims.Expiry == nil {
		return &Error{Code: CodeInvalidClient, Description: descAssertion, Cause: errors.New("exp missing")}
	}
	exp := claims.Expiry.Time()
	if now.After(exp.Add(assertionLeeway)) {
		return expired("client assertion expired")
	}
	if exp.After(now.Add(maxAssertionLifetime + assertionLeeway)) {
		return &Error{Code: CodeInvalidClient, Description: descAssertion,
			Cause: fmt.Errorf("exp more than %s ahead", maxAssertionLifetime)}
	}
	if claims.NotBefore != nil && now.Add(assertionLeeway).Before(claims.NotBefore.Time()) {
		return expired("client assertion not yet valid (nbf)")
	}
	if claims.IssuedAt != nil && now.Add(assertionLeeway).Before(claims.IssuedAt.Time()) {
		return expired("client assertion issued in the future (iat)")
	}
	return nil
}

// verificationKeys returns the client's registered public keys that could
// have made a signature with header h: the one named by kid when there is
// a kid, else every key fit for the algorithm (at most maxCandidateKeys).
func verificationKeys(jwks []byte, h jose.Header) ([]jose.JSONWebKey, error) {
	if len(jwks) == 0 {
		return nil, errors.New("client has no registered jwks")
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwks, &set); err != nil {
		return nil, fmt.Errorf("client jwks: %w", err)
	}
	keys := set.Keys
	if h.KeyID != "" {
		keys = set.Key(h.KeyID)
	}
	var out []jose.JSONWebKey
	for _, k := range keys {
		// Public drops any private half a client registered by mistake
		// and empties symmetric keys, which never verify here.
		pub := k.Public()
		if !pub.Valid() || !pub.IsPublic() {
			continue
		}
		// A key of use "enc" is one the gateway encrypts response fields
		// to: it never verifies an assertion (RFC 7517 §4.2), even when
		// its type would fit the algorithm.
		if (k.Use != "" && k.Use != "sig") || (k.Algorithm != "" && k.Algorithm != h.Algorithm) {
			continue
		}
		if !keyFitsAlg(pub.Key, h.Algorithm) {
			continue
		}
		out = append(out, pub)
		if len(out) == maxCandidateKeys {
			break
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no registered key matches the assertion's kid and alg")
	}
	return out, nil
}

// keyFitsAlg reports whether key can verify alg, refusing weak RSA keys.
func keyFitsAlg(key any, alg string) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return (alg == string(jose.RS256) || alg == string(jose.PS256)) && k.N.BitLen() >= minRSABits
	case *ecdsa.PublicKey:
		return (alg == string(jose.ES256) && k.Curve == elliptic.P256()) ||
			(alg == string(jose.ES384) && k.Curve == elliptic.P384())
	case ed25519.PublicKey:
		return alg == string(jose.EdDSA)
	}
	return false
}
