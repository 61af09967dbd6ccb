package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/portcullis/portcullis/internal/store"
)

// TestTokenEndpointErrors checks each refusal carries the exact RFC 6749
// §5.2 error.
func TestTokenEndpointErrors(t *testing.T) {
	e, secrets := warehouse(t)
	cc := url.Values{"grant_type": {"client_credentials"}}
	tests := []struct {
		name       string
		id, secret string
		form       url.Values
		wantStatus int
		wantError  string
	}{
		{"wrong secret", "service-opaque", "not-the-secret", cc, 401, "invalid_client"},
		{"unknown client", "nobody", "x", cc, 401, "invalid_client"},
		{"no client", "", "", cc, 401, "invalid_client"},
		{"scope not allowed", "service-opaque", secrets["service-opaque"],
			url.Values{"grant_type": {"client_credentials"}, "scope": {"admin"}}, 400, "invalid_scope"},
		{"grant not allowed", "service-opaque", secrets["service-opaque"],
			url.Values{"grant_type": {"authorization_code"}, "code": {"x"}}, 400, "unauthorized_client"},
		{"unknown grant", "service-opaque", secrets["service-opaque"],
			url.Values{"grant_type": {"password"}}, 400, "unsupported_grant_type"},
		{"repeated parameter", "service-opaque", secrets["service-opaque"],
			url.Values{"grant_type": {"client_credentials", "client_credentials"}}, 400, "invalid_request"},
		{"unknown code", "web", secrets["web"],
			url.Values{"grant_type": {"authorization_code"}, "code": {"pcc_nope"}, "redirect_uri": {callback}, "code_verifier": {strings.Repeat("a", 43)}}, 400, "invalid_grant"},
		{"unknown refresh token", "web", secrets["web"],
			url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"pcr_nope"}}, 400, "invalid_grant"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, hdr, m := e.postForm("/oauth2/token", tc.id, tc.secret, tc.form, nil)
			if st != tc.wantStatus || m["error"] != tc.wantError {
				t.Fatalf("got %d %v, want %d %s", st, m, tc.wantStatus, tc.wantError)
			}
			if tc.id != "" && st == 401 && !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("401 after Basic must carry WWW-Authenticate: Basic, got %q", hdr.Get("WWW-Authenticate"))
			}
			if tc.secret != "" && strings.Contains(m["error_description"].(string)+hdr.Get("WWW-Authenticate"), tc.secret) {
				t.Error("the secret is echoed back")
			}
		})
	}
}

func TestAuthorizeErrors(t *testing.T) {
	e, secrets := warehouse(t)
	_, challenge := pkce()
	base := func(mod func(url.Values)) string {
		q := url.Values{
			"response_type": {"code"}, "client_id": {"web"}, "redirect_uri": {callback},
			"scope": {"openid list_items"}, "state": {"xyz"},
			"code_challenge": {challenge}, "code_challenge_method": {"S256"},
		}
		mod(q)
		return e.url("/oauth2/authorize?") + q.Encode()
	}
	redirected := []struct {
		name      string
		mod       func(url.Values)
		wantError string
	}{
		{"PKCE missing", func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }, "invalid_request"},
		{"PKCE plain", func(q url.Values) { q.Set("code_challenge_method", "plain") }, "invalid_request"},
		{"PKCE method omitted means plain", func(q url.Values) { q.Del("code_challenge_method") }, "invalid_request"},
		{"response_type token", func(q url.Values) { q.Set("response_type", "token") }, "unsupported_response_type"},
		{"request object", func(q url.Values) { q.Set("request", "eyJ.x.y") }, "request_not_supported"},
		{"prompt none without session", func(q url.Values) { q.Set("prompt", "none") }, "login_required"},
	}
	for _, tc := range redirected {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := newBrowser(t).get(base(tc.mod))
			if resp.StatusCode != http.StatusFound {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			loc := resp.Header.Get("Location")
			q := query(t, loc)
			if !strings.HasPrefix(loc, callback+"?") || q.Get("error") != tc.wantError || q.Get("state") != "xyz" || q.Get("iss") != e.issuer {
				t.Errorf("redirect %s, want error=%s with state and iss", loc, tc.wantError)
			}
		})
	}
	pages := []struct {
		name string
		mod  func(url.Values)
	}{
		{"redirect URI mismatch", func(q url.Values) { q.Set("redirect_uri", "http://127.0.0.1:9999/callback/../evil") }},
		{"redirect URI prefix", func(q url.Values) { q.Set("redirect_uri", callback+"x") }},
		{"redirect URI other host", func(q url.Values) { q.Set("redirect_uri", "https://attacker.example/callback") }},
		{"unknown client", func(q url.Values) { q.Set("client_id", "nobody") }},
		{"no client", func(q url.Values) { q.Del("client_id") }},
	}
	for _, tc := range pages {
		t.Run(tc.name, func(t *testing.T) {
			resp, _ := newBrowser(t).get(base(tc.mod))
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Fatalf("status %d location %q, want 400 page and no redirect", resp.StatusCode, resp.Header.Get("Location"))
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("CSP %q lacks frame-ancestors 'none'", csp)
			}
		})
	}
	t.Run("wrong PKCE verifier", func(t *testing.T) {
		v, ch := pkce()
		q := newBrowser(t).login(base(func(q url.Values) { q.Set("code_challenge", ch) }), "alice", password, "allow")
		form := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {callback}}
		other, _ := pkce()
		form.Set("code_verifier", other)
		if st, _, m := e.postForm("/oauth2/token", "web", secrets["web"], form, nil); st != 400 || m["error"] != "invalid_grant" {
			t.Fatalf("wrong verifier: %d %v", st, m)
		}
		// The failed attempt consumed the code.
		form.Set("code_verifier", v)
		if st, _, m := e.postForm("/oauth2/token", "web", secrets["web"], form, nil); st != 400 || m["error"] != "invalid_grant" {
			t.Fatalf("code after failed attempt: %d %v", st, m)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		b := newBrowser(t)
		_, page := b.get(base(func(url.Values) {}))
		action, fields := form(t, page)
		fields.Set("username", "alice")
		fields.Set("password", "wrong password")
		resp, page := b.post(action, fields)
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Location") != "" || strings.Contains(page, "wrong password") {
			t.Fatalf("wrong password: status %d", resp.StatusCode)
		}
	})
	t.Run("login without CSRF token", func(t *testing.T) {
		b := newBrowser(t)
		_, page := b.get(base(func(url.Values) {}))
		action, fields := form(t, page)
		fields.Del("csrf_token")
		fields.Set("username", "alice")
		fields.Set("password", password)
		if resp, _ := b.post(action, fields); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("status %d, want 403", resp.StatusCode)
		}
	})
	t.Run("consent denied", func(t *testing.T) {
		// alice consented in an earlier subtest; prompt=consent asks again.
		q := newBrowser(t).login(base(func(q url.Values) { q.Set("prompt", "consent") }), "alice", password, "deny")
		if q.Get("error") != "access_denied" {
			t.Fatalf("deny: %v", q)
		}
	})
}

func TestIntrospectionRightsAndExpiry(t *testing.T) {
	e, secrets := warehouse(t)
	st, _, m := e.postForm("/oauth2/token", "service-opaque", secrets["service-opaque"], url.Values{"grant_type": {"client_credentials"}}, nil)
	if st != 200 {
		t.Fatalf("token: %d %v", st, m)
	}
	at := m["access_token"].(string)
	st, _, m = e.postForm("/oauth2/introspect", "service-jwt", secrets["service-jwt"], url.Values{"token": {at}}, nil)
	if st != http.StatusForbidden || m["error"] != "unauthorized_client" || m["active"] != nil {
		t.Fatalf("introspection without the right: %d %v", st, m)
	}
	if _, m := e.introspect(secrets, at, ""); m["active"] != true {
		t.Fatalf("fresh token inactive: %v", m)
	}
	e.clock.Advance(16 * time.Minute)
	if _, m := e.introspect(secrets, at, ""); len(m) != 1 || m["active"] != false {
		t.Fatalf("expired token: %v", m)
	}
	if _, m := e.introspect(secrets, at, "application/jwt"); len(m) != 1 || m["active"] != false {
		t.Fatalf("expired token as phantom: %v", m)
	}
}

func TestPrivateKeyJWT(t *testing.T) {
	e, _ := warehouse(t)
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
	now := time.Now()
	assertion, err := jwt.Signed(signer).Claims(jwt.Claims{
		Issuer: "signed", Subject: "signed", Audience: jwt.Audience{e.issuer},
		Expiry: jwt.NewNumericDate(now.Add(time.Minute)), IssuedAt: jwt.NewNumericDate(now), ID: "jti-1",
	}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
	}
	if st, _, m := e.postForm("/oauth2/token", "", "", form, nil); st != 200 || m["access_token"] == nil {
		t.Fatalf("private_key_jwt: %d %v", st, m)
	}
	// RFC 7523 §3: the jti may be used once.
	if st, _, m := e.postForm("/oauth2/token", "", "", form, nil); st != 401 || m["error"] != "invalid_client" {
		t.Fatalf("replayed assertion: %d %v", st, m)
	}
	_ = context.Background()
}

// TestLoginThrottle: repeated wrong passwords lock the account briefly, and
// while locked even the right password is not checked.
func TestLoginThrottle(t *testing.T) {
	e, _ := warehouse(t)
	_, challenge := pkce()
	q := url.Values{
		"response_type": {"code"}, "client_id": {"web"}, "redirect_uri": {callback},
		"scope": {"openid"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}
	b := newBrowser(t)
	_, page := b.get(e.url("/oauth2/authorize?") + q.Encode())
	for i := range 6 {
		action, fields := form(t, page)
		fields.Set("username", "bob")
		fields.Set("password", "not bob's password")
		if i == 5 {
			fields.Set("password", password)
		}
		var resp *http.Response
		resp, page = b.post(action, fields)
		want := http.StatusUnauthorized
		if i == 5 {
			want = http.StatusTooManyRequests
		}
		if resp.StatusCode != want {
			t.Fatalf("attempt %d: status %d, want %d", i+1, resp.StatusCode, want)
		}
	}
	e.clock.Advance(31 * time.Second)
	if got := b.login(e.url("/oauth2/authorize?")+q.Encode(), "bob", password, "allow"); got.Get("code") == "" {
		t.Fatalf("after the lock period: %v", got)
	}
}
