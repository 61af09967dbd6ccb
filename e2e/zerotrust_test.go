package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/pkg/verify"
)

const (
	audOrders = "https://orders.internal"
	audStock  = "https://inventory.internal"
)

// hopReport is what the inventory service saw on the last hop.
type hopReport struct {
	Subject  string   `json:"sub"`
	ClientID string   `json:"client_id"`
	Audience []string `json:"aud"`
	Scopes   []string `json:"scopes"`
	Actors   []string `json:"actors"`
}

// TestZeroTrustChain is the worked example of docs/zero-trust.md, through
// real servers: alice's token reaches the gateway; the gateway exchanges
// it (upstream_token) for one naming the orders service, which verifies
// it with pkg/verify and exchanges it again for the inventory service;
// inventory verifies its own token and sees alice as the subject with
// the chain orders ← gateway in act. Neither service ever receives a
// token meant for another, and alice's own token never leaves the
// gateway.
func TestZeroTrustChain(t *testing.T) {
	// Inventory: verifies, reports what it saw.
	var inventoryURL, ordersSecret, issuerURL string
	// The services' handlers are built once the issuer's URL is known.
	var inventoryH, ordersH http.Handler
	inventory := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { inventoryH.ServeHTTP(w, r) }))
	t.Cleanup(inventory.Close)
	inventoryURL = inventory.URL
	orders := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ordersH.ServeHTTP(w, r) }))
	t.Cleanup(orders.Close)
	inventoryApp := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := verify.FromContext(r.Context())
		rep := hopReport{Subject: c.Subject, ClientID: c.ClientID, Audience: c.Audience, Scopes: c.Scopes}
		for _, a := range c.ActorChain() {
			rep.Actors = append(rep.Actors, a.Subject)
		}
		_ = json.NewEncoder(w).Encode(rep)
	})

	// Orders: verifies the gateway's exchanged token, then exchanges it
	// for inventory (RFC 8693) and calls inventory with the result.
	var ordersSaw hopReport
	ordersApp := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := verify.FromContext(r.Context())
		ordersSaw = hopReport{Subject: c.Subject, ClientID: c.ClientID, Audience: c.Audience}
		for _, a := range c.ActorChain() {
			ordersSaw.Actors = append(ordersSaw.Actors, a.Subject)
		}
		received := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		f := url.Values{"grant_type": {grantTokenExchange}, "subject_token": {received},
			"subject_token_type": {tokenTypeAccess}, "audience": {audStock}}
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, issuerURL+"/oauth2/token", strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("orders", ordersSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		var tr map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&tr)
		resp.Body.Close()
		tok, _ := tr["access_token"].(string)
		if tok == "" {
			w.WriteHeader(http.StatusBadGateway)
			_ = json.NewEncoder(w).Encode(tr)
			return
		}
		call, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, inventoryURL+"/stock", nil)
		call.Header.Set("Authorization", "Bearer "+tok)
		resp, err = http.DefaultClient.Do(call)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	})

	gwSecret, err := clientauth.GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	e, secrets := warehouse(t, func(cfg *config.Config, environ map[string]string) {
		environ["GATEWAY_SECRET"] = gwSecret
		cfg.Tokens.DefaultAudience = apiAudience
		cfg.TokenExchange = config.TokenExchange{
			Enabled: true,
			Rules: []config.ExchangeRule{
				{Name: "gateway-to-orders", Clients: []string{"gateway"}, Audiences: []string{audOrders},
					Scopes: []string{"list_items", "order_item"}},
				{Name: "orders-to-inventory", Clients: []string{"orders"}, Audiences: []string{audStock},
					Scopes: []string{"list_items"}, Condition: `subject.scopes.exists(s, s == "list_items")`},
			},
		}
		cfg.Gateway = config.Gateway{
			Issuers: []config.Issuer{{Issuer: "http://127.0.0.1:0", ClientID: "gateway", ClientSecretEnv: "GATEWAY_SECRET"}},
			APIs: []config.API{{
				Name: "orders", BasePath: "/orders", Upstream: orders.URL,
				Audiences: []string{apiAudience},
				Operations: []config.Operation{
					{Method: "GET", Path: "/mine", Scopes: []string{"list_items"}},
					{Method: "GET", Path: "/health", Public: true},
				},
				UpstreamToken: &catalog.UpstreamToken{Mode: catalog.UpstreamTokenExchange,
					Audience: []string{audOrders}, Scope: []string{"list_items"}},
			}},
		}
	})
	issuerURL = e.issuer
	inventoryH = verified(t, issuerURL, audStock, inventoryApp)
	ordersH = verified(t, issuerURL, audOrders, ordersApp)
	exchange := []string{"client_credentials", grantTokenExchange}
	if err := e.db.DeleteClient(context.Background(), "gateway"); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	// The gateway's client: introspects, and exchanges callers' tokens;
	// its tokens are JWTs so the services behind it verify them locally.
	if err := e.db.CreateClient(context.Background(), store.Client{
		ID: "gateway", AuthMethod: store.AuthSecretBasic, GrantTypes: exchange,
		SecretDigest: clientauth.DigestSecret(e.secretKey, gwSecret), CanIntrospect: true,
		AccessTokenFormat: store.FormatJWT, CreatedAt: now, UpdatedAt: now,
	}); err != nil {
		t.Fatal(err)
	}
	secrets["gateway"] = gwSecret
	ordersSecret = e.client(store.Client{ID: "orders", GrantTypes: exchange, AccessTokenFormat: store.FormatJWT})

	// alice signs in at the web app with x/oauth2 (code flow + PKCE).
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, e.issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	conf := oauth2.Config{ClientID: "web", ClientSecret: secrets["web"], Endpoint: provider.Endpoint(),
		RedirectURL: callback, Scopes: []string{"list_items"}}
	pv := oauth2.GenerateVerifier()
	q := newBrowser(t).login(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(pv)), "alice", password, "allow")
	userTok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(pv))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	_, intro := e.introspect(secrets, userTok.AccessToken, "")
	alice, _ := intro["sub"].(string)

	req, _ := http.NewRequest(http.MethodGet, e.gatewayURL+"/orders/mine", nil)
	req.Header.Set("Authorization", "Bearer "+userTok.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("gateway → orders → inventory: %d %s", resp.StatusCode, body)
	}
	var last hopReport
	if err := json.Unmarshal(body, &last); err != nil {
		t.Fatalf("inventory answer %s: %v", body, err)
	}
	want := hopReport{Subject: alice, ClientID: "orders", Audience: []string{audStock}, Scopes: []string{"list_items"},
		Actors: []string{"orders", "gateway"}}
	if diff := cmp.Diff(want, last); diff != "" {
		t.Errorf("inventory saw (-want +got):\n%s", diff)
	}
	wantOrders := hopReport{Subject: alice, ClientID: "gateway", Audience: []string{audOrders}, Actors: []string{"gateway"}}
	if diff := cmp.Diff(wantOrders, ordersSaw); diff != "" {
		t.Errorf("orders saw (-want +got):\n%s", diff)
	}

	// alice's own token is not good at the orders service directly: its
	// audience is the gateway's API, not orders.
	direct, _ := http.NewRequest(http.MethodGet, orders.URL+"/mine", nil)
	direct.Header.Set("Authorization", "Bearer "+userTok.AccessToken)
	resp, err = http.DefaultClient.Do(direct)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("alice's token straight at orders: %d, want 401", resp.StatusCode)
	}
}

// verified puts h behind pkg/verify's middleware for tokens of issuer
// naming aud: what each service of the chain does on its side.
func verified(t *testing.T, issuer, aud string, h http.Handler) http.Handler {
	t.Helper()
	v, err := verify.New(verify.Config{Issuer: issuer, Audience: aud})
	if err != nil {
		t.Fatal(err)
	}
	m, err := verify.NewMiddleware(v, verify.MiddlewareConfig{Realm: aud}, h)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
