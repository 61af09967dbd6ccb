package e2e

import (
	"context"
	"testing"

	"golang.org/x/oauth2"

	"github.com/portcullis/portcullis/internal/store"
)

// TestCodeAndRefreshBoundToClientFirst: a public client that knows only
// its own client_id presents another client's code, then its refresh
// token. Both are refused, and neither is spent: the rightful client's
// exchange and refresh still work, and no token family is revoked
// (RFC 6749 §4.1.3 and §6 bind them to the client before they are used).
func TestCodeAndRefreshBoundToClientFirst(t *testing.T) {
	e, secrets := warehouse(t)
	e.client(store.Client{
		ID: "intruder", AuthMethod: store.AuthNone,
		GrantTypes:   []string{"authorization_code", "refresh_token"},
		RedirectURIs: []string{callback},
		Scopes:       []string{"openid", "offline_access", "list_items"},
	})
	ctx := context.Background()
	endpoint := oauth2.Endpoint{AuthURL: e.url("/oauth2/authorize"), TokenURL: e.url("/oauth2/token"), AuthStyle: oauth2.AuthStyleInHeader}
	web := oauth2.Config{ClientID: "web", ClientSecret: secrets["web"], Endpoint: endpoint, RedirectURL: callback,
		Scopes: []string{"openid", "offline_access", "list_items"}}
	intruder := oauth2.Config{ClientID: "intruder", Endpoint: oauth2.Endpoint{
		AuthURL: endpoint.AuthURL, TokenURL: endpoint.TokenURL, AuthStyle: oauth2.AuthStyleInParams,
	}, RedirectURL: callback}

	verifier := oauth2.GenerateVerifier()
	q := newBrowser(t).login(web.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)), "alice", password, "allow")
	code := q.Get("code")
	if code == "" {
		t.Fatalf("authorization response %v", q)
	}
	if _, err := intruder.Exchange(ctx, code, oauth2.VerifierOption(verifier)); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("another client's code: %v, want invalid_grant", err)
	}
	tok, err := web.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("the rightful client's exchange after the intruder's attempt: %v", err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token")
	}

	if _, err := intruder.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("another client's refresh token: %v, want invalid_grant", err)
	}
	if _, m := e.introspect(secrets, tok.AccessToken, ""); m["active"] != true {
		t.Fatalf("the family was revoked by another client's refresh attempt: %v", m)
	}
	tok2, err := web.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("the rightful client's refresh after the intruder's attempt: %v", err)
	}
	if _, m := e.introspect(secrets, tok2.AccessToken, ""); m["active"] != true {
		t.Errorf("the refreshed token is not active: %v", m)
	}
}
