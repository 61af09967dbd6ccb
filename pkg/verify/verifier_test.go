package verify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func TestNewRefusesBadConfig(t *testing.T) {
	good := Config{Issuer: "https://auth.example.com", Audience: fxAudience}
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"no issuer", func(c *Config) { c.Issuer = "" }, "issuer"},
		{"http issuer off loopback", func(c *Config) { c.Issuer = "http://auth.example.com" }, "https"},
		{"issuer with query", func(c *Config) { c.Issuer = "https://auth.example.com/?a=b" }, "query"},
		{"issuer with fragment", func(c *Config) { c.Issuer = "https://auth.example.com/#x" }, "fragment"},
		{"issuer with credentials", func(c *Config) { c.Issuer = "https://u:p@auth.example.com" }, "credentials"},
		{"relative issuer", func(c *Config) { c.Issuer = "/auth" }, "absolute"},
		{"ftp issuer", func(c *Config) { c.Issuer = "ftp://auth.example.com" }, "https"},
		{"unparsable issuer", func(c *Config) { c.Issuer = "https://a b\x7f" }, "not a valid url"},
		{"no audience", func(c *Config) { c.Audience = "" }, "audience"},
		{"jwks url in clear text", func(c *Config) { c.JWKSURL = "http://keys.example.com/jwks" }, "jwks url"},
		{"none", func(c *Config) { c.Algorithms = []string{"none"} }, "none"},
		{"HS256", func(c *Config) { c.Algorithms = []string{"ES256", "HS256"} }, "HS256"},
		{"unknown algorithm", func(c *Config) { c.Algorithms = []string{"ES257"} }, "ES257"},
		{"empty type", func(c *Config) { c.Types = []string{""} }, "type"},
		{"negative leeway", func(c *Config) { c.Leeway = -time.Second }, "leeway"},
		{"negative ttl", func(c *Config) { c.KeysTTL = -time.Second }, "ttl"},
		{"negative max stale", func(c *Config) { c.KeysMaxStale = -time.Second }, "stale"},
		{"negative refetch", func(c *Config) { c.MinRefetchInterval = -time.Second }, "refetch"},
		{"negative size", func(c *Config) { c.MaxTokenSize = -1 }, "size"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.mod(&cfg)
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: got %v, want an error about %q", err, tc.want)
			}
		})
	}
	for _, iss := range []string{"http://127.0.0.1:8080", "http://localhost:8080/tenant", "http://[::1]:80", "https://auth.example.com/tenant/"} {
		cfg := good
		cfg.Issuer = iss
		if _, err := New(cfg); err != nil {
			t.Errorf("New with issuer %s: %v", iss, err)
		}
	}
}

func TestVerifyAccepts(t *testing.T) {
	f := newFxIssuer(t)
	es384 := fxNewKey(t, "k384", jose.ES384)
	rs := fxNewKey(t, "krs", jose.RS256)
	ps := fxNewKey(t, "kps", jose.PS256)
	ps.alg = jose.PS256
	ed := fxNewKey(t, "ked", jose.EdDSA)
	f.publish(f.key, es384, rs, fxKey{kid: "kps", alg: jose.PS256, priv: rs.priv}, ed)
	v := f.verifier(nil)
	now := f.clock.Now().Unix()
	tests := []struct {
		name string
		tok  string
	}{
		{"at+jwt", f.mint(nil)},
		{"phantom+jwt", fxSign(t, f.key, TypePhantomToken, nil, f.claims())},
		{"typ with application/ prefix, any case", fxSign(t, f.key, "application/AT+JWT", nil, f.claims())},
		{"aud array", f.mint(func(c map[string]any) { c["aud"] = []string{"other", fxAudience} })},
		{"ES384", fxSign(t, es384, TypeAccessToken, nil, f.claims())},
		{"RS256", fxSign(t, rs, TypeAccessToken, nil, f.claims())},
		{"PS256", fxSign(t, fxKey{kid: "kps", alg: jose.PS256, priv: rs.priv}, TypeAccessToken, nil, f.claims())},
		{"EdDSA", fxSign(t, ed, TypeAccessToken, nil, f.claims())},
		{"expired within the leeway", f.mint(func(c map[string]any) { c["exp"] = now - 20 })},
		{"nbf within the leeway", f.mint(func(c map[string]any) { c["nbf"] = now + 20 })},
		{"no nbf, no iat", f.mint(func(c map[string]any) { delete(c, "nbf"); delete(c, "iat") })},
		{"fractional exp", f.mint(func(c map[string]any) { c["exp"] = float64(now) + 100.5 })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.Verify(t.Context(), tc.tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.Subject != "alice" || c.Issuer != f.issuer() {
				t.Errorf("claims: got sub %q iss %q", c.Subject, c.Issuer)
			}
		})
	}
	t.Run("no kid, one key", func(t *testing.T) {
		g := newFxIssuer(t)
		tok := fxSign(t, fxKey{alg: jose.ES256, priv: g.key.priv}, TypeAccessToken, nil, g.claims())
		if _, err := g.verifier(nil).Verify(t.Context(), tok); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	})
}

// TestVerifyRefuses changes one thing about an otherwise valid token per
// case.
func TestVerifyRefuses(t *testing.T) {
	f := newFxIssuer(t)
	other := fxNewKey(t, "k1", jose.ES256) // same kid, another key
	rs := fxNewKey(t, "krs", jose.RS256)
	es512 := fxNewKey(t, "k512", jose.ES512)
	f.publish(f.key, rs, es512)
	v := f.verifier(func(c *Config) { c.MaxTokenSize = 2048 })
	now := f.clock.Now().Unix()
	valid := f.mint(nil)
	parts := strings.Split(valid, ".")
	hs256 := func() string {
		// The classic confusion: HMAC keyed with the public key.
		pub, _ := json.Marshal(f.key.public())
		h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","kid":"k1","typ":"at+jwt"}`))
		mac := hmac.New(sha256.New, pub)
		mac.Write([]byte(h + "." + parts[1]))
		return h + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	}()
	header := func(h string) string {
		return base64.RawURLEncoding.EncodeToString([]byte(h)) + "." + parts[1] + "." + parts[2]
	}
	tests := []struct {
		name string
		tok  string
		want error
	}{
		{"empty", "", ErrMalformed},
		{"too large", valid + strings.Repeat("A", 2048), ErrTooLarge},
		{"two segments", parts[0] + "." + parts[1], ErrMalformed},
		{"four segments", valid + ".AAAA", ErrMalformed},
		{"padding", parts[0] + "." + parts[1] + "=." + parts[2], ErrMalformed},
		{"non-canonical base64", parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-1] + "B", ErrMalformed},
		{"not base64", parts[0] + ".*." + parts[2], ErrMalformed},
		{"json serialization", `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`, ErrMalformed},
		{"header not json", header("not json"), ErrMalformed},
		{"alg none", header(`{"alg":"none","typ":"at+jwt"}`), ErrAlgorithm},
		{"HS256 with the public key", hs256, ErrAlgorithm},
		{"ES512 not in the default allow-list", fxSign(t, es512, TypeAccessToken, nil, f.claims()), ErrAlgorithm},
		{"PS256 header on an EC key", fxSign(t, fxKey{kid: "k1", alg: jose.PS256, priv: rs.priv}, TypeAccessToken, nil, f.claims()), ErrAlgorithm},
		{"crit header", fxSign(t, f.key, TypeAccessToken, map[jose.HeaderKey]any{"crit": []string{"exp"}, "exp": 1}, f.claims()), ErrMalformed},
		{"b64 header", fxSign(t, f.key, TypeAccessToken, map[jose.HeaderKey]any{"b64": true}, f.claims()), ErrMalformed},
		{"no typ", fxSign(t, f.key, "", nil, f.claims()), ErrType},
		{"typ JWT", fxSign(t, f.key, "JWT", nil, f.claims()), ErrType},
		{"typ dpop+jwt", fxSign(t, f.key, "dpop+jwt", nil, f.claims()), ErrType},
		{"typ not a string", fxSign(t, f.key, "", map[jose.HeaderKey]any{"typ": 1}, f.claims()), ErrType},
		{"another key under the same kid", fxSign(t, other, TypeAccessToken, nil, f.claims()), ErrSignature},
		{"jku pointing at the attacker's keys", fxSign(t, fxKey{kid: "evil", alg: jose.ES256, priv: other.priv}, TypeAccessToken,
			map[jose.HeaderKey]any{"jku": "https://evil.example/jwks"}, f.claims()), ErrUnknownKey},
		{"embedded jwk of the attacker", fxSign(t, other, TypeAccessToken,
			map[jose.HeaderKey]any{"jwk": other.public()}, f.claims()), ErrSignature},
		{"tampered payload", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"root"}`)) + "." + parts[2], ErrSignature},
		{"expired", f.mint(func(c map[string]any) { c["exp"] = now - 31 }), ErrExpired},
		{"not yet valid", f.mint(func(c map[string]any) { c["nbf"] = now + 31 }), ErrNotYetValid},
		{"issued in the future", f.mint(func(c map[string]any) { c["iat"] = now + 31 }), ErrNotYetValid},
		{"no exp", f.mint(func(c map[string]any) { delete(c, "exp") }), ErrMalformed},
		{"another issuer", f.mint(func(c map[string]any) { c["iss"] = f.issuer() + "/" }), ErrIssuer},
		{"no issuer", f.mint(func(c map[string]any) { delete(c, "iss") }), ErrIssuer},
		{"another audience", f.mint(func(c map[string]any) { c["aud"] = "urn:other" }), ErrAudience},
		{"no audience", f.mint(func(c map[string]any) { delete(c, "aud") }), ErrAudience},
		{"aud not strings", f.mint(func(c map[string]any) { c["aud"] = []any{fxAudience, 1} }), ErrMalformed},
		{"aud a number", f.mint(func(c map[string]any) { c["aud"] = 7 }), ErrMalformed},
		{"iss a number", f.mint(func(c map[string]any) { c["iss"] = 7 }), ErrMalformed},
		{"exp a string", f.mint(func(c map[string]any) { c["exp"] = "tomorrow" }), ErrMalformed},
		{"exp negative", f.mint(func(c map[string]any) { c["exp"] = -1 }), ErrMalformed},
		{"exp beyond 9999", f.mint(func(c map[string]any) { c["exp"] = 253402300800 }), ErrMalformed},
		{"scope an array", f.mint(func(c map[string]any) { c["scope"] = []string{"a"} }), ErrMalformed},
		{"act not an object", f.mint(func(c map[string]any) { c["act"] = "svc" }), ErrMalformed},
		{"act sub not a string", f.mint(func(c map[string]any) { c["act"] = map[string]any{"sub": 1} }), ErrMalformed},
		{"cnf not an object", f.mint(func(c map[string]any) { c["cnf"] = "k" }), ErrMalformed},
		{"cnf jkt not a string", f.mint(func(c map[string]any) { c["cnf"] = map[string]any{"jkt": 1} }), ErrMalformed},
		{"cnf x5t#S256 not a string", f.mint(func(c map[string]any) { c["cnf"] = map[string]any{"x5t#S256": true} }), ErrMalformed},
		{"claims an array", fxSign(t, f.key, TypeAccessToken, nil, `[1]`), ErrMalformed},
		{"claims null", fxSign(t, f.key, TypeAccessToken, nil, `null`), ErrMalformed},
		{"data after the claims", fxSign(t, f.key, TypeAccessToken, nil, `{"iss":"x"} {}`), ErrMalformed},
		{"brace after the claims", fxSign(t, f.key, TypeAccessToken, nil, `{"iss":"x"}}`), ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.Verify(t.Context(), tc.tok)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify: got %v, want %v", err, tc.want)
			}
			if c != nil {
				t.Errorf("Verify returned claims with error %v", err)
			}
			// Errors never quote the token (RFC 6750 §5.3 spirit: the
			// token is a bearer secret).
			for _, p := range strings.Split(tc.tok, ".") {
				if len(p) >= 8 && strings.Contains(err.Error(), p) {
					t.Errorf("error %q quotes the token", err)
				}
			}
		})
	}
}

func TestVerifyWithOptions(t *testing.T) {
	f := newFxIssuer(t)
	es512 := fxNewKey(t, "k512", jose.ES512)
	f.publish(f.key, es512)
	now := f.clock.Now().Unix()
	tests := []struct {
		name string
		mod  func(*Config)
		tok  string
		want error
	}{
		{"ES512 allowed when configured", func(c *Config) { c.Algorithms = []string{"ES512"} },
			fxSign(t, es512, TypeAccessToken, nil, f.claims()), nil},
		{"ES256 refused when only ES512 is", func(c *Config) { c.Algorithms = []string{"ES512"} }, f.mint(nil), ErrAlgorithm},
		{"phantom refused when only at+jwt is", func(c *Config) { c.Types = []string{TypeAccessToken} },
			fxSign(t, f.key, TypePhantomToken, nil, f.claims()), ErrType},
		{"custom type", func(c *Config) { c.Types = []string{"JWT"} }, fxSign(t, f.key, "JWT", nil, f.claims()), nil},
		{"longer leeway", func(c *Config) { c.Leeway = 2 * time.Minute }, f.mint(func(c map[string]any) { c["exp"] = now - 60 }), nil},
		{"shorter leeway", func(c *Config) { c.Leeway = time.Second }, f.mint(func(c map[string]any) { c["exp"] = now - 5 }), ErrExpired},
		{"a second past exp with no real leeway", func(c *Config) { c.Leeway = time.Nanosecond }, f.mint(func(c map[string]any) { c["exp"] = now - 1 }), ErrExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.verifier(tc.mod).Verify(t.Context(), tc.tok)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify: got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestVerifyIsConcurrencySafe(t *testing.T) {
	f := newFxIssuer(t)
	v := f.verifier(nil)
	tok := f.mint(nil)
	errs := make(chan error, 16)
	for range 16 {
		go func() {
			_, err := v.Verify(context.Background(), tok)
			errs <- err
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			t.Fatalf("Verify: %v", err)
		}
	}
	if got := f.jwksHits.Load(); got != 1 {
		t.Errorf("concurrent first verifications fetched the keys %d times, want 1", got)
	}
}

func TestConfigDefaults(t *testing.T) {
	s, err := resolve(Config{Issuer: "https://auth.example.com", Audience: fxAudience})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"Leeway", s.Leeway, DefaultLeeway},
		{"MaxTokenSize", s.MaxTokenSize, DefaultMaxTokenSize},
		{"KeysTTL", s.KeysTTL, DefaultKeysTTL},
		{"KeysMaxStale", s.KeysMaxStale, DefaultKeysMaxStale},
		{"MinRefetchInterval", s.MinRefetchInterval, DefaultMinRefetchInterval},
		{"Algorithms", strings.Join(s.Algorithms, " "), "ES256 ES384 RS256 PS256 EdDSA"},
		{"Types", strings.Join(s.Types, " "), TypeAccessToken + " " + TypePhantomToken},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if s.HTTPClient == nil || s.Logger == nil || s.Now == nil {
		t.Error("HTTPClient, Logger or Now left nil")
	}
}
