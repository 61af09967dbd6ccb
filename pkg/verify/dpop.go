package verify

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// DPoPProofType is the "typ" header every DPoP proof carries (RFC 9449
// §4.2).
const DPoPProofType = "dpop+jwt"

// DPoP error codes (RFC 9449 §12.2): the value of the error parameter of
// the token endpoint's answer or of a resource server's WWW-Authenticate
// challenge.
const (
	// DPoPCodeInvalidProof: the proof is missing, malformed, or does not
	// match the request.
	DPoPCodeInvalidProof = "invalid_dpop_proof"
	// DPoPCodeUseNonce: the proof carries no nonce, or not a current one,
	// where the server requires one (§8, §9). The answer carries a fresh
	// nonce in the DPoP-Nonce header.
	DPoPCodeUseNonce = "use_dpop_nonce"
)

// DPoPReason sorts refused proofs for metrics and logs: a small, fixed
// set of values, so it can be a metric label as it is.
type DPoPReason string

// The reasons a proof is refused for.
const (
	// DPoPMalformed: missing, too large, not a compact JWS with an
	// accepted algorithm, a wrong typ or jwk, or claims that are not
	// what §4.2 says.
	DPoPMalformed DPoPReason = "malformed"
	// DPoPBadSignature: the signature does not verify with the jwk.
	DPoPBadSignature DPoPReason = "signature"
	// DPoPWrongMethod: htm is not the request's method (§4.3 step 8).
	DPoPWrongMethod DPoPReason = "htm"
	// DPoPWrongURL: htu is not the request's URL (§4.3 step 9).
	DPoPWrongURL DPoPReason = "htu"
	// DPoPStale: iat is too old or in the future (§4.3 step 11).
	DPoPStale DPoPReason = "iat"
	// DPoPWrongATH: ath is missing or not the access token's hash
	// (§4.3 step 12).
	DPoPWrongATH DPoPReason = "ath"
	// DPoPReplayed: the proof was used before (§11.1).
	DPoPReplayed DPoPReason = "replayed"
	// DPoPNonce: a current server nonce is required (§8, §9).
	DPoPNonce DPoPReason = "nonce"
)

// DPoPError is why a proof was refused. Code is one of the DPoPCode*
// constants; Description is safe to send to the client (it never quotes
// the proof); Reason sorts the refusal for metrics.
type DPoPError struct {
	Code        string
	Description string
	Reason      DPoPReason
}

// Error implements error.
func (e *DPoPError) Error() string {
	return "dpop: " + e.Code + ": " + e.Description
}

func invalidProof(reason DPoPReason, format string, args ...any) *DPoPError {
	return &DPoPError{Code: DPoPCodeInvalidProof, Description: fmt.Sprintf(format, args...), Reason: reason}
}

// DPoPAlgorithms are the proof algorithms accepted when DPoPOptions names
// none: asymmetric only, as RFC 9449 §4.3 requires (never "none", never a
// MAC).
var DPoPAlgorithms = []string{"ES256", "ES384", "ES512", "EdDSA", "RS256", "PS256", "PS384", "PS512"}

// Defaults of DPoPOptions.
const (
	// DefaultDPoPMaxAge is how old a proof's iat may be. A proof is made
	// for one request just before it is sent (RFC 9449 §11.1), so a
	// minute covers slow networks; every accepted proof stays in the
	// replay cache this long.
	DefaultDPoPMaxAge = time.Minute
	// DefaultDPoPLeeway is the clock skew allowed on each side of the
	// window: a client clock a little ahead of the server's.
	DefaultDPoPLeeway = 10 * time.Second
	// MaxDPoPProofSize bounds a proof before it is parsed. An RSA-4096
	// key in the jwk header and every claim fit in well under 4 KiB.
	MaxDPoPProofSize = 8 << 10
	// maxJTILength bounds the jti kept in the replay cache.
	maxJTILength = 256
)

// DPoPOptions say which request a proof must be for and how it is
// checked.
type DPoPOptions struct {
	// Method is the request's HTTP method; the proof's htm must equal it.
	Method string
	// URL is the request's absolute URL as the client addressed it
	// (scheme and host as seen in front of any proxy). The proof's htu
	// must equal it once both are normalised and stripped of query and
	// fragment (§4.3 step 9).
	URL string
	// AccessToken, when not empty, is the token the request presents:
	// the proof must then carry ath, its hash (§4.3 step 12).
	AccessToken string
	// Algorithms accepted; empty means DPoPAlgorithms.
	Algorithms []string
	// MaxAge is how old iat may be; zero means DefaultDPoPMaxAge.
	MaxAge time.Duration
	// Leeway is the clock skew allowed; zero means DefaultDPoPLeeway.
	Leeway time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Nonce, when set, is called with the proof's nonce claim ("" when
	// there is none); an error means the server wants a current nonce
	// and the proof is refused with DPoPCodeUseNonce (§8, §9).
	Nonce func(nonce string) error
	// Replay, when set, records each accepted proof and refuses one seen
	// before (§11.1). Without it a captured proof could be replayed
	// within its window, so servers always set one.
	Replay ReplayCache
}

// DPoPProof is a verified proof.
type DPoPProof struct {
	JTI    string
	Method string
	// URL is the htu claim as sent.
	URL string
	// AccessTokenHash is the ath claim; empty when the proof has none.
	AccessTokenHash string
	Nonce           string
	// Thumbprint is the RFC 7638 SHA-256 thumbprint of the proof's key,
	// base64url: what a bound token's cnf.jkt must equal (§6.1).
	Thumbprint string
	Algorithm  string
	IssuedAt   time.Time
	// Key is the proof's public key.
	Key crypto.PublicKey
}

// proofClaims is the payload of RFC 9449 §4.2.
type proofClaims struct {
	JTI   string          `json:"jti"`
	HTM   string          `json:"htm"`
	HTU   string          `json:"htu"`
	IAT   json.RawMessage `json:"iat"`
	ATH   string          `json:"ath,omitempty"`
	Nonce string          `json:"nonce,omitempty"`
}

// VerifyDPoPProof checks a DPoP proof (the value of the request's one
// DPoP header) against the request it came with, following the steps of
// RFC 9449 §4.3. It does not check that the proof's key is the one an
// access token is bound to: compare DPoPProof.Thumbprint with the token's
// cnf.jkt (§7.1). Every failure is a *DPoPError.
func VerifyDPoPProof(ctx context.Context, proof string, o DPoPOptions) (*DPoPProof, error) {
	if proof == "" {
		return nil, invalidProof(DPoPMalformed, "the DPoP proof is missing")
	}
	if len(proof) > MaxDPoPProofSize {
		return nil, invalidProof(DPoPMalformed, "the DPoP proof is too large")
	}
	algs, err := dpopAlgorithms(o.Algorithms)
	if err != nil {
		return nil, err
	}
	// §4.3 steps 2, 5: a compact JWS with an allowed asymmetric algorithm;
	// the allow-list is applied while parsing, before any key is used.
	jws, perr := jose.ParseSignedCompact(proof, algs)
	if perr != nil {
		return nil, invalidProof(DPoPMalformed, "the DPoP proof is not a JWS with an accepted algorithm")
	}
	if len(jws.Signatures) != 1 {
		return nil, invalidProof(DPoPMalformed, "the DPoP proof must carry one signature")
	}
	h := jws.Signatures[0].Protected
	// §4.3 step 4.
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != DPoPProofType {
		return nil, invalidProof(DPoPMalformed, "the DPoP proof's typ must be %s", DPoPProofType)
	}
	// §4.3 step 7: the jwk header is a public key, never a private one;
	// steps 6: the signature verifies with it.
	jwk := h.JSONWebKey
	if jwk == nil || !jwk.Valid() {
		return nil, invalidProof(DPoPMalformed, "the DPoP proof carries no valid jwk header")
	}
	if !jwk.IsPublic() {
		return nil, invalidProof(DPoPMalformed, "the DPoP proof's jwk must be a public key")
	}
	payload, verr := jws.Verify(jwk)
	if verr != nil {
		return nil, invalidProof(DPoPBadSignature, "the DPoP proof's signature does not verify")
	}
	var c proofClaims
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&c); err != nil {
		return nil, invalidProof(DPoPMalformed, "the DPoP proof's claims are malformed")
	}
	// §4.3 step 3: every required claim.
	if c.JTI == "" || c.HTM == "" || c.HTU == "" || len(c.IAT) == 0 {
		return nil, invalidProof(DPoPMalformed, "the DPoP proof lacks jti, htm, htu or iat")
	}
	if len(c.JTI) > maxJTILength {
		return nil, invalidProof(DPoPMalformed, "the DPoP proof's jti is too long")
	}
	iat, ok := unixSeconds(c.IAT)
	if !ok {
		return nil, invalidProof(DPoPMalformed, "the DPoP proof's iat is not a number")
	}
	// §4.3 step 8: the method, compared as sent (methods are case-
	// sensitive, RFC 9110 §9.1).
	if c.HTM != o.Method {
		return nil, invalidProof(DPoPWrongMethod, "the DPoP proof is for another method")
	}
	// §4.3 step 9.
	want, err := NormalizeHTU(o.URL)
	if err != nil {
		return nil, invalidProof(DPoPWrongURL, "the request URL cannot be normalised")
	}
	got, err := NormalizeHTU(c.HTU)
	if err != nil || got != want {
		return nil, invalidProof(DPoPWrongURL, "the DPoP proof is for another URL")
	}
	// §4.3 step 11: iat within the window.
	now := time.Now()
	if o.Now != nil {
		now = o.Now()
	}
	maxAge, leeway := o.MaxAge, o.Leeway
	if maxAge <= 0 {
		maxAge = DefaultDPoPMaxAge
	}
	if leeway <= 0 {
		leeway = DefaultDPoPLeeway
	}
	issued := time.Unix(iat, 0)
	if issued.After(now.Add(leeway)) {
		return nil, invalidProof(DPoPStale, "the DPoP proof is issued in the future")
	}
	if issued.Before(now.Add(-maxAge - leeway)) {
		return nil, invalidProof(DPoPStale, "the DPoP proof is too old")
	}
	// §4.3 step 12: ath binds the proof to the presented token.
	if o.AccessToken != "" {
		if c.ATH == "" {
			return nil, invalidProof(DPoPWrongATH, "the DPoP proof lacks ath")
		}
		if subtle.ConstantTimeCompare([]byte(c.ATH), []byte(AccessTokenHash(o.AccessToken))) != 1 {
			return nil, invalidProof(DPoPWrongATH, "the DPoP proof's ath does not match the access token")
		}
	}
	// §4.3 step 10: a nonce where the server asks for one. Checked after
	// the signature so an unsigned guess learns nothing.
	if o.Nonce != nil {
		if err := o.Nonce(c.Nonce); err != nil {
			return nil, &DPoPError{Code: DPoPCodeUseNonce, Description: "the authorization server requires a current nonce in the DPoP proof", Reason: DPoPNonce}
		}
	}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, invalidProof(DPoPMalformed, "the DPoP proof's key has no thumbprint")
	}
	p := &DPoPProof{
		JTI:             c.JTI,
		Method:          c.HTM,
		URL:             c.HTU,
		AccessTokenHash: c.ATH,
		Nonce:           c.Nonce,
		Thumbprint:      base64.RawURLEncoding.EncodeToString(tp),
		Algorithm:       jws.Signatures[0].Header.Algorithm,
		IssuedAt:        issued,
		Key:             jwk.Key,
	}
	// §11.1: last, so a proof refused for another reason does not burn
	// its jti. The key is scoped to the proof's key: a jti only needs to
	// be unique per signer.
	if o.Replay != nil {
		seen, err := o.Replay.Seen(ctx, replayKey(p.Thumbprint, p.JTI), issued.Add(maxAge+2*leeway))
		if err != nil {
			return nil, fmt.Errorf("dpop: replay cache: %w", err)
		}
		if seen {
			return nil, invalidProof(DPoPReplayed, "the DPoP proof has been used before")
		}
	}
	return p, nil
}

// AccessTokenHash is the ath of a proof made for accessToken: the
// base64url SHA-256 of its ASCII bytes (RFC 9449 §4.2).
func AccessTokenHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// replayKey is a fixed-size key for a proof's (key, jti) pair.
func replayKey(thumbprint, jti string) string {
	h := sha256.New()
	h.Write([]byte(thumbprint))
	h.Write([]byte{0})
	h.Write([]byte(jti))
	return "dpop:" + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

func dpopAlgorithms(names []string) ([]jose.SignatureAlgorithm, error) {
	if len(names) == 0 {
		names = DPoPAlgorithms
	}
	out := make([]jose.SignatureAlgorithm, 0, len(names))
	for _, n := range names {
		if !slices.Contains(DPoPAlgorithms, n) {
			return nil, fmt.Errorf("dpop: algorithm %q is not an asymmetric signature algorithm", n)
		}
		out = append(out, jose.SignatureAlgorithm(n))
	}
	return out, nil
}

// unixSeconds reads a NumericDate (RFC 7519 §2): an integer or a number
// with a fraction, which is dropped.
func unixSeconds(raw json.RawMessage) (int64, bool) {
	// json.Number also takes a quoted number; a NumericDate is never one.
	if len(raw) == 0 || raw[0] == '"' {
		return 0, false
	}
	var f json.Number
	if err := json.Unmarshal(raw, &f); err != nil {
		return 0, false
	}
	if i, err := f.Int64(); err == nil {
		return i, true
	}
	v, err := f.Float64()
	if err != nil || v < 0 || v > 1<<40 {
		return 0, false
	}
	return int64(v), true
}

// ParseDPoPAuthorization reads an "Authorization: DPoP <token>" value
// (RFC 9449 §7.1): the scheme, case-insensitively, one or more spaces and
// a token68. ok is false for any other scheme or a malformed token.
func ParseDPoPAuthorization(v string) (accessToken string, ok bool) {
	if len(v) < 6 || v[4] != ' ' || !strings.EqualFold(v[:4], "dpop") {
		return "", false
	}
	t := strings.TrimLeft(v[5:], " ")
	if t == "" || !isToken68(t) {
		return "", false
	}
	return t, true
}

// isToken68 is RFC 9110 §11.2: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~"
// / "+" / "/" ) *"=".
func isToken68(s string) bool {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/') {
			break
		}
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}
