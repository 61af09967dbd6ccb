package token

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
)

func TestVerifyValid(t *testing.T) {
	for _, alg := range []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.PS256, jose.EdDSA} {
		t.Run(string(alg), func(t *testing.T) {
			e := newTestEnv(t, VerifierConfig{}, newSigningKey(t, alg, "k-"+string(alg)))
			raw := e.token(t, nil)
			got, err := e.v.Verify(t.Context(), raw)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			now := e.clock.Now()
			want := &Verified{JWT: raw, Claims: &Claims{
				Issuer:    e.issuer.URL(),
				Subject:   "alice",
				Audience:  []string{testAudience},
				ExpiresAt: time.Unix(now.Add(time.Hour).Unix(), 0),
				IssuedAt:  time.Unix(now.Unix(), 0),
				NotBefore: time.Unix(now.Unix(), 0),
				ClientID:  "warehouse-spa",
				Scopes:    []string{"list_items", "order_item"},
				JTI:       "jti-1",
				Raw: map[string]any{
					"iss": e.issuer.URL(), "sub": "alice", "aud": testAudience,
					"exp": float64(now.Add(time.Hour).Unix()), "iat": float64(now.Unix()), "nbf": float64(now.Unix()),
					"jti": "jti-1", "client_id": "warehouse-spa", "scope": "list_items order_item",
					"roles": []any{"warehouse_admin"},
				},
			}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Verify (-want +got):\n%s", diff)
			}
		})
	}
}

// TestVerifyAttacks is the gateway issue's table of attacks on JWTs: each
// must fail with its error, without contacting any URL the token names
// and without quoting the token.
func TestVerifyAttacks(t *testing.T) {
	e := newTestEnv(t, VerifierConfig{})
	attacker := newSigningKey(t, jose.ES256, "attacker")
	evil := newTestIssuer(t, attacker.public())
	good := e.token(t, nil)
	hp, sig, _ := Split(good)
	header := hp[:strings.IndexByte(hp, '.')]
	otherHP, _, _ := Split(e.token(t, func(c map[string]any) { c["sub"] = "bob" }))
	now := e.clock.Now()

	pubDER, err := x509.MarshalPKIXPublicKey(e.key.public().Key)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	hmacWithPublicKey := signToken(t, signingKey{kid: "k1", alg: jose.HS256, priv: pubPEM}, claimsAt(e.issuer.URL(), now), nil)

	attackerAs := func(kid string, extra map[jose.HeaderKey]any) string {
		k := attacker
		k.kid = kid
		return signToken(t, k, claimsAt(e.issuer.URL(), now), extra)
	}
	noneHeader := b64(t, map[string]string{"alg": "none", "typ": "at+jwt", "kid": "k1"})
	forgedPayload := b64(t, func() map[string]any {
		c := claimsAt(e.issuer.URL(), now)
		c["scope"] = "admin"
		return c
	}())
	jsonSerialized, err := func() (string, error) {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: e.key.priv}, (&jose.SignerOptions{}).WithType(TypeAccessJWT).WithHeader("kid", "k1"))
		if err != nil {
			return "", err
		}
		obj, err := s.Sign([]byte(`{"iss":"x"}`))
		if err != nil {
			return "", err
		}
		return obj.FullSerialize(), nil
	}()
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		raw     string
		wantErr error
	}{
		{"expired", e.token(t, func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() }), ErrExpired},
		{"not yet valid", e.token(t, func(c map[string]any) { c["nbf"] = now.Add(time.Minute).Unix() }), ErrNotYetValid},
		{"issued in the future", e.token(t, func(c map[string]any) { c["iat"] = now.Add(time.Minute).Unix() }), ErrNotYetValid},
		{"wrong issuer", e.token(t, func(c map[string]any) { c["iss"] = evil.URL() }), ErrIssuer},
		{"wrong audience", e.token(t, func(c map[string]any) { c["aud"] = "https://other.example" }), ErrAudience},
		{"no audience", e.token(t, func(c map[string]any) { delete(c, "aud") }), ErrAudience},
		{"no exp", e.token(t, func(c map[string]any) { delete(c, "exp") }), ErrMalformed},
		{"alg none", noneHeader + "." + forgedPayload + ".", ErrMalformed},
		{"alg none with a signature", noneHeader + "." + forgedPayload + "." + sig, ErrAlgorithm},
		{"HS256 keyed with the public key", hmacWithPublicKey, ErrAlgorithm},
		{"RS256 where the key is EC", signToken(t, signingKey{kid: "k1", alg: jose.RS256, priv: newSigningKey(t, jose.RS256, "").priv}, claimsAt(e.issuer.URL(), now), nil), ErrAlgorithm},
		{"unknown kid", attackerAs("attacker", nil), ErrUnknownKey},
		{"jku to the attacker's keys", attackerAs("attacker", map[jose.HeaderKey]any{"jku": evil.URL() + "/jwks.json"}), ErrUnknownKey},
		{"jku with a known kid", attackerAs("k1", map[jose.HeaderKey]any{"jku": evil.URL() + "/jwks.json"}), ErrSignature},
		{"x5u to the attacker", attackerAs("k1", map[jose.HeaderKey]any{"x5u": evil.URL() + "/cert.pem"}), ErrSignature},
		{"embedded jwk with a known kid", attackerAs("k1", map[jose.HeaderKey]any{"embed-jwk": true}), ErrSignature},
		{"embedded jwk without kid", attackerAs("k1", map[jose.HeaderKey]any{"embed-jwk": true, "kid": nil}), ErrSignature},
		{"tampered payload", header + "." + forgedPayload + "." + sig, ErrSignature},
		{"signature of another token", otherHP + "." + sig, ErrSignature},
		{"truncated", good[:len(good)/2], ErrMalformed},
		{"truncated signature", hp + "." + sig[:len(sig)-2], ErrSignature},
		{"no signature", hp + ".", ErrMalformed},
		{"non-canonical signature encoding", good[:len(good)-1] + flipLowBits(good[len(good)-1]), ErrMalformed},
		{"1 MB token", strings.Repeat("a", 1<<20), ErrTooLarge},
		{"empty", "", ErrMalformed},
		{"typ JWT", signToken(t, e.key, claimsAt(e.issuer.URL(), now), map[jose.HeaderKey]any{"typ": "JWT"}), ErrMalformed},
		{"no typ", signToken(t, e.key, claimsAt(e.issuer.URL(), now), map[jose.HeaderKey]any{"typ": nil}), ErrMalformed},
		{"crit header", signToken(t, e.key, claimsAt(e.issuer.URL(), now), map[jose.HeaderKey]any{"crit": []string{"exp"}, "exp": 1}), ErrMalformed},
		{"json serialization", jsonSerialized, ErrMalformed},
		{"bearer prefix left on", "Bearer " + good, ErrMalformed},
		{"whitespace inside", good[:10] + " " + good[10:], ErrMalformed},
		{"claims not an object", signRaw(t, e.key, []byte(`["x"]`), nil), ErrMalformed},
		{"claims null", signRaw(t, e.key, []byte(`null`), nil), ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.v.Verify(t.Context(), tc.raw)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Verify err = %v, want %v", err, tc.wantErr)
			}
			if got != nil {
				t.Errorf("Verify returned %+v with an error", got)
			}
			if tc.raw != "" && strings.Contains(err.Error(), tc.raw) || len(tc.raw) > 20 && strings.Contains(err.Error(), tc.raw[len(tc.raw)-20:]) {
				t.Errorf("error %q quotes the token", err)
			}
		})
	}
	if n := evil.jwksHits.Load() + evil.discoveryHits.Load(); n != 0 {
		t.Errorf("attacker's server contacted %d times, want 0", n)
	}
	// The legitimate token still passes after all that.
	if _, err := e.v.Verify(t.Context(), good); err != nil {
		t.Errorf("Verify(good) after attacks: %v", err)
	}
}

// flipLowBits returns a base64url character that decodes to the same
// leading bits as c but sets the unused low ones, for a non-canonical
// spelling of the same bytes.
func flipLowBits(c byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, c)
	return string(alphabet[i|1])
}

func TestVerifyClaimChecks(t *testing.T) {
	e := newTestEnv(t, VerifierConfig{Leeway: 30 * time.Second})
	now := e.clock.Now()
	tests := []struct {
		name    string
		edit    func(map[string]any)
		wantErr error
	}{
		{"exp within leeway", func(c map[string]any) { c["exp"] = now.Add(-20 * time.Second).Unix() }, nil},
		{"exp at the leeway", func(c map[string]any) { c["exp"] = now.Add(-30 * time.Second).Unix() }, ErrExpired},
		{"nbf within leeway", func(c map[string]any) { c["nbf"] = now.Add(20 * time.Second).Unix() }, nil},
		{"nbf past leeway", func(c map[string]any) { c["nbf"] = now.Add(31 * time.Second).Unix() }, ErrNotYetValid},
		{"iat within leeway", func(c map[string]any) { c["iat"] = now.Add(30 * time.Second).Unix() }, nil},
		{"iat past leeway", func(c map[string]any) { c["iat"] = now.Add(31 * time.Second).Unix() }, ErrNotYetValid},
		{"no nbf and no iat", func(c map[string]any) { delete(c, "nbf"); delete(c, "iat") }, nil},
		{"fractional exp", func(c map[string]any) { c["exp"] = float64(now.Unix()) + 100.5 }, nil},
		{"aud array with a match", func(c map[string]any) { c["aud"] = []string{"https://x", testAudience} }, nil},
		{"aud array without a match", func(c map[string]any) { c["aud"] = []string{"https://x"} }, ErrAudience},
		{"aud number", func(c map[string]any) { c["aud"] = 7 }, ErrMalformed},
		{"aud null", func(c map[string]any) { c["aud"] = nil }, ErrMalformed},
		{"aud array with a number", func(c map[string]any) { c["aud"] = []any{testAudience, 7} }, ErrMalformed},
		{"exp string", func(c map[string]any) { c["exp"] = "tomorrow" }, ErrMalformed},
		{"exp negative", func(c map[string]any) { c["exp"] = -1 }, ErrMalformed},
		{"exp after year 9999", func(c map[string]any) { c["exp"] = 1e12 }, ErrMalformed},
		{"iss number", func(c map[string]any) { c["iss"] = 1 }, ErrMalformed},
		{"iss missing", func(c map[string]any) { delete(c, "iss") }, ErrIssuer},
		{"iss with trailing slash", func(c map[string]any) { c["iss"] = e.issuer.URL() + "/" }, ErrIssuer},
		{"scope array", func(c map[string]any) { c["scope"] = []string{"a"} }, ErrMalformed},
		{"sub number", func(c map[string]any) { c["sub"] = 1 }, ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.v.Verify(t.Context(), e.token(t, tc.edit))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Verify err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestVerifyScopes(t *testing.T) {
	e := newTestEnv(t, VerifierConfig{})
	tests := []struct {
		scope any
		want  []string
	}{
		{"a", []string{"a"}},
		{"a  b ", []string{"a", "b"}},
		{"", []string{}},
		{nil, []string{}},
	}
	for _, tc := range tests {
		t.Run(strings.ReplaceAll(fmtAny(tc.scope), " ", "_"), func(t *testing.T) {
			got, err := e.v.Verify(t.Context(), e.token(t, func(c map[string]any) {
				if tc.scope == nil {
					delete(c, "scope")
				} else {
					c["scope"] = tc.scope
				}
			}))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if diff := cmp.Diff(tc.want, got.Claims.Scopes); diff != "" {
				t.Errorf("Scopes (-want +got):\n%s", diff)
			}
		})
	}
}

func fmtAny(v any) string {
	if s, ok := v.(string); ok {
		return "scope=" + s
	}
	return "absent"
}

func TestVerifyTyp(t *testing.T) {
	tests := []struct {
		cfgTypes []string
		typ      any
		wantErr  error
	}{
		{nil, "at+jwt", nil},
		{nil, "application/at+jwt", nil},
		{nil, "AT+JWT", nil},
		{nil, "Application/At+Jwt", nil},
		{nil, "JWT", ErrMalformed},
		{nil, "jwt", ErrMalformed},
		{nil, "", ErrMalformed},
		{nil, "at+jwt ", ErrMalformed},
		{nil, "application/application/at+jwt", ErrMalformed},
		{nil, 1, ErrMalformed},
		{[]string{"application/at+jwt"}, "at+jwt", nil},
		{[]string{"JWT"}, "jwt", nil},
		{[]string{"JWT"}, "at+jwt", ErrMalformed},
		// What stays inside never passes where clients present tokens
		// (the default), and passes where it is listed.
		{nil, TypePhantomJWT, ErrMalformed},
		{nil, "application/phantom+jwt", ErrMalformed},
		{[]string{TypeAccessJWT}, TypePhantomJWT, ErrMalformed},
		{[]string{TypePhantomJWT}, TypePhantomJWT, nil},
		{[]string{TypePhantomJWT}, TypeAccessJWT, ErrMalformed},
		{[]string{TypePhantomJWT, TypeAccessJWT}, TypePhantomJWT, nil},
		{[]string{TypePhantomJWT, TypeAccessJWT}, "application/at+jwt", nil},
		{[]string{TypePhantomJWT, TypeAccessJWT}, "JWT", ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.cfgTypes, ",")+"/"+fmtAny(tc.typ), func(t *testing.T) {
			e := newTestEnv(t, VerifierConfig{Types: tc.cfgTypes})
			raw := signToken(t, e.key, claimsAt(e.issuer.URL(), e.clock.Now()), map[jose.HeaderKey]any{"typ": tc.typ})
			_, err := e.v.Verify(t.Context(), raw)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Verify err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr != nil && !errors.Is(err, ErrType) {
				t.Errorf("Verify err = %v, want it to wrap ErrType", err)
			}
		})
	}
}

func TestVerifyAudiencesUnchecked(t *testing.T) {
	e := newTestEnv(t, VerifierConfig{Audiences: []string{}})
	for _, aud := range []any{"https://anything", nil} {
		raw := e.token(t, func(c map[string]any) {
			if aud == nil {
				delete(c, "aud")
			} else {
				c["aud"] = aud
			}
		})
		if _, err := e.v.Verify(t.Context(), raw); err != nil {
			t.Errorf("Verify(aud %v) with no audiences configured: %v", aud, err)
		}
	}
}

func TestVerifyAlgorithmAllowList(t *testing.T) {
	rs := newSigningKey(t, jose.RS256, "rs")
	es := newSigningKey(t, jose.ES256, "es")
	e := newTestEnv(t, VerifierConfig{Algorithms: []string{"ES256"}}, es, rs)
	raw := signToken(t, rs, claimsAt(e.issuer.URL(), e.clock.Now()), nil)
	if _, err := e.v.Verify(t.Context(), raw); !errors.Is(err, ErrAlgorithm) {
		t.Errorf("RS256 token with only ES256 allowed: err = %v, want ErrAlgorithm", err)
	}
	if _, err := e.v.Verify(t.Context(), e.token(t, nil)); err != nil {
		t.Errorf("ES256 token: %v", err)
	}
}

func TestVerifyMaxSize(t *testing.T) {
	e := newTestEnv(t, VerifierConfig{MaxSize: 100})
	hits := e.issuer.jwksHits.Load()
	_, err := e.v.Verify(t.Context(), e.token(t, nil))
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Verify err = %v, want ErrTooLarge", err)
	}
	if got := e.issuer.jwksHits.Load(); got != hits {
		t.Errorf("an oversized token caused %d key fetches", got-hits)
	}
}

func TestVerifyKeyRotation(t *testing.T) {
	e := newTestEnv(t, VerifierConfig{})
	next := newSigningKey(t, jose.ES256, "k2")
	e.issuer.set(func(is *testIssuer) { is.keys = append(is.keys, next.public()) })
	hits := e.issuer.jwksHits.Load()
	raw := signToken(t, next, claimsAt(e.issuer.URL(), e.clock.Now()), nil)
	if _, err := e.v.Verify(t.Context(), raw); err != nil {
		t.Fatalf("Verify with the new key: %v", err)
	}
	if got := e.issuer.jwksHits.Load() - hits; got != 1 {
		t.Errorf("key fetches for the new kid = %d, want 1", got)
	}
	// The old key still works until the issuer withdraws it.
	if _, err := e.v.Verify(t.Context(), e.token(t, nil)); err != nil {
		t.Errorf("Verify with the old key: %v", err)
	}
}

func TestVerifyCache(t *testing.T) {
	e := newTestEnv(t, VerifierConfig{Leeway: 30 * time.Second})
	raw := e.token(t, nil)
	first, err := e.v.Verify(t.Context(), raw)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	// Take the keys away from the issuer: only a cache hit can pass now.
	e.issuer.set(func(is *testIssuer) { is.jwksStatus = 500 })

	t.Run("hit returns the same result", func(t *testing.T) {
		e.clock.Advance(59 * time.Minute)
		got, err := e.v.Verify(t.Context(), raw)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if got != first {
			t.Errorf("Verify returned a new result, want the cached one")
		}
	})
	t.Run("nbf re-checked when the clock steps back", func(t *testing.T) {
		e.clock.Advance(-59*time.Minute - 31*time.Second)
		defer e.clock.Advance(31 * time.Second)
		if _, err := e.v.Verify(t.Context(), raw); !errors.Is(err, ErrNotYetValid) {
			t.Errorf("Verify before nbf: err = %v, want ErrNotYetValid", err)
		}
	})
	t.Run("leeway window verified afresh", func(t *testing.T) {
		e.clock.Advance(time.Hour + 10*time.Second) // 10s past exp
		e.issuer.set(func(is *testIssuer) { is.jwksStatus = 0 })
		got, err := e.v.Verify(t.Context(), raw)
		if err != nil {
			t.Fatalf("Verify within leeway: %v", err)
		}
		if got == first {
			t.Errorf("Verify past exp returned the cached result")
		}
	})
	t.Run("expired", func(t *testing.T) {
		e.clock.Advance(20 * time.Second)
		if _, err := e.v.Verify(t.Context(), raw); !errors.Is(err, ErrExpired) {
			t.Errorf("Verify past exp+leeway: err = %v, want ErrExpired", err)
		}
	})
}

func TestVerifyCacheKeyWithdrawn(t *testing.T) {
	e := newTestEnv(t, VerifierConfig{})
	raw := e.token(t, nil)
	if _, err := e.v.Verify(t.Context(), raw); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	// The issuer withdraws k1 (say it leaked); the next refresh must end
	// the cached verdicts made with it.
	e.issuer.set(func(is *testIssuer) { is.keys = []jose.JSONWebKey{newSigningKey(t, jose.ES256, "k2").public()} })
	if err := e.cache.refresh(t.Context()); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if _, err := e.v.Verify(t.Context(), raw); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Verify after the key was withdrawn: err = %v, want ErrUnknownKey", err)
	}
}

func TestVerifyCacheUnchangedRefresh(t *testing.T) {
	e := newTestEnv(t, VerifierConfig{})
	raw := e.token(t, nil)
	first, err := e.v.Verify(t.Context(), raw)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if err := e.cache.refresh(t.Context()); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	got, err := e.v.Verify(t.Context(), raw)
	if err != nil || got != first {
		t.Errorf("Verify after an unchanged refresh = %p, %v; want the cached %p", got, err, first)
	}
}

func TestVerifyCacheBounded(t *testing.T) {
	for _, size := range []int{1, 8, 100} {
		t.Run("size="+strconv.Itoa(size), func(t *testing.T) {
			e := newTestEnv(t, VerifierConfig{CacheSize: size})
			for i := range 3 * size {
				raw := e.token(t, func(c map[string]any) { c["jti"] = strconv.Itoa(i) })
				if _, err := e.v.Verify(t.Context(), raw); err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if n := e.v.cache.len(); n > size {
					t.Fatalf("cache holds %d entries, want at most %d", n, size)
				}
			}
		})
	}
}

func TestVerifyCacheDisabled(t *testing.T) {
	e := newTestEnv(t, VerifierConfig{CacheSize: -1})
	raw := e.token(t, nil)
	a, err := e.v.Verify(t.Context(), raw)
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.v.Verify(t.Context(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if a == b || e.v.cache != nil {
		t.Errorf("results shared with the cache disabled")
	}
}

func TestVerifyConcurrentUnknownKids(t *testing.T) {
	e := newTestEnv(t, VerifierConfig{})
	attacker := newSigningKey(t, jose.ES256, "")
	hits := e.issuer.jwksHits.Load()
	var failed atomic.Int64
	done := make(chan struct{})
	for i := range 64 {
		go func() {
			defer func() { done <- struct{}{} }()
			k := attacker
			k.kid = "junk-" + strconv.Itoa(i)
			raw := signToken(t, k, claimsAt(e.issuer.URL(), e.clock.Now()), nil)
			if _, err := e.v.Verify(t.Context(), raw); errors.Is(err, ErrUnknownKey) {
				failed.Add(1)
			}
		}()
	}
	for range 64 {
		<-done
	}
	if got := failed.Load(); got != 64 {
		t.Errorf("%d of 64 junk kids failed with ErrUnknownKey", got)
	}
	if got := e.issuer.jwksHits.Load() - hits; got != 1 {
		t.Errorf("64 junk kids caused %d key fetches, want 1", got)
	}
}

func TestNewVerifierConfig(t *testing.T) {
	is := newTestIssuer(t)
	cache := NewJWKSCache(JWKSConfig{Issuer: is.URL()}, nil, nil)
	tests := []struct {
		name string
		cfg  VerifierConfig
		jwks *JWKSCache
		ok   bool
	}{
		{"defaults", VerifierConfig{Issuer: is.URL()}, cache, true},
		{"all asymmetric algorithms", VerifierConfig{Issuer: is.URL(), Algorithms: []string{"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"}}, cache, true},
		{"no issuer", VerifierConfig{}, cache, false},
		{"no jwks", VerifierConfig{Issuer: is.URL()}, nil, false},
		{"issuer differs from the cache's", VerifierConfig{Issuer: "https://other.example"}, cache, false},
		{"alg none", VerifierConfig{Issuer: is.URL(), Algorithms: []string{"none"}}, cache, false},
		{"HS256", VerifierConfig{Issuer: is.URL(), Algorithms: []string{"ES256", "HS256"}}, cache, false},
		{"lowercase alg", VerifierConfig{Issuer: is.URL(), Algorithms: []string{"es256"}}, cache, false},
		{"negative leeway", VerifierConfig{Issuer: is.URL(), Leeway: -time.Second}, cache, false},
		{"negative max size", VerifierConfig{Issuer: is.URL(), MaxSize: -1}, cache, false},
		{"two types", VerifierConfig{Issuer: is.URL(), Types: []string{TypeAccessJWT, TypePhantomJWT}}, cache, true},
		{"an empty type", VerifierConfig{Issuer: is.URL(), Types: []string{TypeAccessJWT, ""}}, cache, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := NewVerifier(tc.cfg, tc.jwks, nil)
			if (err == nil) != tc.ok || (v != nil) != tc.ok {
				t.Fatalf("NewVerifier = %v, %v; want ok %v", v, err, tc.ok)
			}
		})
	}
}

func TestCompactShape(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"YQ.YQ.YQ", true},
		{"YR.YQ.YQ", false}, // "YR" has a stray low bit
		{"YWI.YQ.YQ", true},
		{"YWJ.YQ.YQ", false},
		{"YWJj.YQ.YQ", true},
		{"Y.YQ.YQ", false}, // one character cannot encode a byte
		{"YQ.YQ", false},
		{"YQ.YQ.YQ.YQ", false},
		{"YQ..YQ", false},
		{"YQ.YQ.", false},
		{"YQ=.YQ.YQ", false},
		{"Y+.YQ.YQ", false},
		{"", false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := compactShape(tc.in); got != tc.want {
				t.Errorf("compactShape(%q) = %v, want %v", tc.in, got, tc.want)
			}
			if tc.want {
				for _, part := range strings.Split(tc.in, ".") {
					if _, err := base64.RawURLEncoding.Strict().DecodeString(part); err != nil {
						t.Errorf("accepted %q but strict decoding fails: %v", part, err)
					}
				}
			}
		})
	}
}

func TestConstantTimeEqual(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"", "", true},
		{"a", "a", true},
		{"a", "b", false},
		{"abcdefgh", "abcdefgh", true},
		{"abcdefgh", "abcdefgi", false},
		{"abcdefghijk", "abcdefghijk", true},
		{"abcdefghijk", "abcdefghijl", false},
		{"xbcdefghijk", "abcdefghijk", false},
		{"abc", "abcd", false},
	}
	for _, tc := range tests {
		if got := constantTimeEqual(tc.a, tc.b); got != tc.want {
			t.Errorf("constantTimeEqual(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
