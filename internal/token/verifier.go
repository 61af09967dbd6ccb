package token

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/pkg/issuer"
)

// Verification errors. Callers map all of them to RFC 6750 invalid_token;
// the distinction is for logs and metrics only.
var (
	ErrExpired     = errors.New("token: expired")
	ErrNotYetValid = errors.New("token: not yet valid")
	ErrIssuer      = errors.New("token: wrong issuer")
	ErrAudience    = errors.New("token: wrong audience")
	// ErrAlgorithm and ErrUnknownKey are pkg/issuer's, which finds keys
	// in the key set for this package and for pkg/verify alike.
	ErrAlgorithm  = issuer.ErrAlgorithm
	ErrUnknownKey = issuer.ErrUnknownKey
	ErrTooLarge   = errors.New("token: too large")
	// ErrType wraps ErrMalformed too: the typ header is not one the
	// verifier accepts (a phantom token presented by a client, an ID
	// token).
	ErrType = errors.New("token: unexpected typ")
)

// VerifierConfig says what a valid access token JWT looks like.
type VerifierConfig struct {
	Issuer string
	// Audiences: the token's aud must contain at least one of them.
	// Empty means the aud claim is not checked (only for APIs whose
	// config says so explicitly).
	Audiences []string
	// Algorithms allowed (never "none", never HS*); empty means ES256,
	// RS256, PS256, EdDSA.
	Algorithms []string
	// Types are the accepted "typ" headers (RFC 8725 §3.11); empty means
	// [at+jwt] (RFC 9068 §4). A verifier of what clients present keeps
	// the default, so a token meant to stay inside (TypePhantomJWT) is
	// refused at the edge; what verifies forwarded tokens behind the
	// gateway lists both.
	Types []string
	// Leeway is the clock skew allowed on exp, nbf and iat; zero means 30s.
	Leeway time.Duration
	// MaxSize bounds the token in bytes; zero means 8 KiB.
	MaxSize int
	// CacheSize bounds the verified-token cache (entries, keyed by a
	// hash of the token and confirmed by a constant-time comparison, kept
	// until exp); zero means 100000, negative disables it.
	CacheSize int
	// RequireLowS refuses ES256/ES384/ES512 signatures whose S is above
	// half the curve order, the malleated twin of a valid signature
	// (ecdsa_lows.go), so each token has one spelling. Only for issuers
	// that sign in the low-S form (CanonicalECDSA): other signers make a
	// high-S signature half of the time. False accepts both forms.
	RequireLowS bool
}

// Defaults of VerifierConfig.
const (
	defaultLeeway    = 30 * time.Second
	defaultCacheSize = 100000
)

// defaultAlgorithms are the algorithms a verifier accepts when its config
// names none.
var defaultAlgorithms = []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.PS256, jose.EdDSA}

// Claims are a verified token's claims, parsed once.
type Claims struct {
	Issuer    string
	Subject   string
	Audience  []string
	ExpiresAt time.Time
	IssuedAt  time.Time
	NotBefore time.Time
	ClientID  string
	// Scopes is the "scope" claim split on spaces.
	Scopes []string
	JTI    string
	// Raw holds every claim as decoded JSON, for policies.
	Raw map[string]any
}

// Verified is the result of verifying a JWT: the token string itself (to
// forward) and its claims. A Verified may be shared by every request that
// presents the same token, so it must be treated as read-only.
type Verified struct {
	JWT    string
	Claims *Claims
}

// Verifier checks JWT access tokens against an issuer's JWKS: signature
// with an allow-listed algorithm and a key of the cache only (jku, x5u and
// embedded jwk headers are ignored), typ, iss, aud, exp, nbf, iat with
// bounded skew, size. Results are cached per token until exp (and only
// while the issuer's key set is unchanged), so a token is verified
// cryptographically once. Safe for concurrent use.
type Verifier struct {
	issuer    string
	audiences []string
	algs      []jose.SignatureAlgorithm
	types     []string
	leeway    time.Duration
	maxSize   int
	jwks      *JWKSCache
	now       func() time.Time
	cache     *verifiedCache // nil when disabled
	lowS      bool
}

// NewVerifier returns a verifier using keys from jwks. A nil now means
// time.Now. The config is checked here, so a verifier that exists is one
// that can only accept what it should.
func NewVerifier(cfg VerifierConfig, jwks *JWKSCache, now func() time.Time) (*Verifier, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("token: verifier needs an issuer")
	}
	if jwks == nil {
		return nil, errors.New("token: verifier needs a jwks cache")
	}
	// Keys of one issuer must never vouch for another's tokens.
	if jwks.cfg.Issuer != "" && jwks.cfg.Issuer != cfg.Issuer {
		return nil, fmt.Errorf("token: verifier issuer %q differs from its jwks cache's issuer %q", cfg.Issuer, jwks.cfg.Issuer)
	}
	if now == nil {
		now = time.Now
	}
	v := &Verifier{
		issuer:    cfg.Issuer,
		audiences: slices.Clone(cfg.Audiences),
		algs:      defaultAlgorithms,
		types:     slices.Clone(cfg.Types),
		leeway:    cfg.Leeway,
		maxSize:   cfg.MaxSize,
		jwks:      jwks,
		now:       now,
		lowS:      cfg.RequireLowS,
	}
	if len(cfg.Algorithms) > 0 {
		v.algs = make([]jose.SignatureAlgorithm, 0, len(cfg.Algorithms))
		for _, a := range cfg.Algorithms {
			// RFC 8725 §3.1-3.2: an asymmetric allow-list only, so neither
			// "none" nor an HMAC keyed with a public key can ever pass.
			if !issuer.SignatureAlgorithm(a) {
				return nil, fmt.Errorf("token: algorithm %q is not allowed for access tokens", a)
			}
			v.algs = append(v.algs, jose.SignatureAlgorithm(a))
		}
	}
	if len(v.types) == 0 {
		v.types = []string{TypeAccessJWT}
	}
	for _, t := range v.types {
		if t == "" {
			return nil, errors.New("token: an accepted typ must not be empty")
		}
	}
	switch {
	case v.leeway < 0:
		return nil, errors.New("token: leeway must not be negative")
	case v.leeway == 0:
		v.leeway = defaultLeeway
	}
	switch {
	case v.maxSize < 0:
		return nil, errors.New("token: max size must not be negative")
	case v.maxSize == 0:
		v.maxSize = MaxLength
	}
	switch {
	case cfg.CacheSize == 0:
		v.cache = newVerifiedCache(defaultCacheSize)
	case cfg.CacheSize > 0:
		v.cache = newVerifiedCache(cfg.CacheSize)
	}
	return v, nil
}

// Verify checks raw and returns its claims, or an error wrapping one of
// the Err* values above (or ErrMalformed / ErrSignature). Errors never
// quote the token. The result may be shared with other callers presenting
// the same token and must not be modified.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Verified, error) {
	// Size first: nothing of an oversized token is parsed or hashed.
	if len(raw) > v.maxSize {
		return nil, ErrTooLarge
	}
	if raw == "" {
		return nil, ErrMalformed
	}
	now := v.now()
	if v.cache == nil {
		vd, _, err := v.verify(ctx, raw, now)
		return vd, err
	}
	h := v.cache.hash(raw)
	gen := v.jwks.generation()
	if vd := v.cache.get(h, raw, now.UnixNano(), gen); vd != nil {
		return vd, nil
	}
	vd, notBefore, err := v.verify(ctx, raw, now)
	if err != nil {
		return nil, err
	}
	// The generation read before verifying is stored: if the keys changed
	// meanwhile, the entry is merely re-verified once more.
	v.cache.put(h, cacheEntry{
		v:         vd,
		notBefore: unixNano(notBefore),
		// Cached validity ends at exp exactly; the leeway window, when
		// reached, is handled by a fresh verification.
		expires: unixNano(vd.Claims.ExpiresAt),
		gen:     gen,
	}, now.UnixNano())
	return vd, nil
}

// verify does the full check of raw. notBefore is the earliest instant the
// result holds (nbf and iat less the leeway; zero when neither is set), for
// re-checks of cached results.
func (v *Verifier) verify(ctx context.Context, raw string, now time.Time) (_ *Verified, notBefore time.Time, _ error) {
	if !compactShape(raw) {
		return nil, time.Time{}, fmt.Errorf("%w: not a compact jws", ErrMalformed)
	}
	// The allow-list is applied while parsing, before any key is looked
	// up (RFC 8725 §3.1). Compact serialization only: RFC 7519 §7.2.
	jws, err := jose.ParseSignedCompact(raw, v.algs)
	if err != nil {
		// go-jose's messages may quote header values: keep them out.
		if ae := (*jose.ErrUnexpectedSignatureAlgorithm)(nil); errors.As(err, &ae) {
			return nil, time.Time{}, ErrAlgorithm
		}
		return nil, time.Time{}, fmt.Errorf("%w: cannot parse jws", ErrMalformed)
	}
	if len(jws.Signatures) != 1 {
		return nil, time.Time{}, fmt.Errorf("%w: want exactly one signature", ErrMalformed)
	}
	if v.lowS {
		if err := checkLowS(string(jws.Signatures[0].Protected.Algorithm), jws.Signatures[0].Signature); err != nil {
			return nil, time.Time{}, err
		}
	}
	// In the compact serialization every header is protected.
	h := jws.Signatures[0].Protected
	// RFC 7515 §4.1.11: we implement no extension, so a token naming a
	// critical one is refused; "b64" (RFC 7797) would change what the
	// signature covers.
	if _, ok := h.ExtraHeaders["crit"]; ok {
		return nil, time.Time{}, fmt.Errorf("%w: critical header extensions are not supported", ErrMalformed)
	}
	if _, ok := h.ExtraHeaders["b64"]; ok {
		return nil, time.Time{}, fmt.Errorf("%w: unencoded payloads are not supported", ErrMalformed)
	}
	// RFC 9068 §4 and RFC 8725 §3.11: explicit typing keeps ID tokens,
	// phantom tokens and other JWTs from passing as access tokens.
	if !v.typeAccepted(h.ExtraHeaders[jose.HeaderType]) {
		return nil, time.Time{}, fmt.Errorf("%w: %w", ErrMalformed, ErrType)
	}
	// RFC 8725 §3.10: jku, x5u, jwk and x5c are never followed or used;
	// the key comes from the issuer's key set alone.
	key, err := v.jwks.Key(ctx, h.KeyID, h.Algorithm)
	if err != nil {
		return nil, time.Time{}, err
	}
	payload, err := jws.Verify(key.Key)
	if err != nil {
		return nil, time.Time{}, ErrSignature
	}
	// Claims are read only from a payload whose signature verified.
	c, err := parseClaims(payload)
	if err != nil {
		return nil, time.Time{}, err
	}
	if notBefore, err = v.checkClaims(c, now); err != nil {
		return nil, time.Time{}, err
	}
	return &Verified{JWT: strings.Clone(raw), Claims: c}, notBefore, nil
}

// checkClaims applies RFC 9068 §4 to verified claims and returns the
// earliest instant they are valid (zero when nbf and iat are absent).
func (v *Verifier) checkClaims(c *Claims, now time.Time) (notBefore time.Time, _ error) {
	// RFC 8725 §3.8: the issuer must be the one whose keys verified it.
	if c.Issuer != v.issuer {
		return time.Time{}, ErrIssuer
	}
	// RFC 8725 §3.9: a token meant for another resource is refused.
	if len(v.audiences) > 0 && !intersects(c.Audience, v.audiences) {
		return time.Time{}, ErrAudience
	}
	if c.ExpiresAt.IsZero() {
		return time.Time{}, fmt.Errorf("%w: no exp claim", ErrMalformed)
	}
	// RFC 7519 §4.1.4: now must be before exp, give or take the leeway.
	if !now.Before(c.ExpiresAt.Add(v.leeway)) {
		return time.Time{}, ErrExpired
	}
	if !c.NotBefore.IsZero() {
		notBefore = c.NotBefore.Add(-v.leeway)
		if now.Before(notBefore) {
			return time.Time{}, ErrNotYetValid
		}
	}
	// A token issued in the future was minted by a clock we cannot trust.
	if !c.IssuedAt.IsZero() {
		iat := c.IssuedAt.Add(-v.leeway)
		if now.Before(iat) {
			return time.Time{}, fmt.Errorf("%w: iat in the future", ErrNotYetValid)
		}
		if notBefore.IsZero() || iat.After(notBefore) {
			notBefore = iat
		}
	}
	return notBefore, nil
}

// typeAccepted reports whether the typ header names one of the accepted
// types.
func (v *Verifier) typeAccepted(typ any) bool {
	for _, want := range v.types {
		if typMatches(typ, want) {
			return true
		}
	}
	return false
}

func intersects(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

// compactShape reports whether s is three non-empty base64url segments in
// canonical form. Non-canonical encodings (stray bits in the last
// character) would decode to the same bytes, letting one token take many
// spellings that each verify.
func compactShape(s string) bool {
	parts := 0
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			continue
		}
		if !canonicalBase64URL(s[start:i]) {
			return false
		}
		parts++
		start = i + 1
	}
	return parts == 3
}

// canonicalBase64URL checks an unpadded base64url string whose unused
// trailing bits are zero (RFC 4648 §3.5).
func canonicalBase64URL(s string) bool {
	if len(s) == 0 || len(s)%4 == 1 {
		return false
	}
	var last byte
	for i := 0; i < len(s); i++ {
		v, ok := base64URLValue(s[i])
		if !ok {
			return false
		}
		last = v
	}
	switch len(s) % 4 {
	case 2:
		return last&0x0f == 0
	case 3:
		return last&0x03 == 0
	}
	return true
}

func base64URLValue(c byte) (byte, bool) {
	switch {
	case c >= 'A' && c <= 'Z':
		return c - 'A', true
	case c >= 'a' && c <= 'z':
		return c - 'a' + 26, true
	case c >= '0' && c <= '9':
		return c - '0' + 52, true
	case c == '-':
		return 62, true
	case c == '_':
		return 63, true
	}
	return 0, false
}
