package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/gateway/gatewaytest"
	"github.com/portcullis/portcullis/internal/token"
)

func TestTokenKindsReachUpstream(t *testing.T) {
	e := newEnv(t, nil)
	for _, kind := range []string{"jwt", "opaque", "split"} {
		t.Run(kind, func(t *testing.T) {
			e.up.Reset()
			tok := e.token(t, kind, "list_items")
			w := e.serve(request("GET", "/warehouse/items/42?color=red", tok))
			if w.Code != http.StatusOK {
				t.Fatalf("status = %d, want 200; body %s", w.Code, w.Body)
			}
			got, ok := e.up.Last()
			if !ok {
				t.Fatal("upstream received nothing")
			}
			if got.Path != "/backend/items/42" || got.Query != "color=red" {
				t.Errorf("upstream path = %q query %q, want /backend/items/42 color=red", got.Path, got.Query)
			}
			auth := got.Header.Get("Authorization")
			jwt, ok := strings.CutPrefix(auth, "Bearer ")
			if !ok || strings.Count(jwt, ".") != 2 {
				t.Fatalf("upstream Authorization = %q, want Bearer <jwt>", auth)
			}
			if kind == "jwt" && jwt != tok {
				t.Errorf("upstream got another JWT than the one presented")
			}
			if kind != "jwt" && strings.Contains(auth, tok) && kind == "opaque" {
				t.Errorf("upstream got the opaque token")
			}
			claims := decodeClaims(t, jwt)
			if claims["sub"] != "alice" || claims["iss"] != e.is.URL() {
				t.Errorf("forwarded JWT claims sub=%v iss=%v", claims["sub"], claims["iss"])
			}
			if id := w.Header().Get("X-Request-Id"); id == "" || id != got.Header.Get("X-Request-Id") {
				t.Errorf("X-Request-Id response %q, upstream %q", id, got.Header.Get("X-Request-Id"))
			}
		})
	}
}

func decodeClaims(t testing.TB, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// forge builds a compact JWS by hand, for tokens no honest library makes.
func forge(t testing.TB, header, claims map[string]any, sign func(signingInput []byte) []byte) string {
	t.Helper()
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	return in + "." + base64.RawURLEncoding.EncodeToString(sign([]byte(in)))
}

func TestAttacksRefused(t *testing.T) {
	e := newEnv(t, nil)
	is := e.is
	base := gatewaytest.Claims{Subject: "mallory", ClientID: "spa", Scope: "list_items order_item", Audience: []string{"warehouse"}}
	claims := func(edit func(m map[string]any)) map[string]any {
		m := is.Map(base)
		if edit != nil {
			edit(m)
		}
		return m
	}
	attacker, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signWith := func(key *ecdsa.PrivateKey, extra map[jose.HeaderKey]any) func(map[string]any) string {
		return func(m map[string]any) string {
			opts := (&jose.SignerOptions{}).WithType("at+jwt")
			for k, v := range extra {
				opts = opts.WithHeader(k, v)
			}
			s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, opts)
			if err != nil {
				t.Fatal(err)
			}
			payload, _ := json.Marshal(m)
			obj, err := s.Sign(payload)
			if err != nil {
				t.Fatal(err)
			}
			out, _ := obj.CompactSerialize()
			return out
		}
	}
	attackerJWK := jose.JSONWebKey{Key: &attacker.PublicKey, KeyID: is.KeyID(), Algorithm: "ES256"}
	pub, _ := x509.MarshalPKIXPublicKey(&is.Key().PublicKey)
	valid := is.JWT(t, base)
	revoked := is.Opaque(t, base)
	is.Revoke(revoked)

	realm := `Bearer realm="warehouse"`
	invalid := realm + `, error="invalid_token"`
	tests := []struct {
		name      string
		auth      []string // Authorization header values
		target    string
		status    int
		challenge string
		problem   string
	}{
		{"no token", nil, "/warehouse/items", 401, realm, "invalid-token"},
		{"basic scheme", []string{"Basic YWxpY2U6c2VjcmV0"}, "/warehouse/items", 401, realm, "invalid-token"},
		{"bearer without token", []string{"Bearer"}, "/warehouse/items", 401, invalid, "invalid-token"},
		{"two tokens", []string{"Bearer a b"}, "/warehouse/items", 401, invalid, "invalid-token"},
		{"two headers", []string{"Bearer " + valid, "Bearer " + valid}, "/warehouse/items", 400,
			realm + `, error="invalid_request"`, "bad-request"},
		{"query token only", nil, "/warehouse/items?access_token=" + valid, 401, realm, "invalid-token"},
		{"expired", []string{"Bearer " + is.Sign(t, claims(func(m map[string]any) {
			m["exp"] = time.Now().Add(-time.Hour).Unix()
			m["iat"] = time.Now().Add(-2 * time.Hour).Unix()
			m["nbf"] = m["iat"]
		}))}, "/warehouse/items", 401, invalid, "invalid-token"},
		{"not yet valid", []string{"Bearer " + is.Sign(t, claims(func(m map[string]any) {
			m["nbf"] = time.Now().Add(time.Hour).Unix()
		}))}, "/warehouse/items", 401, invalid, "invalid-token"},
		{"wrong issuer", []string{"Bearer " + is.Sign(t, claims(func(m map[string]any) {
			m["iss"] = "https://evil.example"
		}))}, "/warehouse/items", 401, invalid, "invalid-token"},
		{"wrong audience", []string{"Bearer " + is.Sign(t, claims(func(m map[string]any) {
			m["aud"] = "billing"
		}))}, "/warehouse/items", 401, invalid +
			`, error_description="the token is not meant for this API: its audience (aud) is none of those the API accepts"`, "invalid-token"},
		{"phantom token", []string{"Bearer " + is.SignTyped(t, claims(nil), token.TypePhantomJWT)},
			"/warehouse/items", 401, invalid, "invalid-token"},
		{"phantom token, media type", []string{"Bearer " + is.SignTyped(t, claims(nil), "application/phantom+jwt")},
			"/warehouse/items", 401, invalid, "invalid-token"},
		{"alg none", []string{"Bearer " + forge(t, map[string]any{"alg": "none", "typ": "at+jwt"}, claims(nil),
			func([]byte) []byte { return []byte("x") })}, "/warehouse/items", 401, invalid, "invalid-token"},
		{"HS256 with the public key", []string{"Bearer " + forge(t, map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": is.KeyID()},
			claims(nil), func(in []byte) []byte {
				m := hmac.New(sha256.New, pub)
				m.Write(in)
				return m.Sum(nil)
			})}, "/warehouse/items", 401, invalid, "invalid-token"},
		{"unknown kid", []string{"Bearer " + signWith(attacker, map[jose.HeaderKey]any{"kid": "nope"})(claims(nil))},
			"/warehouse/items", 401, invalid, "invalid-token"},
		{"jku to attacker", []string{"Bearer " + signWith(attacker, map[jose.HeaderKey]any{"kid": is.KeyID(), "jku": "https://evil.example/jwks"})(claims(nil))},
			"/warehouse/items", 401, invalid, "invalid-token"},
		{"x5u to attacker", []string{"Bearer " + signWith(attacker, map[jose.HeaderKey]any{"kid": is.KeyID(), "x5u": "https://evil.example/cert"})(claims(nil))},
			"/warehouse/items", 401, invalid, "invalid-token"},
		{"embedded jwk", []string{"Bearer " + signWith(attacker, map[jose.HeaderKey]any{"kid": is.KeyID(), "jwk": attackerJWK})(claims(nil))},
			"/warehouse/items", 401, invalid, "invalid-token"},
		{"tampered payload", []string{"Bearer " + tamper(t, valid)}, "/warehouse/items", 401, invalid, "invalid-token"},
		{"truncated", []string{"Bearer " + valid[:len(valid)-10]}, "/warehouse/items", 401, invalid, "invalid-token"},
		{"1 MB token", []string{"Bearer " + strings.Repeat("a", 1<<20)}, "/warehouse/items", 401, invalid, "invalid-token"},
		{"unknown opaque", []string{"Bearer pca_" + strings.Repeat("x", 43)}, "/warehouse/items", 401, invalid, "invalid-token"},
		{"revoked opaque", []string{"Bearer " + revoked}, "/warehouse/items", 401, invalid, "invalid-token"},
		{"unknown split", []string{"Bearer " + strings.Repeat("A", 86)}, "/warehouse/items", 401, invalid, "invalid-token"},
		{"wrong scope for the method", []string{"Bearer " + is.JWT(t, gatewaytest.Claims{Subject: "bob", Scope: "list_items", Audience: []string{"warehouse"}})},
			"/warehouse/orders", 403, realm + `, error="insufficient_scope", scope="order_item"`, "insufficient-scope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.up.Reset()
			method := "GET"
			if strings.HasSuffix(tc.target, "/orders") {
				method = "POST"
			}
			r := request(method, tc.target, "")
			for _, v := range tc.auth {
				r.Header.Add("Authorization", v)
			}
			w := e.serve(r)
			if w.Code != tc.status {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tc.status, w.Body)
			}
			if got := w.Header().Values("Www-Authenticate"); !cmp.Equal(got, []string{tc.challenge}) {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tc.challenge)
			}
			p := readProblem(t, w)
			if want := "urn:portcullis:problem:" + tc.problem; p.Type != want {
				t.Errorf("problem type = %q, want %q", p.Type, want)
			}
			if _, ok := e.up.Last(); ok {
				t.Errorf("request reached the upstream")
			}
			for _, v := range tc.auth {
				tok := strings.TrimPrefix(v, "Bearer ")
				if len(tok) > 8 && strings.Contains(e.logs.String(), tok) {
					t.Errorf("the token appears in the logs")
				}
			}
		})
	}
}

// tamper changes the payload's subject while keeping the signature.
func tamper(t testing.TB, jwt string) string {
	t.Helper()
	parts := strings.Split(jwt, ".")
	c := decodeClaims(t, jwt)
	c["sub"] = "admin"
	b, _ := json.Marshal(c)
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
}

func TestRevokedOpaqueAfterCacheBound(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	e := newEnv(t, func(c *catalog.Snapshot) {
		c.Issuers[0].CacheTTL = catalog.Duration(30 * time.Second)
	})
	// The clock only matters to the resolver caches; rebuild with it.
	gw, err := New(t.Context(), Options{Catalog: e.cfg, Getenv: e.getenv, Now: clock, SplitSource: e.is.SplitSource()})
	if err != nil {
		t.Fatal(err)
	}
	e.gw = gw
	tok := e.token(t, "opaque", "list_items")
	if w := e.serve(request("GET", "/warehouse/items", tok)); w.Code != 200 {
		t.Fatalf("before revocation: status %d", w.Code)
	}
	e.is.Revoke(tok)
	if w := e.serve(request("GET", "/warehouse/items", tok)); w.Code != 200 {
		t.Fatalf("within the cache bound: status %d, want 200 (cached)", w.Code)
	}
	now = now.Add(31 * time.Second)
	if w := e.serve(request("GET", "/warehouse/items", tok)); w.Code != 401 {
		t.Fatalf("after the cache bound: status %d, want 401", w.Code)
	}
}

func TestIntrospectionDownFailsClosed(t *testing.T) {
	e := newEnv(t, nil)
	e.is.SetIntrospectionStatus(http.StatusInternalServerError)
	w := e.serve(request("GET", "/warehouse/items", e.token(t, "opaque", "list_items")))
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 503", w.Code)
	}
	if got := w.Header().Get("Retry-After"); got != "5" {
		t.Errorf("Retry-After = %q, want 5", got)
	}
	if p := readProblem(t, w); p.Type != "urn:portcullis:problem:unavailable" {
		t.Errorf("problem type = %q", p.Type)
	}
	if _, ok := e.up.Last(); ok {
		t.Error("request reached the upstream")
	}
}

func TestTokenKindsRefusedWhenNotAccepted(t *testing.T) {
	tests := []struct {
		accept []string
		kind   string
		want   int
	}{
		{[]string{"jwt"}, "jwt", 200},
		{[]string{"jwt"}, "opaque", 401},
		{[]string{"jwt"}, "split", 401},
		{[]string{"opaque"}, "jwt", 401},
		{[]string{"opaque"}, "opaque", 200},
		{[]string{"split"}, "split", 200},
		{[]string{"split"}, "opaque", 401},
		{[]string{"opaque", "split"}, "split", 200},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.accept, "+")+"/"+tc.kind, func(t *testing.T) {
			e := newEnv(t, func(c *catalog.Snapshot) { c.APIs[0].Tokens = tc.accept })
			w := e.serve(request("GET", "/warehouse/items", e.token(t, tc.kind, "list_items")))
			if w.Code != tc.want {
				t.Errorf("status = %d, want %d", w.Code, tc.want)
			}
		})
	}
}

func TestSplitWithoutSourceFailsClosed(t *testing.T) {
	e := newEnv(t, nil)
	gw, err := New(t.Context(), Options{Catalog: e.cfg, Getenv: e.getenv})
	if err != nil {
		t.Fatal(err)
	}
	e.gw = gw
	if w := e.serve(request("GET", "/warehouse/items", e.token(t, "split", "list_items"))); w.Code != 401 {
		t.Errorf("status = %d, want 401", w.Code)
	}
}

func TestKeysNotLoaded(t *testing.T) {
	is := gatewaytest.NewIssuer(t)
	is.SetJWKSDown(true)
	up := gatewaytest.NewUpstream(t)
	cfg := warehouseConfig(is, up)
	gw, err := New(t.Context(), Options{Catalog: cfg, Getenv: func(string) string { return is.ClientSecret }})
	if err != nil {
		t.Fatal(err)
	}
	if gw.Ready() {
		t.Error("Ready() = true with the key set down")
	}
	w := httptestServe(gw, request("GET", "/warehouse/items", is.JWT(t, gatewaytest.Claims{Scope: "list_items", Audience: []string{"warehouse"}})))
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("status = %d, want 503", w.Code)
	}
	if w := httptestServe(gw, request("GET", "/warehouse/health", "")); w.Code != 200 {
		t.Errorf("public route: status = %d, want 200", w.Code)
	}
}

func TestPublicOperation(t *testing.T) {
	e := newEnv(t, func(c *catalog.Snapshot) {
		c.APIs[0].Operations[4].Policy = `request.method == "GET"`
	})
	r := request("GET", "/warehouse/health", "")
	r.Header.Set("Authorization", "Bearer forged")
	w := e.serve(r)
	if w.Code != 200 {
		t.Fatalf("status = %d, want 200", w.Code)
	}
	got, _ := e.up.Last()
	if v := got.Header.Values("Authorization"); v != nil {
		t.Errorf("upstream Authorization = %q, want none", v)
	}
}

func TestPublicAPIWithoutIssuer(t *testing.T) {
	up := gatewaytest.NewUpstream(t)
	gw, err := New(t.Context(), Options{Catalog: catalog.Snapshot{APIs: []catalog.API{{
		Name: "docs", BasePath: "/docs", Upstream: up.URL(), Public: true,
		Operations: []catalog.Operation{{Path: "/{page...}"}},
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	if !gw.Ready() {
		t.Error("Ready() = false without issuers")
	}
	for _, target := range []string{"/docs", "/docs/", "/docs/a/b"} {
		if w := httptestServe(gw, request("DELETE", target, "")); w.Code != 200 {
			t.Errorf("%s: status = %d, want 200", target, w.Code)
		}
	}
	want := []string{"/", "/", "/a/b"}
	var got []string
	for _, r := range up.Requests() {
		got = append(got, r.Path)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("upstream paths (-want +got):\n%s", diff)
	}
}

func TestPolicies(t *testing.T) {
	e := newEnv(t, func(c *catalog.Snapshot) {
		c.TrustedProxies = []string{"10.0.0.0/8"}
		c.APIs[0].Policy = `ip.in(request.ip, ["192.0.2.0/24", "198.51.100.0/24"])`
	})
	tok := e.token(t, "jwt", "list_items") // org acme
	tests := []struct {
		name   string
		target string
		remote string
		xff    string
		want   int
	}{
		{"own org", "/warehouse/orgs/acme/items", "192.0.2.10:1", "", 200},
		{"other org", "/warehouse/orgs/globex/items", "192.0.2.10:1", "", 403},
		{"outside the network", "/warehouse/items", "203.0.113.5:1", "", 403},
		{"forged XFF from an untrusted peer", "/warehouse/items", "203.0.113.5:1", "192.0.2.7", 403},
		{"trusted proxy forwards an allowed client", "/warehouse/items", "10.1.2.3:1", "192.0.2.7", 200},
		{"trusted proxy, client forged the left of the chain", "/warehouse/items", "10.1.2.3:1", "192.0.2.7, 203.0.113.5", 403},
		{"trusted chain of proxies", "/warehouse/items", "10.1.2.3:1", "192.0.2.7, 10.9.9.9", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := request("GET", tc.target, tok)
			r.RemoteAddr = tc.remote
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			w := e.serve(r)
			if w.Code != tc.want {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tc.want, w.Body)
			}
			if tc.want == 403 {
				if p := readProblem(t, w); p.Type != "urn:portcullis:problem:access-denied" {
					t.Errorf("problem type = %q", p.Type)
				}
			}
		})
	}
}

func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token(t, "jwt", "list_items")
	tests := []struct {
		method, target string
		status         int
		allow          string
	}{
		{"GET", "/nowhere", 404, ""},
		{"GET", "/warehousex/items", 404, ""},
		{"GET", "/warehouse", 404, ""},
		{"GET", "/warehouse/items/1/2", 404, ""},
		{"DELETE", "/warehouse/items", 405, "GET, HEAD"},
		{"PUT", "/warehouse/orders", 405, "POST"},
		{"GET", "/warehouse//items", 400, ""},
		{"GET", "/warehouse/a/../items", 400, ""},
		{"GET", "/warehouse/items%2F1", 400, ""},
		{"GET", "/warehouse/%2e%2e/items", 400, ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			w := e.serve(request(tc.method, tc.target, tok))
			if w.Code != tc.status {
				t.Fatalf("status = %d, want %d", w.Code, tc.status)
			}
			if got := w.Header().Get("Allow"); got != tc.allow {
				t.Errorf("Allow = %q, want %q", got, tc.allow)
			}
			readProblem(t, w)
			if _, ok := e.up.Last(); ok {
				t.Error("request reached the upstream")
			}
		})
	}
}

func TestHeadFollowsGet(t *testing.T) {
	e := newEnv(t, nil)
	if w := e.serve(request("HEAD", "/warehouse/items", e.token(t, "jwt", "list_items"))); w.Code != 200 {
		t.Errorf("HEAD status = %d, want 200", w.Code)
	}
}
