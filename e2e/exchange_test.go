package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/store"
)

const (
	grantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	tokenTypeAccess    = "urn:ietf:params:oauth:token-type:access_token"
	audInventory       = "https://inventory.example"
	audBilling         = "https://billing.example"
)

// withTokenExchange turns token exchange on: orders may reach inventory
// for list_items when the subject token has it; inventory may pass the
// call on to billing.
func withTokenExchange(cfg *config.Config, _ map[string]string) {
	cfg.TokenExchange = config.TokenExchange{
		Enabled: true,
		Rules: []config.ExchangeRule{
			{Name: "orders-to-inventory", Clients: []string{"orders"}, Audiences: []string{audInventory},
				Scopes: []string{"list_items"}, Condition: `subject.scopes.exists(s, s == "list_items")`},
			{Name: "inventory-to-billing", Clients: []string{"inventory"}, Audiences: []string{audBilling},
				Scopes: []string{"list_items"}, Condition: `actor.sub == client.id`},
		},
	}
}

// TestTokenExchangeOverHTTP logs alice in, has the orders service
// exchange her token for one at inventory, and inventory exchange that
// for one at billing: introspection and the phantom token carry the act
// chain of RFC 8693 §4.1.
func TestTokenExchangeOverHTTP(t *testing.T) {
	e, secrets := warehouse(t, withTokenExchange)
	both := []string{"client_credentials", grantTokenExchange}
	secrets["orders"] = e.client(store.Client{ID: "orders", GrantTypes: both})
	secrets["inventory"] = e.client(store.Client{ID: "inventory", GrantTypes: both, AccessTokenFormat: store.FormatSplit})
	ctx := context.Background()

	// Discovery lists the grant.
	resp, err := http.Get(e.url("/.well-known/openid-configuration"))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		GrantTypes []string `json:"grant_types_supported"`
	}
	err = json.NewDecoder(resp.Body).Decode(&meta)
	resp.Body.Close()
	if err != nil || !slices.Contains(meta.GrantTypes, grantTokenExchange) {
		t.Errorf("grant_types_supported = %v (%v), want token exchange listed", meta.GrantTypes, err)
	}

	// alice signs in at the web app.
	provider, err := oidc.NewProvider(ctx, e.issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	conf := oauth2.Config{ClientID: "web", ClientSecret: secrets["web"], Endpoint: provider.Endpoint(),
		RedirectURL: callback, Scopes: []string{"list_items", "order_item"}}
	verifier := oauth2.GenerateVerifier()
	q := newBrowser(t).login(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)), "alice", password, "allow")
	userTok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	_, alice := e.introspect(secrets, userTok.AccessToken, "")
	aliceID, _ := alice["sub"].(string)

	// Widening is refused.
	st, _, m := e.postForm("/oauth2/token", "orders", secrets["orders"], url.Values{
		"grant_type": {grantTokenExchange}, "subject_token": {userTok.AccessToken},
		"subject_token_type": {tokenTypeAccess}, "audience": {audInventory}, "scope": {"list_items order_item"},
	}, nil)
	if st != http.StatusBadRequest || m["error"] != "invalid_scope" {
		t.Errorf("widening exchange: %d %v, want invalid_scope", st, m)
	}

	// Hop 1: orders acts for alice at inventory.
	st, _, first := e.postForm("/oauth2/token", "orders", secrets["orders"], url.Values{
		"grant_type": {grantTokenExchange}, "subject_token": {userTok.AccessToken},
		"subject_token_type": {tokenTypeAccess}, "audience": {audInventory},
	}, nil)
	if st != http.StatusOK {
		t.Fatalf("first exchange: %d %v", st, first)
	}
	if first["issued_token_type"] != tokenTypeAccess || first["token_type"] != "Bearer" || first["scope"] != "list_items" {
		t.Errorf("first exchange response %v", first)
	}
	if _, ok := first["refresh_token"]; ok {
		t.Error("exchange issued a refresh token")
	}
	firstTok := first["access_token"].(string)
	_, intro := e.introspect(secrets, firstTok, "")
	if diff := cmp.Diff(map[string]any{"sub": "orders"}, intro["act"]); diff != "" {
		t.Errorf("introspection act mismatch (-want +got):\n%s", diff)
	}
	if intro["sub"] != aliceID || intro["aud"] != audInventory || intro["client_id"] != "orders" {
		t.Errorf("introspection = %v, want alice's token for inventory held by orders", intro)
	}

	// Hop 2: inventory passes the call on to billing.
	st, _, second := e.postForm("/oauth2/token", "inventory", secrets["inventory"], url.Values{
		"grant_type": {grantTokenExchange}, "subject_token": {firstTok},
		"subject_token_type": {tokenTypeAccess}, "resource": {audBilling},
	}, nil)
	if st != http.StatusOK {
		t.Fatalf("second exchange: %d %v", st, second)
	}
	secondTok := second["access_token"].(string)
	wantAct := map[string]any{"sub": "inventory", "act": map[string]any{"sub": "orders"}}
	_, intro = e.introspect(secrets, secondTok, "")
	if diff := cmp.Diff(wantAct, intro["act"]); diff != "" {
		t.Errorf("introspection act mismatch (-want +got):\n%s", diff)
	}
	st, ph := e.introspect(secrets, secondTok, "application/jwt")
	raw, _ := ph["_raw"].(string)
	if st != http.StatusOK || raw == "" {
		t.Fatalf("phantom token: %d %v", st, ph)
	}
	claims := jwtClaims(t, raw)
	if diff := cmp.Diff(wantAct, claims["act"]); diff != "" {
		t.Errorf("phantom act mismatch (-want +got):\n%s", diff)
	}
	if claims["sub"] != aliceID || claims["aud"] != audBilling {
		t.Errorf("phantom claims = %v, want alice's token for billing", claims)
	}

	// A revoked subject token exchanges no more (RFC 8693 §2.2.2).
	if st, _, _ := e.postForm("/oauth2/revoke", "web", secrets["web"], url.Values{"token": {userTok.AccessToken}}, nil); st != http.StatusOK {
		t.Fatalf("revoke: %d", st)
	}
	st, _, m = e.postForm("/oauth2/token", "orders", secrets["orders"], url.Values{
		"grant_type": {grantTokenExchange}, "subject_token": {userTok.AccessToken},
		"subject_token_type": {tokenTypeAccess}, "audience": {audInventory},
	}, nil)
	if st != http.StatusBadRequest || m["error"] != "invalid_request" {
		t.Errorf("exchange of a revoked token: %d %v, want invalid_request", st, m)
	}
}
