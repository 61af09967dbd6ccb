package e2e

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/portcullis/portcullis/internal/store"
)

const signedOutURI = "http://127.0.0.1:9999/signed-out"

// TestRPInitiatedLogout drives OpenID Connect RP-Initiated Logout 1.0
// through the real server: a web app signs alice in with go-oidc and
// x/oauth2, finds the end_session_endpoint in discovery, and sends her
// browser there, once with the ID token as hint (the session ends at once
// even though the ID token has expired by then) and once with its
// client_id only (she confirms on the issuer's page first). Each time the
// browser comes back to the registered post-logout URI with state, and
// the next authorization request asks for the password again.
func TestRPInitiatedLogout(t *testing.T) {
	e, secrets := warehouse(t)
	secrets["logout-app"] = e.client(store.Client{
		ID: "logout-app", Name: "Logout App",
		GrantTypes:             []string{"authorization_code", "refresh_token"},
		RedirectURIs:           []string{callback},
		PostLogoutRedirectURIs: []string{signedOutURI},
		Scopes:                 []string{"openid", "profile"},
		SkipConsent:            true,
	})
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, e.issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := provider.Claims(&meta); err != nil || meta.EndSession != e.url("/oauth2/logout") {
		t.Fatalf("end_session_endpoint = %q (%v), want %s", meta.EndSession, err, e.url("/oauth2/logout"))
	}
	conf := oauth2.Config{
		ClientID: "logout-app", ClientSecret: secrets["logout-app"], Endpoint: provider.Endpoint(),
		RedirectURL: callback, Scopes: []string{oidc.ScopeOpenID, "profile"},
	}
	b := newBrowser(t)
	signIn := func() (idToken, accessToken string) {
		t.Helper()
		verifier := oauth2.GenerateVerifier()
		q := b.login(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)), "alice", password, "allow")
		tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		raw, _ := tok.Extra("id_token").(string)
		if _, err := provider.Verifier(&oidc.Config{ClientID: "logout-app", Now: e.clock.Now}).Verify(ctx, raw); err != nil {
			t.Fatalf("id token: %v", err)
		}
		return raw, tok.AccessToken
	}
	// asksForPassword reports whether an authorization request shows the
	// login form rather than coming straight back with a code.
	asksForPassword := func() bool {
		t.Helper()
		resp, page := b.get(conf.AuthCodeURL("again", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		return resp.StatusCode == http.StatusOK && strings.Contains(page, `name="password"`)
	}
	wantBack := func(resp *http.Response, state string) {
		t.Helper()
		loc := resp.Header.Get("Location")
		if resp.StatusCode/100 != 3 || loc != signedOutURI+"?state="+state {
			t.Fatalf("logout answered %d to %q, want a redirect to %s?state=%s", resp.StatusCode, loc, signedOutURI, state)
		}
	}

	// 1. With the ID token as hint, after it has expired.
	idToken, _ := signIn()
	if asksForPassword() {
		t.Fatal("a signed-in user was asked for the password")
	}
	e.clock.Advance(2 * time.Hour)
	resp, _ := b.get(meta.EndSession + "?" + url.Values{
		"id_token_hint": {idToken}, "post_logout_redirect_uri": {signedOutURI}, "state": {"bye-1"},
	}.Encode())
	wantBack(resp, "bye-1")
	if !asksForPassword() {
		t.Error("after the logout the authorization endpoint did not ask for the password")
	}

	// 2. With the client_id only: nothing ends until alice confirms.
	signIn()
	resp, page := b.get(meta.EndSession + "?" + url.Values{
		"client_id": {"logout-app"}, "post_logout_redirect_uri": {signedOutURI}, "state": {"bye-2"},
	}.Encode())
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Sign out?") {
		t.Fatalf("logout without hint: %d, want the confirmation page:\n%s", resp.StatusCode, page)
	}
	action, fields := form(t, page)
	// Another site's copy of the form, posted from the victim's browser
	// without the issuer's CSRF cookie, ends nothing.
	forged := newBrowser(t)
	if resp, _ := forged.post(action, fields); resp.StatusCode != http.StatusForbidden {
		t.Errorf("confirmation without the CSRF cookie: %d, want 403", resp.StatusCode)
	}
	if asksForPassword() {
		t.Fatal("the session ended before alice confirmed")
	}
	resp, _ = b.post(action, fields)
	wantBack(resp, "bye-2")
	if !asksForPassword() {
		t.Error("after the confirmed logout the authorization endpoint did not ask for the password")
	}

	// 3. A post_logout_redirect_uri the client did not register: signed
	// out, but no redirect.
	idToken, access := signIn()
	resp, page = b.get(meta.EndSession + "?" + url.Values{
		"id_token_hint": {idToken}, "post_logout_redirect_uri": {"https://evil.example/"},
	}.Encode())
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" || !strings.Contains(page, "You are signed out") {
		t.Errorf("unregistered post-logout URI: %d to %q, want the signed-out page", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The logout ends the login session only: the app's tokens are its
	// own to revoke (RFC 7009), so its access token stays active.
	if _, m := e.introspect(secrets, access, ""); m["active"] != true {
		t.Errorf("introspection after logout: %v, want the app's token still active", m)
	}
}
