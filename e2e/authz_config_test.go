package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/store"
)

// TestLoginThrottleFromConfig: login_throttle reaches the running
// server. With max_failures 2 the third attempt is refused even with the
// right password, where the built-in default (5) would let it in.
func TestLoginThrottleFromConfig(t *testing.T) {
	e, _ := warehouse(t, func(cfg *config.Config, _ map[string]string) {
		cfg.LoginThrottle.MaxFailures = 2
		cfg.LoginThrottle.BaseLock = config.Duration(time.Minute)
	})
	_, challenge := pkce()
	q := url.Values{
		"response_type": {"code"}, "client_id": {"web"}, "redirect_uri": {callback},
		"scope": {"openid"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}
	b := newBrowser(t)
	_, page := b.get(e.url("/oauth2/authorize?") + q.Encode())
	for i, tc := range []struct {
		password string
		want     int
	}{
		{"wrong", http.StatusUnauthorized},
		{"wrong again", http.StatusUnauthorized},
		{password, http.StatusTooManyRequests},
	} {
		action, fields := form(t, page)
		fields.Set("username", "bob")
		fields.Set("password", tc.password)
		var resp *http.Response
		resp, page = b.post(action, fields)
		if resp.StatusCode != tc.want {
			t.Fatalf("attempt %d: status %d, want %d", i+1, resp.StatusCode, tc.want)
		}
	}
	// base_lock is a minute here, not the default 30s.
	e.clock.Advance(45 * time.Second)
	action, fields := form(t, page)
	fields.Set("username", "bob")
	fields.Set("password", password)
	if resp, _ := b.post(action, fields); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("45s into a one-minute lock: status %d, want 429", resp.StatusCode)
	}
	e.clock.Advance(30 * time.Second)
	if got := b.login(e.url("/oauth2/authorize?")+q.Encode(), "bob", password, "allow"); got.Get("code") == "" {
		t.Fatalf("after the lock: %v", got)
	}
}

// TestLegacyTokenEndpointAudienceFromConfig: a private_key_jwt assertion
// whose aud is the token endpoint URL is refused by default and accepted
// once clients.legacy_token_endpoint_audience is on; the issuer as aud
// works either way.
func TestLegacyTokenEndpointAudienceFromConfig(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		t.Run(map[bool]string{false: "default", true: "legacy on"}[legacy], func(t *testing.T) {
			e, _ := warehouse(t, func(cfg *config.Config, _ map[string]string) {
				cfg.Clients.LegacyTokenEndpointAudience = legacy
			})
			key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
			e.client(store.Client{
				ID: "signed", AuthMethod: store.AuthPrivateKeyJWT, JWKS: jwks,
				GrantTypes: []string{"client_credentials"}, Scopes: []string{"list_items"},
			})
			signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			assert := func(aud, jti string) (int, map[string]any) {
				now := time.Now()
				a, err := jwt.Signed(signer).Claims(jwt.Claims{
					Issuer: "signed", Subject: "signed", Audience: jwt.Audience{aud},
					Expiry: jwt.NewNumericDate(now.Add(time.Minute)), IssuedAt: jwt.NewNumericDate(now), ID: jti,
				}).Serialize()
				if err != nil {
					t.Fatal(err)
				}
				st, _, m := e.postForm("/oauth2/token", "", "", url.Values{
					"grant_type":            {"client_credentials"},
					"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
					"client_assertion":      {a},
				}, nil)
				return st, m
			}
			if st, m := assert(e.issuer, "jti-issuer"); st != http.StatusOK {
				t.Errorf("aud = issuer: %d %v, want 200", st, m)
			}
			st, m := assert(e.url("/oauth2/token"), "jti-endpoint")
			switch {
			case legacy && st != http.StatusOK:
				t.Errorf("aud = token endpoint with the legacy switch on: %d %v, want 200", st, m)
			case !legacy && (st != http.StatusUnauthorized || m["error"] != "invalid_client"):
				t.Errorf("aud = token endpoint by default: %d %v, want 401 invalid_client", st, m)
			}
		})
	}
}

// TestResourceAllowListFromConfig: the RFC 8707 allow-list of a running
// server is tokens.default_audience, tokens.resources and the audiences
// of the gateway APIs of the same file; anything else is invalid_target.
func TestResourceAllowListFromConfig(t *testing.T) {
	const (
		listed  = "https://billing.example"
		gateway = "urn:e2e:api:gateway-only"
	)
	e, secrets := warehouse(t, func(cfg *config.Config, _ map[string]string) {
		cfg.Tokens.DefaultAudience = apiAudience
		cfg.Tokens.Resources = []string{listed}
		cfg.Gateway = config.Gateway{
			Issuers: []config.Issuer{{Issuer: "http://127.0.0.1:0"}},
			APIs: []config.API{{
				Name: "reports", BasePath: "/reports", Upstream: "http://127.0.0.1:9/api",
				Audiences: []string{gateway}, Tokens: []string{"jwt"},
				Operations: []config.Operation{{Method: "GET", Path: "/daily", Scopes: []string{"list_items"}}},
			}},
		}
	})
	for _, tc := range []struct {
		resource string
		ok       bool
	}{
		{apiAudience, true},
		{listed, true},
		{gateway, true},
		{"https://evil.example", false},
		{e.url("/"), false},
	} {
		t.Run(tc.resource, func(t *testing.T) {
			st, _, m := e.postForm("/oauth2/token", "service-jwt", secrets["service-jwt"], url.Values{
				"grant_type": {"client_credentials"}, "scope": {"list_items"}, "resource": {tc.resource},
			}, nil)
			if tc.ok {
				if st != http.StatusOK {
					t.Fatalf("resource %s: %d %v, want 200", tc.resource, st, m)
				}
				if claims := jwtClaims(t, m["access_token"].(string)); claims["aud"] != tc.resource {
					t.Errorf("resource %s: aud = %v", tc.resource, claims["aud"])
				}
				return
			}
			if st != http.StatusBadRequest || m["error"] != "invalid_target" {
				t.Fatalf("resource %s: %d %v, want 400 invalid_target", tc.resource, st, m)
			}
		})
	}
	many := url.Values{"grant_type": {"client_credentials"}, "scope": {"list_items"}}
	for range 11 {
		many.Add("resource", listed)
	}
	if st, _, m := e.postForm("/oauth2/token", "service-jwt", secrets["service-jwt"], many, nil); st != http.StatusBadRequest || m["error"] != "invalid_target" {
		t.Errorf("11 resources: %d %v, want 400 invalid_target", st, m)
	}
}

// jwtClaims decodes the payload of a compact JWS without verifying it
// (the signature is tested elsewhere).
func jwtClaims(t *testing.T, compact string) map[string]any {
	t.Helper()
	tok, err := jwt.ParseSigned(compact, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("parse access token: %v", err)
	}
	var m map[string]any
	if err := tok.UnsafeClaimsWithoutVerification(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

// plainHTTP carries an https URL to a plain-http listener, as a
// TLS-terminating proxy in front of the authorization server would. The
// client (and its cookie jar) still sees https.
type plainHTTP struct{}

func (plainHTTP) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.URL.Scheme = "http"
	return http.DefaultTransport.RoundTrip(r)
}

// httpsIssuer makes the server's issuer https on a port picked now, the
// way a deployment behind a TLS terminator has one.
func httpsIssuer(t *testing.T) startOpt {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return func(cfg *config.Config, _ map[string]string) {
		cfg.Listen.Authz = addr
		cfg.Issuer = "https://" + addr
	}
}

// TestSessionCookieNames: behind an https issuer the login session cookie
// is __Host-portcullis_session (Secure, Path=/, no Domain); on a
// plain-http loopback issuer, where browsers refuse __Host- without
// Secure, it is portcullis_session. Either way the session works: the
// next authorization request skips the login page.
func TestSessionCookieNames(t *testing.T) {
	for _, tc := range []struct {
		name   string
		https  bool
		cookie string
	}{
		{"https issuer", true, "__Host-portcullis_session"},
		{"loopback http issuer", false, "portcullis_session"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []startOpt
			if tc.https {
				opts = append(opts, httpsIssuer(t))
			}
			e, _ := warehouse(t, opts...)
			if strings.HasPrefix(e.issuer, "https://") != tc.https {
				t.Fatalf("issuer %s", e.issuer)
			}
			b := newBrowser(t)
			b.c.Transport = plainHTTP{}
			_, challenge := pkce()
			q := url.Values{
				"response_type": {"code"}, "client_id": {"web"}, "redirect_uri": {callback},
				"scope": {"openid"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
			}
			authURL := e.url("/oauth2/authorize?") + q.Encode()
			_, page := b.get(authURL)
			action, fields := form(t, page)
			fields.Set("username", "alice")
			fields.Set("password", password)
			resp, page := b.post(action, fields)
			var session *http.Cookie
			for _, c := range resp.Cookies() {
				if strings.Contains(c.Name, "portcullis_session") {
					if session != nil {
						t.Fatalf("two session cookies: %v", resp.Header["Set-Cookie"])
					}
					session = c
				}
			}
			if session == nil {
				t.Fatalf("login set no session cookie: %v", resp.Header["Set-Cookie"])
			}
			if session.Name != tc.cookie || session.Secure != tc.https || session.Path != "/" ||
				session.Domain != "" || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode {
				t.Errorf("session cookie %q, want %s with Secure=%v, Path=/, no Domain, HttpOnly, SameSite=Lax",
					session.String(), tc.cookie, tc.https)
			}
			action, fields = form(t, page)
			fields.Set("decision", "allow")
			if resp, _ = b.post(action, fields); query(t, resp.Header.Get("Location")).Get("code") == "" {
				t.Fatalf("consent: status %d, no code", resp.StatusCode)
			}
			// The browser sends the cookie back: no login page this time.
			resp, _ = b.get(authURL)
			if got := query(t, resp.Header.Get("Location")); resp.StatusCode != http.StatusFound || got.Get("code") == "" {
				t.Errorf("second authorization with the session: %d %v, want a redirect with a code", resp.StatusCode, got)
			}
		})
	}
}
