package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/token"
)

const (
	callback = "http://127.0.0.1:9999/callback"
	password = "correct horse battery"
)

// warehouse seeds the warehouse example: a web app, a service client per
// token format, an introspecting gateway, alice and bob.
func warehouse(t testing.TB, opts ...startOpt) (*env, map[string]string) {
	e := start(t, opts...)
	secrets := map[string]string{}
	for _, f := range []string{store.FormatOpaque, store.FormatJWT, store.FormatSplit} {
		id := "service-" + f
		secrets[id] = e.client(store.Client{
			ID: id, GrantTypes: []string{"client_credentials"},
			Scopes: []string{"list_items", "order_item"}, AccessTokenFormat: f,
		})
	}
	secrets["web"] = e.client(store.Client{
		ID: "web", Name: "Warehouse Web",
		GrantTypes:   []string{"authorization_code", "refresh_token"},
		RedirectURIs: []string{callback},
		Scopes:       []string{"openid", "profile", "offline_access", "list_items", "order_item"},
	})
	secrets["gateway"] = e.client(store.Client{
		ID: "gateway", GrantTypes: []string{"client_credentials"}, CanIntrospect: true,
	})
	e.user("alice", password, []string{"warehouse_admin"}, map[string]string{"office": "head"})
	e.user("bob", password, []string{"warehouse_staff"}, map[string]string{"office": "regional"})
	return e, secrets
}

func (e *env) introspect(secrets map[string]string, tok string, accept string) (int, map[string]any) {
	hdr := map[string]string{}
	if accept != "" {
		hdr["Accept"] = accept
	}
	st, _, m := e.postForm("/oauth2/introspect", "gateway", secrets["gateway"], url.Values{"token": {tok}}, hdr)
	return st, m
}

// jwtType returns the typ of a compact JWS's protected header.
func jwtType(t *testing.T, raw string) string {
	t.Helper()
	h, _, ok := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	var hdr struct {
		Typ string `json:"typ"`
	}
	if !ok || err != nil || json.Unmarshal(b, &hdr) != nil {
		t.Fatalf("not a compact JWS")
	}
	return hdr.Typ
}

func TestClientCredentialsEveryFormat(t *testing.T) {
	e, secrets := warehouse(t)
	ctx := context.Background()
	keySet := oidc.NewRemoteKeySet(ctx, e.url("/jwks.json"))
	for _, f := range []string{store.FormatOpaque, store.FormatJWT, store.FormatSplit} {
		t.Run(f, func(t *testing.T) {
			cc := clientcredentials.Config{
				ClientID: "service-" + f, ClientSecret: secrets["service-"+f],
				TokenURL: e.url("/oauth2/token"), Scopes: []string{"list_items"},
				AuthStyle: oauth2.AuthStyleInHeader,
			}
			tok, err := cc.Token(ctx)
			if err != nil {
				t.Fatalf("token: %v", err)
			}
			if got := tok.Extra("scope"); got != "list_items" {
				t.Errorf("scope = %v, want list_items", got)
			}
			if tok.RefreshToken != "" {
				t.Error("client credentials must not return a refresh token")
			}
			switch f {
			case store.FormatOpaque:
				if !strings.HasPrefix(tok.AccessToken, token.PrefixAccess) {
					t.Errorf("opaque token %q lacks prefix", tok.AccessToken[:8])
				}
			case store.FormatJWT:
				payload, err := keySet.VerifySignature(ctx, tok.AccessToken)
				if err != nil {
					t.Fatalf("JWT does not verify against the JWKS: %v", err)
				}
				if !strings.Contains(string(payload), `"client_id":"service-jwt"`) {
					t.Errorf("payload lacks client_id: %s", payload)
				}
			case store.FormatSplit:
				if strings.Contains(tok.AccessToken, ".") {
					t.Errorf("split token must be only a signature, got %d dots", strings.Count(tok.AccessToken, "."))
				}
			}
			st, m := e.introspect(secrets, tok.AccessToken, "")
			if st != http.StatusOK || m["active"] != true || m["client_id"] != "service-"+f || m["scope"] != "list_items" {
				t.Fatalf("introspection = %d %v", st, m)
			}
			st, m = e.introspect(secrets, tok.AccessToken, "application/jwt")
			if st != http.StatusOK {
				t.Fatalf("phantom introspection status %d: %v", st, m)
			}
			raw, _ := m["_raw"].(string)
			payload, err := keySet.VerifySignature(ctx, raw)
			if err != nil {
				t.Fatalf("phantom token does not verify: %v", err)
			}
			// RFC 8725 §3.11: the phantom token is typed apart from access
			// tokens, so the gateway can refuse it from a client.
			if typ := jwtType(t, raw); typ != token.TypePhantomJWT {
				t.Errorf("phantom token typ = %q, want %q", typ, token.TypePhantomJWT)
			}
			if f == store.FormatJWT {
				if typ := jwtType(t, tok.AccessToken); typ != token.TypeAccessJWT {
					t.Errorf("access token typ = %q, want %q", typ, token.TypeAccessJWT)
				}
			}
			if !strings.Contains(string(payload), `"scope":"list_items"`) {
				t.Errorf("phantom token payload %s", payload)
			}
			// Revocation (RFC 7009) takes effect at once.
			st, _, _ = e.postForm("/oauth2/revoke", "service-"+f, secrets["service-"+f], url.Values{"token": {tok.AccessToken}}, nil)
			if st != http.StatusOK {
				t.Fatalf("revoke status %d", st)
			}
			if _, m := e.introspect(secrets, tok.AccessToken, ""); len(m) != 1 || m["active"] != false {
				t.Errorf("after revocation introspection = %v, want only active=false", m)
			}
		})
	}
}

func TestAuthorizationCodeFlow(t *testing.T) {
	e, secrets := warehouse(t)
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, e.issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	conf := oauth2.Config{
		ClientID: "web", ClientSecret: secrets["web"], Endpoint: provider.Endpoint(),
		RedirectURL: callback, Scopes: []string{oidc.ScopeOpenID, "profile", "list_items", "order_item"},
	}
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("st-123", oauth2.S256ChallengeOption(verifier), oidc.Nonce("n-456"))
	b := newBrowser(t)
	q := b.login(authURL, "alice", password, "allow")
	if q.Get("state") != "st-123" || q.Get("iss") != e.issuer || q.Get("code") == "" {
		t.Fatalf("authorization response %v", q)
	}
	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if got := tok.Extra("scope"); got != "openid profile list_items order_item" {
		t.Errorf("alice from loopback scope = %q", got)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: "web"}).Verify(ctx, rawID)
	if err != nil {
		t.Fatalf("id token: %v", err)
	}
	if idt.Nonce != "n-456" {
		t.Errorf("nonce = %q", idt.Nonce)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	var claims struct {
		AuthTime int64  `json:"auth_time"`
		Username string `json:"preferred_username"`
	}
	if err := idt.Claims(&claims); err != nil || claims.AuthTime == 0 || claims.Username != "alice" {
		t.Errorf("id token claims %+v, %v", claims, err)
	}
	ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil || ui.Subject != idt.Subject {
		t.Fatalf("userinfo: %v %+v", err, ui)
	}

	// The code is single-use, and reusing it revokes what it produced,
	// even a token the introspection endpoint has just seen.
	if _, m := e.introspect(secrets, tok.AccessToken, ""); m["active"] != true || m["sub"] != idt.Subject {
		t.Fatalf("introspection of alice's token: %v", m)
	}
	if _, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier)); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("reused code: %v, want invalid_grant", err)
	}
	if _, m := e.introspect(secrets, tok.AccessToken, ""); m["active"] != false {
		t.Errorf("access token still active after code reuse")
	}

	// A second login reuses the session and the stored consent.
	verifier = oauth2.GenerateVerifier()
	resp, _ := b.get(conf.AuthCodeURL("s2", oauth2.S256ChallengeOption(verifier)))
	q2 := query(t, resp.Header.Get("Location"))
	tok, err = conf.Exchange(ctx, q2.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("second exchange: %v", err)
	}

	// Refresh rotation, then reuse detection.
	rt1 := tok.RefreshToken
	if rt1 == "" {
		t.Fatal("no refresh token")
	}
	tok2, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: rt1}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if tok2.RefreshToken == "" || tok2.RefreshToken == rt1 {
		t.Fatal("refresh token was not rotated")
	}
	e.clock.Advance(2 * time.Second)
	if _, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: rt1}).Token(); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("reused refresh token: %v, want invalid_grant", err)
	}
	for name, v := range map[string]string{"new access": tok2.AccessToken, "new refresh": tok2.RefreshToken} {
		if _, m := e.introspect(secrets, v, ""); m["active"] != false {
			t.Errorf("%s token still active after refresh reuse", name)
		}
	}
}

func TestIssuancePolicy(t *testing.T) {
	e, secrets := warehouse(t)
	ctx := context.Background()
	conf := oauth2.Config{
		ClientID: "web", ClientSecret: secrets["web"],
		Endpoint:    oauth2.Endpoint{AuthURL: e.url("/oauth2/authorize"), TokenURL: e.url("/oauth2/token")},
		RedirectURL: callback, Scopes: []string{"list_items", "order_item"},
	}
	verifier := oauth2.GenerateVerifier()
	q := newBrowser(t).login(conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), "bob", password, "allow")
	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if got := tok.Extra("scope"); got != "list_items" {
		t.Errorf("bob scope = %q, want list_items", got)
	}
	_, m := e.introspect(secrets, tok.AccessToken, "")
	if m["office"] != "regional" || !slices.Contains(toStrings(m["roles"]), "warehouse_staff") {
		t.Errorf("claims from user: %v", m)
	}
	// Only openid... no scope at all left: invalid_scope on the redirect.
	conf.Scopes = []string{"order_item"}
	q = newBrowser(t).login(conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), "bob", password, "allow")
	if q.Get("error") != "invalid_scope" {
		t.Errorf("bob asking only order_item: %v, want invalid_scope", q)
	}
}

func toStrings(v any) []string {
	var out []string
	if l, ok := v.([]any); ok {
		for _, x := range l {
			s, _ := x.(string)
			out = append(out, s)
		}
	}
	return out
}

func isOAuthError(err error, code string) bool {
	var re *oauth2.RetrieveError
	return errors.As(err, &re) && re.ErrorCode == code
}
