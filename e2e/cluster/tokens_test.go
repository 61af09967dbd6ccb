package cluster

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// tokensAcrossNodes: a token issued by one authorization server is known
// to the other (one store) and accepted by every gateway.
func tokensAcrossNodes(t *testing.T, c *Cluster) {
	ctx := t.Context()
	for _, client := range []string{OpaqueClient, JWTClient} {
		tok, err := c.Token(ctx, c.Authz[0].AuthzURL, client)
		if err != nil {
			t.Fatal(err)
		}
		active, err := c.Introspect(ctx, c.Authz[1].AuthzURL, tok)
		if err != nil {
			t.Fatal(err)
		}
		if !active {
			t.Errorf("%s: a token issued by authz-1 is inactive at authz-2", client)
		}
		for _, g := range c.Gateways {
			code, err := Call(ctx, g.GatewayURL, "/api/items", tok, nil)
			if err != nil || code != http.StatusOK {
				t.Errorf("%s: %s answered %d (%v) to a token of authz-1, want 200", client, g.Name, code, err)
			}
		}
	}
}

// refreshFamilyAcrossNodes: a family started on authz-1 (authorization
// code with PKCE, through the login page) is refreshed on authz-2, which
// rotates it; the old refresh token presented again at authz-1 is a reuse
// (RFC 9700 §4.14.2), which revokes the whole family, at every node and
// every gateway.
func refreshFamilyAcrossNodes(t *testing.T, c *Cluster) {
	ctx := t.Context()
	a1, a2 := c.Authz[0].AuthzURL, c.Authz[1].AuthzURL
	verifier, challenge := pkce(t)
	q := url.Values{
		"response_type": {"code"}, "client_id": {SPAClient}, "redirect_uri": {RedirectURI},
		"scope": {"openid list_items offline_access"}, "state": {"st-1"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}
	got := newBrowser(t).login(a1+"/oauth2/authorize?"+q.Encode(), UserName, UserPassword)
	if got.Get("state") != "st-1" || got.Get("code") == "" {
		t.Fatalf("authorization response %v", got)
	}
	code, _, tok, err := Form(ctx, a1+"/oauth2/token", "", "", url.Values{
		"grant_type": {"authorization_code"}, "code": {got.Get("code")}, "client_id": {SPAClient},
		"redirect_uri": {RedirectURI}, "code_verifier": {verifier},
	})
	if err != nil || code != http.StatusOK {
		t.Fatalf("code exchange at authz-1: %d %v %v", code, tok, err)
	}
	rt1, _ := tok["refresh_token"].(string)
	at1, _ := tok["access_token"].(string)
	if rt1 == "" || at1 == "" {
		t.Fatalf("code exchange returned no refresh or access token: %v", tok)
	}
	refresh := func(base, rt string) (int, map[string]any) {
		code, _, m, err := Form(ctx, base+"/oauth2/token", "", "", url.Values{
			"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {SPAClient},
		})
		if err != nil {
			t.Fatal(err)
		}
		return code, m
	}
	code, tok2 := refresh(a2, rt1)
	rt2, _ := tok2["refresh_token"].(string)
	at2, _ := tok2["access_token"].(string)
	if code != http.StatusOK || rt2 == "" || rt2 == rt1 {
		t.Fatalf("refresh at authz-2 of a family from authz-1: %d %v, want 200 and a rotated refresh token", code, tok2)
	}
	for _, g := range c.Gateways {
		if code, err := Call(ctx, g.GatewayURL, "/api/items", at2, nil); err != nil || code != http.StatusOK {
			t.Errorf("%s answered %d (%v) to the refreshed access token, want 200", g.Name, code, err)
		}
	}
	// The rotated-out token, back at the first node: reuse.
	if code, m := refresh(a1, rt1); code != http.StatusBadRequest || m["error"] != "invalid_grant" {
		t.Errorf("reused refresh token at authz-1: %d %v, want 400 invalid_grant", code, m)
	}
	if code, m := refresh(a2, rt2); code != http.StatusBadRequest || m["error"] != "invalid_grant" {
		t.Errorf("newest refresh token after the family's reuse: %d %v, want 400 invalid_grant (family revoked)", code, m)
	}
	for _, at := range []string{at1, at2} {
		for _, a := range c.Authz {
			if active, err := c.Introspect(ctx, a.AuthzURL, at); err != nil || active {
				t.Errorf("%s: an access token of the revoked family is active=%v (%v)", a.Name, active, err)
			}
		}
	}
	// The gateways cached at2 above; the revocation notice drops it.
	deadline := time.Now().Add(revocationBound)
	for _, g := range c.Gateways {
		for {
			code, err := Call(ctx, g.GatewayURL, "/api/items", at2, nil)
			if err == nil && code == http.StatusUnauthorized {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("%s still answers %d (%v) to an access token of the revoked family", g.Name, code, err)
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
