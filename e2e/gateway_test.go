package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/portcullis/portcullis/internal/admin"
	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/keys"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/token"
)

const apiAudience = "urn:portcullis:api:warehouse"

// upstream records what the backend receives.
type upstream struct {
	mu   sync.Mutex
	last *http.Request
	n    int
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.last = r.Clone(context.Background())
	u.n++
	u.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"ok":true}`)
}

func (u *upstream) lastRequest() (*http.Request, int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last, u.n
}

// gatewayEnv runs the warehouse example end to end: authorization server,
// gateway and a recording upstream.
type gatewayEnv struct {
	*env
	secrets map[string]string
	up      *upstream
	signer  *keys.Manager
}

// startGateway starts the warehouse behind a gateway; opts run after its
// own settings, so they may change the gateway's APIs.
func startGateway(t *testing.T, opts ...startOpt) *gatewayEnv {
	up := &upstream{}
	backend := httptest.NewServer(up)
	t.Cleanup(backend.Close)
	gwSecret, err := clientauth.GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	e, secrets := warehouse(t, append([]startOpt{func(cfg *config.Config, environ map[string]string) {
		environ["GATEWAY_SECRET"] = gwSecret
		cfg.Tokens.DefaultAudience = apiAudience
		cfg.Gateway = config.Gateway{
			Issuers: []config.Issuer{{
				Issuer: "http://127.0.0.1:0", ClientID: "gateway", ClientSecretEnv: "GATEWAY_SECRET",
				CacheTTL: config.Duration(30 * time.Second),
			}},
			APIs: []config.API{{
				Name: "warehouse", BasePath: "/warehouse", Upstream: backend.URL + "/api",
				Audiences: []string{apiAudience},
				Operations: []config.Operation{
					{Method: "GET", Path: "/items", Scopes: []string{"list_items"}},
					{Method: "POST", Path: "/orders", Scopes: []string{"order_item"}},
					{Method: "GET", Path: "/health", Public: true},
				},
				CORS: &config.CORS{AllowedOrigins: []string{"https://app.example"}},
			}},
		}
	}}, opts...)...)
	// The gateway's introspection client, with the secret it was given.
	if err := e.db.DeleteClient(context.Background(), "gateway"); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := e.db.CreateClient(context.Background(), store.Client{
		ID: "gateway", AuthMethod: store.AuthSecretBasic, GrantTypes: []string{"client_credentials"},
		SecretDigest: clientauth.DigestSecret(e.secretKey, gwSecret), CanIntrospect: true,
		AccessTokenFormat: store.FormatOpaque, CreatedAt: now, UpdatedAt: now,
	}); err != nil {
		t.Fatal(err)
	}
	secrets["gateway"] = gwSecret
	m, err := keys.NewManager(e.db, e.master, keys.Config{}, slog.New(slog.DiscardHandler), e.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	g := &gatewayEnv{env: e, secrets: secrets, up: up, signer: m}
	g.waitReady(t)
	return g
}

func (g *gatewayEnv) waitReady(t *testing.T) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(g.gatewayURL + "/warehouse/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("gateway did not become ready")
}

func (g *gatewayEnv) serviceToken(t *testing.T, format, scope string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	if scope != "" {
		form.Set("scope", scope)
	}
	st, _, m := g.postForm("/oauth2/token", "service-"+format, g.secrets["service-"+format], form, nil)
	if st != http.StatusOK {
		t.Fatalf("token: %d %v", st, m)
	}
	return m["access_token"].(string)
}

func (g *gatewayEnv) call(t *testing.T, method, path, tok string, hdr map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, g.gatewayURL+path, strings.NewReader(`{"item":"crate-01"}`))
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// forge signs claims with the authorization server's real access-token
// key, so each test changes exactly one thing about an otherwise valid
// token.
func (g *gatewayEnv) forge(t *testing.T, mod func(map[string]any)) string {
	now := g.clock.Now().Unix()
	c := map[string]any{
		"iss": g.issuer, "sub": "service-jwt", "aud": apiAudience, "exp": now + 300, "iat": now,
		"nbf": now, "jti": token.NewID(), "client_id": "service-jwt", "scope": "list_items",
	}
	mod(c)
	b, _ := json.Marshal(c)
	s, err := g.signer.Sign(keys.UseAccess, token.TypeAccessJWT, b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestGatewayEndToEnd(t *testing.T) {
	g := startGateway(t)
	for _, f := range []string{store.FormatJWT, store.FormatOpaque, store.FormatSplit} {
		t.Run(f, func(t *testing.T) {
			tok := g.serviceToken(t, f, "list_items")
			resp := g.call(t, "GET", "/warehouse/items", tok, map[string]string{
				"X-User": "admin", "X-Forwarded-For": "6.6.6.6", "X-Portcullis-Sub": "alice",
				"Forwarded": "for=6.6.6.6", "X-Client-Id": "root",
			})
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			r, _ := g.up.lastRequest()
			if r.URL.Path != "/api/items" {
				t.Errorf("upstream path %q, want /api/items", r.URL.Path)
			}
			for _, h := range []string{"X-User", "X-Portcullis-Sub", "Forwarded", "X-Client-Id"} {
				if v := r.Header.Get(h); v != "" {
					t.Errorf("forged header %s=%q reached the backend", h, v)
				}
			}
			if xff := r.Header.Get("X-Forwarded-For"); strings.Contains(xff, "6.6.6.6") || !strings.Contains(xff, "127.0.0.1") {
				t.Errorf("X-Forwarded-For = %q, want the real peer only", xff)
			}
			if r.Header.Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id")
			}
			// The backend gets a JWT it can verify, whatever the client
			// held: the client's own access token, or a phantom token
			// typed as one that stays inside.
			fwd := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			typ := token.TypePhantomJWT
			if f == store.FormatJWT {
				typ = token.TypeAccessJWT
			}
			payload, err := token.VerifyJWS(fwd, g.signer.KeySet(), []jose.SignatureAlgorithm{jose.ES256}, typ)
			if err != nil {
				t.Fatalf("forwarded token does not verify: %v", err)
			}
			if !strings.Contains(string(payload), `"client_id":"service-`+f+`"`) {
				t.Errorf("forwarded claims %s", payload)
			}
			if f != store.FormatJWT && fwd == tok {
				t.Error("an opaque or split token was forwarded as is")
			}
		})
	}
	t.Run("user token through the code flow", func(t *testing.T) {
		conf := oauth2.Config{
			ClientID: "web", ClientSecret: g.secrets["web"],
			Endpoint:    oauth2.Endpoint{AuthURL: g.url("/oauth2/authorize"), TokenURL: g.url("/oauth2/token")},
			RedirectURL: callback, Scopes: []string{"list_items", "order_item"},
		}
		verifier := oauth2.GenerateVerifier()
		q := newBrowser(t).login(conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), "alice", password, "allow")
		tok, err := conf.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		if resp := g.call(t, "POST", "/warehouse/orders", tok.AccessToken, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("alice ordering: %d", resp.StatusCode)
		}
	})
}

// TestPhantomTokensStayInside: the JWT behind an opaque token (the
// phantom token introspection answers with Accept: application/jwt) and
// the JWT a split token reassembles into are for backends only: a client
// presenting either as a Bearer JWT, on an API that accepts JWTs, gets
// 401, while the opaque or split token itself keeps working.
func TestPhantomTokensStayInside(t *testing.T) {
	g := startGateway(t)
	t.Run("phantom token from introspection", func(t *testing.T) {
		tok := g.serviceToken(t, store.FormatOpaque, "list_items")
		if resp := g.call(t, "GET", "/warehouse/items", tok, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("opaque token: status %d, want 200", resp.StatusCode)
		}
		st, m := g.introspect(g.secrets, tok, "application/jwt")
		phantom, _ := m["_raw"].(string)
		if st != http.StatusOK || !token.LooksLikeJWT(phantom) {
			t.Fatalf("introspection with Accept: application/jwt = %d %v, want a JWT", st, m)
		}
		if _, err := token.VerifyJWS(phantom, g.signer.KeySet(), []jose.SignatureAlgorithm{jose.ES256}, token.TypePhantomJWT); err != nil {
			t.Fatalf("phantom token is not a phantom+jwt signed by the issuer: %v", err)
		}
		_, before := g.up.lastRequest()
		resp := g.call(t, "GET", "/warehouse/items", phantom, nil)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("phantom token presented by a client: status %d, want 401", resp.StatusCode)
		}
		if www := resp.Header.Get("WWW-Authenticate"); !strings.Contains(www, `error="invalid_token"`) {
			t.Errorf("WWW-Authenticate %q, want invalid_token", www)
		}
		if _, after := g.up.lastRequest(); after != before {
			t.Error("a phantom token presented by a client reached the backend")
		}
		if resp := g.call(t, "GET", "/warehouse/items", tok, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("opaque token after the refusal: status %d, want 200", resp.StatusCode)
		}
	})
	t.Run("reassembled split token", func(t *testing.T) {
		sig := g.serviceToken(t, store.FormatSplit, "list_items")
		if resp := g.call(t, "GET", "/warehouse/items", sig, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("split token: status %d, want 200", resp.StatusCode)
		}
		rec, err := g.db.GetToken(context.Background(), token.Digest(sig))
		if err != nil {
			t.Fatal(err)
		}
		whole := token.Join(rec.Payload, sig)
		r, before := g.up.lastRequest()
		if fwd := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "); fwd != whole {
			t.Fatal("the backend did not receive the reassembled split token")
		}
		resp := g.call(t, "GET", "/warehouse/items", whole, nil)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("reassembled split token presented by a client: status %d, want 401", resp.StatusCode)
		}
		if www := resp.Header.Get("WWW-Authenticate"); !strings.Contains(www, `error="invalid_token"`) {
			t.Errorf("WWW-Authenticate %q, want invalid_token", www)
		}
		if _, after := g.up.lastRequest(); after != before {
			t.Error("a reassembled split token presented by a client reached the backend")
		}
	})
}

func TestGatewayAttacks(t *testing.T) {
	g := startGateway(t)
	valid := g.serviceToken(t, store.FormatJWT, "list_items")
	attacker, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signWith := func(key any, hdr map[jose.HeaderKey]any, claims string) string {
		opts := (&jose.SignerOptions{}).WithType("at+jwt")
		for k, v := range hdr {
			opts = opts.WithHeader(k, v)
		}
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts)
		if err != nil {
			t.Fatal(err)
		}
		o, _ := s.Sign([]byte(claims))
		out, _ := o.CompactSerialize()
		return out
	}
	now := g.clock.Now().Unix()
	goodClaims, _ := json.Marshal(map[string]any{"iss": g.issuer, "sub": "x", "aud": apiAudience, "exp": now + 300,
		"iat": now, "client_id": "x", "scope": "list_items", "jti": "j"})
	b64 := base64.RawURLEncoding.EncodeToString
	parts := strings.Split(valid, ".")
	jwksJSON, _ := json.Marshal(g.signer.KeySet())
	hs := func() string {
		h := b64([]byte(`{"alg":"HS256","typ":"at+jwt","kid":"` + g.signer.KeySet().Keys[0].KeyID + `"}`))
		p := b64(goodClaims)
		m := hmac.New(sha256.New, jwksJSON)
		m.Write([]byte(h + "." + p))
		return h + "." + p + "." + b64(m.Sum(nil))
	}
	tests := []struct {
		name       string
		method     string
		tok        string
		hdr        map[string]string
		wantStatus int
		wantError  string
	}{
		{"no token", "GET", "", nil, 401, ""},
		{"expired", "GET", g.forge(t, func(c map[string]any) { c["exp"] = now - 120; c["iat"] = now - 600 }), nil, 401, "invalid_token"},
		{"not yet valid", "GET", g.forge(t, func(c map[string]any) { c["nbf"] = now + 600 }), nil, 401, "invalid_token"},
		{"wrong issuer", "GET", g.forge(t, func(c map[string]any) { c["iss"] = "https://evil.example" }), nil, 401, "invalid_token"},
		{"wrong audience", "GET", g.forge(t, func(c map[string]any) { c["aud"] = "urn:other" }), nil, 401, "invalid_token"},
		{"alg none", "GET", b64([]byte(`{"alg":"none","typ":"at+jwt"}`)) + "." + b64(goodClaims) + ".", nil, 401, "invalid_token"},
		{"HS256 with the public key", "GET", hs(), nil, 401, "invalid_token"},
		{"unknown kid", "GET", signWith(attacker, map[jose.HeaderKey]any{"kid": "nope"}, string(goodClaims)), nil, 401, "invalid_token"},
		{"jku to attacker", "GET", signWith(attacker, map[jose.HeaderKey]any{"jku": "https://evil.example/jwks"}, string(goodClaims)), nil, 401, "invalid_token"},
		{"x5u to attacker", "GET", signWith(attacker, map[jose.HeaderKey]any{"x5u": "https://evil.example/cert"}, string(goodClaims)), nil, 401, "invalid_token"},
		{"embedded jwk", "GET", signWith(attacker, map[jose.HeaderKey]any{"jwk": jose.JSONWebKey{Key: attacker.Public()}}, string(goodClaims)), nil, 401, "invalid_token"},
		{"tampered payload", "GET", parts[0] + "." + b64([]byte(strings.Replace(string(goodClaims), "list_items", "order_item", 1))) + "." + parts[2], nil, 401, "invalid_token"},
		{"truncated", "GET", valid[:len(valid)-10], nil, 401, "invalid_token"},
		{"junk opaque", "GET", "pca_not-a-real-token", nil, 401, "invalid_token"},
		{"wrong scope for the method", "POST", valid, nil, 403, "insufficient_scope"},
		{"token in query only", "GET", "", nil, 401, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := "/warehouse/items"
			if tc.method == "POST" {
				path = "/warehouse/orders"
			}
			if tc.name == "token in query only" {
				path += "?access_token=" + url.QueryEscape(valid)
			}
			_, before := g.up.lastRequest()
			resp := g.call(t, tc.method, path, tc.tok, tc.hdr)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			www := resp.Header.Get("WWW-Authenticate")
			if !strings.HasPrefix(www, "Bearer") || (tc.wantError != "" && !strings.Contains(www, `error="`+tc.wantError+`"`)) {
				t.Errorf("WWW-Authenticate %q, want Bearer error=%q", www, tc.wantError)
			}
			if tc.name == "wrong audience" && !strings.Contains(www, `error_description="the token is not meant for this API`) {
				t.Errorf("WWW-Authenticate %q, want an error_description naming the audience", www)
			}
			if tc.wantError == "" && strings.Contains(www, "error=") {
				t.Errorf("WWW-Authenticate %q: a request without a token gets no error code (RFC 6750 §3.1)", www)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
				t.Errorf("Content-Type %q, want application/problem+json", ct)
			}
			if _, after := g.up.lastRequest(); after != before {
				t.Error("a refused request reached the backend")
			}
		})
	}
	t.Run("1 MB token", func(t *testing.T) {
		resp := g.call(t, "GET", "/warehouse/items", strings.Repeat("a", 1<<20), nil)
		if resp.StatusCode != 401 && resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("status %d, want 401 or 431", resp.StatusCode)
		}
	})
	t.Run("revoked opaque token after the cache bound", func(t *testing.T) {
		tok := g.serviceToken(t, store.FormatOpaque, "list_items")
		if resp := g.call(t, "GET", "/warehouse/items", tok, nil); resp.StatusCode != 200 {
			t.Fatalf("before revocation: %d", resp.StatusCode)
		}
		if st, _, _ := g.postForm("/oauth2/revoke", "service-opaque", g.secrets["service-opaque"], url.Values{"token": {tok}}, nil); st != 200 {
			t.Fatalf("revoke: %d", st)
		}
		g.clock.Advance(31 * time.Second)
		if resp := g.call(t, "GET", "/warehouse/items", tok, nil); resp.StatusCode != 401 {
			t.Fatalf("after revocation and the cache bound: %d, want 401", resp.StatusCode)
		}
	})
	// One node runs both roles, so the authorization server tells its
	// own gateway at once: no wait for the cache bound.
	for _, f := range []string{store.FormatOpaque, store.FormatSplit} {
		t.Run("revoked "+f+" token refused at once", func(t *testing.T) {
			tok := g.serviceToken(t, f, "list_items")
			if resp := g.call(t, "GET", "/warehouse/items", tok, nil); resp.StatusCode != 200 {
				t.Fatalf("before revocation: %d", resp.StatusCode)
			}
			if st, _, _ := g.postForm("/oauth2/revoke", "service-"+f, g.secrets["service-"+f], url.Values{"token": {tok}}, nil); st != 200 {
				t.Fatalf("revoke: %d", st)
			}
			if resp := g.call(t, "GET", "/warehouse/items", tok, nil); resp.StatusCode != 401 {
				t.Fatalf("right after revocation: %d, want 401", resp.StatusCode)
			}
		})
	}
	// Deleting a client deletes its tokens; the gateway, told by the
	// node's registry, refuses them at once rather than at the cache
	// bound.
	t.Run("deleted client's opaque token refused at once", func(t *testing.T) {
		secret := g.client(store.Client{ID: "service-doomed", GrantTypes: []string{"client_credentials"},
			Scopes: []string{"list_items"}, AccessTokenFormat: store.FormatOpaque})
		st, _, m := g.postForm("/oauth2/token", "service-doomed", secret, url.Values{"grant_type": {"client_credentials"}}, nil)
		if st != http.StatusOK {
			t.Fatalf("token: %d %v", st, m)
		}
		tok := m["access_token"].(string)
		if resp := g.call(t, "GET", "/warehouse/items", tok, nil); resp.StatusCode != 200 {
			t.Fatalf("before the deletion: %d", resp.StatusCode)
		}
		opsSecret := g.client(store.Client{ID: "ops-deleter", GrantTypes: []string{"client_credentials"},
			Scopes: []string{string(admin.RolePlatform)}, Audience: []string{admin.Audience}, AccessTokenFormat: store.FormatJWT})
		st, _, m = g.postForm("/oauth2/token", "ops-deleter", opsSecret, url.Values{"grant_type": {"client_credentials"}}, nil)
		if st != http.StatusOK {
			t.Fatalf("admin token: %d %v", st, m)
		}
		if resp, body := g.adminCall("DELETE", "/admin/v1/clients/service-doomed", m["access_token"].(string), ""); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("delete client: %d %s", resp.StatusCode, body)
		}
		if resp := g.call(t, "GET", "/warehouse/items", tok, nil); resp.StatusCode != 401 {
			t.Fatalf("right after the client's deletion: %d, want 401", resp.StatusCode)
		}
	})
	t.Run("CORS", func(t *testing.T) {
		pre := func(origin string) *http.Response {
			req, _ := http.NewRequest(http.MethodOptions, g.gatewayURL+"/warehouse/items", nil)
			req.Header.Set("Origin", origin)
			req.Header.Set("Access-Control-Request-Method", "GET")
			req.Header.Set("Access-Control-Request-Headers", "authorization")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp
		}
		if resp := pre("https://app.example"); resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" || resp.StatusCode >= 300 {
			t.Errorf("allowed origin preflight: %d %v", resp.StatusCode, resp.Header)
		}
		resp := pre("https://evil.example")
		for k := range resp.Header {
			if strings.HasPrefix(k, "Access-Control-") {
				t.Errorf("foreign origin got %s", k)
			}
		}
		resp = g.call(t, "GET", "/warehouse/items", valid, map[string]string{"Origin": "https://evil.example"})
		if resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Error("foreign origin got Access-Control-Allow-Origin on a real request")
		}
	})
	t.Run("undeclared operation", func(t *testing.T) {
		if resp := g.call(t, "DELETE", "/warehouse/items", valid, nil); resp.StatusCode != 404 && resp.StatusCode != 405 {
			t.Errorf("status %d, want 404 or 405", resp.StatusCode)
		}
		if resp := g.call(t, "GET", "/warehouse/../admin", valid, nil); resp.StatusCode < 400 {
			t.Errorf("dot-dot path: %d", resp.StatusCode)
		}
	})
}
