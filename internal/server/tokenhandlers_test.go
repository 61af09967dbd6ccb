package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/tokenhandler"
)

// spaOrigin is the test app's origin (development mode: plain http on
// loopback).
const spaOrigin = "http://127.0.0.1:5173"

func testSPA(name, prefix, issuer string) tokenhandler.SPA {
	spa := tokenhandler.SPA{
		Name:            name,
		PathPrefix:      prefix,
		AllowedOrigins:  []string{spaOrigin},
		Issuer:          issuer,
		ClientID:        "warehouse-bff",
		ClientSecretEnv: "SPA_SECRET",
		RedirectURI:     spaOrigin + "/",
		CookieKeys:      []tokenhandler.CookieKey{{ID: "k1", Env: "SPA_KEY"}},
	}
	spa.ApplyDefaults()
	return spa
}

func spaEnv(name string) string {
	switch name {
	case "SPA_SECRET":
		return "secret"
	case "SPA_KEY":
		return base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))
	}
	return ""
}

// agentCall posts to an agent endpoint from the SPA's origin.
func agentCall(t *testing.T, method, url string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", spaOrigin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

// TestTokenHandlerOnTheGateway: the gateway section's agents are served
// on the gateway listener, follow the node's derived issuer, and are
// swapped by a reload of the section, which a missing secret refuses
// whole.
func TestTokenHandlerOnTheGateway(t *testing.T) {
	cfg := testConfig(t)
	// The issuer is derived from the bound address; an agent naming it
	// follows it there.
	cfg.Issuer = "http://" + cfg.Listen.Authz
	cfg.Gateway.TokenHandler.SPAs = []tokenhandler.SPA{testSPA("warehouse", "/bff/warehouse", cfg.Issuer)}
	r := startTest(t, cfg, WithGetenv(spaEnv))

	status, body := agentCall(t, http.MethodGet, r.GatewayURL+"/bff/warehouse/session")
	if status != http.StatusOK || body["isLoggedIn"] != false {
		t.Fatalf("session: %d %v", status, body)
	}
	status, body = agentCall(t, http.MethodPost, r.GatewayURL+"/bff/warehouse/login/start")
	if u, _ := body["authorizationRequestUrl"].(string); status != http.StatusOK || !strings.HasPrefix(u, r.Issuer+"/oauth2/authorize?") {
		t.Fatalf("login/start: %d %v, want an authorization URL of %s", status, body, r.Issuer)
	}

	reload := func(spas ...tokenhandler.SPA) error {
		gw := r.wiring.cfg.Gateway
		gw.TokenHandler = tokenhandler.Config{SPAs: spas}
		if err := gw.Validate(); err != nil {
			t.Fatalf("gateway section: %v", err)
		}
		return r.ReloadGateway(context.Background(), gw)
	}
	broken := testSPA("warehouse", "/bff/warehouse", r.Issuer)
	broken.ClientSecretEnv = "UNSET"
	if err := reload(broken); err == nil || !strings.Contains(err.Error(), "UNSET") {
		t.Fatalf("reload with an unset secret: %v, want it refused naming the variable", err)
	}
	if status, _ := agentCall(t, http.MethodGet, r.GatewayURL+"/bff/warehouse/session"); status != http.StatusOK {
		t.Errorf("after a refused reload the agent answers %d", status)
	}

	if err := reload(testSPA("shop", "/bff/shop", r.Issuer)); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if status, _ := agentCall(t, http.MethodGet, r.GatewayURL+"/bff/shop/session"); status != http.StatusOK {
		t.Errorf("the new agent answers %d", status)
	}
	if status, _ := agentCall(t, http.MethodGet, r.GatewayURL+"/bff/warehouse/session"); status != http.StatusNotFound {
		t.Errorf("the removed agent answers %d, want the gateway's 404", status)
	}
	if err := reload(); err != nil {
		t.Fatalf("reload without agents: %v", err)
	}
	if status, _ := agentCall(t, http.MethodGet, r.GatewayURL+"/bff/shop/session"); status != http.StatusNotFound {
		t.Errorf("without agents: %d, want 404", status)
	}
}
