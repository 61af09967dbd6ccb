// Package phantomtest holds fakes for testing code that resolves phantom
// and split tokens: a test issuer that signs RFC 9068 access-token JWTs, a
// small JWTVerifier over the issuer's key, and an httptest authorization
// server whose introspection endpoint answers with phantom JWTs.
//
// It is for tests only: production code must never import it, and its
// keys are generated per test run and never persisted.
package phantomtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/token"
)

// Issuer signs test access tokens with an ES256 key of its own.
type Issuer struct {
	// Name is the "iss" of every token it signs.
	Name   string
	keyID  string
	signer jose.Signer
	jwks   jose.JSONWebKeySet
}

// NewIssuer returns an issuer called name with a fresh key.
func NewIssuer(tb testing.TB, name string) *Issuer {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatalf("generate key: %v", err)
	}
	kid := token.NewID()
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType(token.TypeAccessJWT))
	if err != nil {
		tb.Fatalf("new signer: %v", err)
	}
	return &Issuer{
		Name:   name,
		keyID:  kid,
		signer: signer,
		jwks: jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
			Key: &key.PublicKey, KeyID: kid, Algorithm: string(jose.ES256), Use: "sig",
		}}},
	}
}

// JWKS returns the issuer's public key set.
func (i *Issuer) JWKS() *jose.JSONWebKeySet { return &i.jwks }

// Sign returns a compact JWS of claims with typ at+jwt.
func (i *Issuer) Sign(tb testing.TB, claims map[string]any) string {
	tb.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		tb.Fatalf("marshal claims: %v", err)
	}
	sig, err := i.signer.Sign(payload)
	if err != nil {
		tb.Fatalf("sign: %v", err)
	}
	s, err := sig.CompactSerialize()
	if err != nil {
		tb.Fatalf("serialize: %v", err)
	}
	return s
}

// AccessToken returns a signed access token for sub with the given scope,
// issued at iat and expiring at exp.
func (i *Issuer) AccessToken(tb testing.TB, sub, scope string, iat, exp time.Time) string {
	tb.Helper()
	return i.Sign(tb, token.AccessClaims{
		Issuer:    i.Name,
		Subject:   sub,
		Audience:  []string{"api"},
		ExpiresAt: exp.Unix(),
		IssuedAt:  iat.Unix(),
		JTI:       token.NewID(),
		ClientID:  "client-" + sub,
		Scope:     scope,
	}.Map())
}

// Verifier is a minimal JWTVerifier for tests: ES256 signature against the
// issuer's key, typ at+jwt, iss, and exp against an injected clock with no
// leeway. The real verifier (token.Verifier) checks much more.
type Verifier struct {
	iss   *Issuer
	now   func() time.Time
	calls atomic.Int64
}

// Verifier returns a verifier trusting only i, reading time from now.
func (i *Issuer) Verifier(now func() time.Time) *Verifier {
	return &Verifier{iss: i, now: now}
}

// Calls counts Verify calls.
func (v *Verifier) Calls() int64 { return v.calls.Load() }

// Verify checks raw and returns its claims.
func (v *Verifier) Verify(ctx context.Context, raw string) (*token.Verified, error) {
	v.calls.Add(1)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	payload, err := token.VerifyJWS(raw, &v.iss.jwks, []jose.SignatureAlgorithm{jose.ES256}, token.TypeAccessJWT)
	if err != nil {
		return nil, err
	}
	m, err := token.DecodeClaims(payload)
	if err != nil {
		return nil, err
	}
	c := &token.Claims{Raw: m}
	c.Issuer, _ = m["iss"].(string)
	c.Subject, _ = m["sub"].(string)
	c.ClientID, _ = m["client_id"].(string)
	c.JTI, _ = m["jti"].(string)
	if s, ok := m["scope"].(string); ok {
		c.Scopes = strings.Fields(s)
	}
	switch aud := m["aud"].(type) {
	case string:
		c.Audience = []string{aud}
	case []any:
		for _, a := range aud {
			if s, ok := a.(string); ok {
				c.Audience = append(c.Audience, s)
			}
		}
	}
	if c.Issuer != v.iss.Name {
		return nil, token.ErrIssuer
	}
	exp, ok := m["exp"].(float64)
	if !ok {
		return nil, fmt.Errorf("%w: no exp", token.ErrMalformed)
	}
	c.ExpiresAt = time.Unix(int64(exp), 0)
	if iat, ok := m["iat"].(float64); ok {
		c.IssuedAt = time.Unix(int64(iat), 0)
	}
	if !v.now().Before(c.ExpiresAt) {
		return nil, token.ErrExpired
	}
	return &token.Verified{JWT: raw, Claims: c}, nil
}

// VerifierFunc adapts a function to the JWTVerifier interface.
type VerifierFunc func(ctx context.Context, raw string) (*token.Verified, error)

// Verify calls f.
func (f VerifierFunc) Verify(ctx context.Context, raw string) (*token.Verified, error) {
	return f(ctx, raw)
}
