package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/portcullis/portcullis/internal/admin"
	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/store"
)

// adminCall sends a request to the admin API with tok as bearer token.
func (e *env) adminCall(method, path, tok, body string) (*http.Response, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.adminURL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, b
}

// TestAdminAPIWithIssuedTokens: an admin client gets a token from the
// node's own token endpoint (client credentials, golang.org/x/oauth2),
// creates a client through the admin API, and the audit trail names the
// admin client as the actor. Tokens of the wrong role, audience or format,
// and expired ones, are refused.
func TestAdminAPIWithIssuedTokens(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	adminClient := func(id, scope, format string, aud []string) clientcredentials.Config {
		secret := e.client(store.Client{
			ID: id, GrantTypes: []string{"client_credentials"}, Scopes: []string{scope},
			Audience: aud, AccessTokenFormat: format,
		})
		return clientcredentials.Config{
			ClientID: id, ClientSecret: secret, TokenURL: e.url("/oauth2/token"),
			Scopes: []string{scope}, AuthStyle: oauth2.AuthStyleInHeader,
		}
	}
	adminAud := []string{admin.Audience}
	ops := adminClient("ops", string(admin.RolePlatform), store.FormatJWT, adminAud)
	auditor := adminClient("auditor", string(admin.RoleAuditor), store.FormatJWT, adminAud)
	elsewhere := adminClient("elsewhere", string(admin.RolePlatform), store.FormatJWT, nil)
	opaque := adminClient("opaque-ops", string(admin.RolePlatform), store.FormatOpaque, adminAud)

	// Create a client through the oauth2 client's own transport.
	hc := ops.Client(ctx)
	resp, err := hc.Post(e.adminURL+"/admin/v1/clients", "application/json",
		strings.NewReader(`{"client_id":"reports","grant_types":["client_credentials"],"scope":"list_items"}`))
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	err = json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated || created.ClientID != "reports" || created.ClientSecret == "" || resp.Header.Get("ETag") == "" {
		t.Fatalf("create client: %d %+v %v", resp.StatusCode, created, err)
	}
	reqID := resp.Header.Get("X-Request-Id")
	// The one-time secret works at the token endpoint.
	reports := clientcredentials.Config{ClientID: "reports", ClientSecret: created.ClientSecret,
		TokenURL: e.url("/oauth2/token"), AuthStyle: oauth2.AuthStyleInHeader}
	if _, err := reports.Token(ctx); err != nil {
		t.Fatalf("token of the created client: %v", err)
	}
	// Reading it back never shows the secret.
	opsTok, err := ops.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := e.adminCall("GET", "/admin/v1/clients/reports", opsTok.AccessToken, ""); resp.StatusCode != 200 || strings.Contains(string(body), `"client_secret":`) {
		t.Errorf("get client: %d %s", resp.StatusCode, body)
	}

	// The audit trail, as `portcullis audit export` reads it.
	recs, _, err := audit.New(e.db, nil).List(ctx, audit.Filter{Action: "client.create", TargetID: "reports"}, 0, 0)
	if err != nil || len(recs) != 1 {
		t.Fatalf("audit records: %v %v", recs, err)
	}
	r := recs[0]
	if r.Actor.Kind != audit.KindClient || r.Actor.ClientID != "ops" || r.Actor.Subject != "ops" ||
		!slices.Equal(r.Actor.Roles, []string{string(admin.RolePlatform)}) || r.SourceIP != "127.0.0.1" || r.RequestID != reqID {
		t.Errorf("audit record = %+v, want actor client ops with admin:platform from 127.0.0.1, request %s", r, reqID)
	}
	// And through the admin API, with an auditor's token.
	audTok, err := auditor.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	resp2, body := e.adminCall("GET", "/admin/v1/audit?actor=ops&action=client.*&target=client:reports", audTok.AccessToken, "")
	var page struct {
		Items []audit.Record `json:"items"`
	}
	if err := json.Unmarshal(body, &page); err != nil || resp2.StatusCode != 200 || len(page.Items) != 1 || page.Items[0].Hash != r.Hash {
		t.Errorf("audit via the API: %d %s", resp2.StatusCode, body)
	}

	// Users, keys and a conditional delete on the real services.
	for _, c := range []struct {
		method, path, body string
		want               int
	}{
		{"POST", "/admin/v1/users", `{"username":"carol","password":"correct horse battery","roles":["warehouse_staff"]}`, 201},
		{"POST", "/admin/v1/users", `{"username":"carol"}`, 409},
		{"POST", "/admin/v1/users", `{"username":"dave","password":"x"}`, 400},
		{"GET", "/admin/v1/users/carol", "", 200},
		{"GET", "/admin/v1/keys", "", 200},
		{"POST", "/admin/v1/keys/rotate", `{"uses":["access"]}`, 200},
		{"POST", "/admin/v1/keys/rotate", `{"uses":["bogus"]}`, 400},
		{"POST", "/admin/v1/clients/reports/rotate-secret", "", 200},
		{"DELETE", "/admin/v1/users/carol", "", 204},
	} {
		if resp, body := e.adminCall(c.method, c.path, opsTok.AccessToken, c.body); resp.StatusCode != c.want {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, resp.StatusCode, body, c.want)
		}
	}
	for _, action := range []string{"user.create", "user.delete", "key.rotate", "client.rotate-secret"} {
		recs, _, err := audit.New(e.db, nil).List(ctx, audit.Filter{Action: action}, 0, 0)
		if err != nil || len(recs) != 1 || recs[0].Actor.ClientID != "ops" || recs[0].Actor.Kind != audit.KindClient {
			t.Errorf("%s records: %+v %v", action, recs, err)
		}
	}

	// Refusals.
	elseTok, err := elsewhere.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	opaqueTok, err := opaque.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, method, path, tok, challenge string
		want                               int
	}{
		{"auditor may not create", "POST", "/admin/v1/clients", audTok.AccessToken, `error="insufficient_scope"`, 403},
		{"no token", "GET", "/admin/v1/clients", "", `Bearer realm="portcullis-admin"`, 401},
		{"wrong audience", "GET", "/admin/v1/clients", elseTok.AccessToken, `error="invalid_token"`, 401},
		{"opaque token", "GET", "/admin/v1/clients", opaqueTok.AccessToken, `error="invalid_token"`, 401},
	} {
		resp, body := e.adminCall(tc.method, tc.path, tc.tok, `{"client_id":"x"}`)
		if resp.StatusCode != tc.want || !strings.Contains(resp.Header.Get("WWW-Authenticate"), tc.challenge) ||
			resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %q %s", tc.name, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
		}
	}
	// A JWT outlives nothing it depends on: deleting the admin client
	// (conditionally, with the ETag just read) stops its tokens at once.
	resp3, _ := e.adminCall("GET", "/admin/v1/clients/auditor", opsTok.AccessToken, "")
	req, _ := http.NewRequest("DELETE", e.adminURL+"/admin/v1/clients/auditor", nil)
	req.Header.Set("Authorization", "Bearer "+opsTok.AccessToken)
	req.Header.Set("If-Match", resp3.Header.Get("ETag"))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete auditor client: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if resp, _ := e.adminCall("GET", "/admin/v1/audit", audTok.AccessToken, ""); resp.StatusCode != 401 {
		t.Errorf("token of a deleted admin client: %d, want 401", resp.StatusCode)
	}
	if resp, _ := e.adminCall("GET", "/admin/v1/clients", opsTok.AccessToken, ""); resp.StatusCode != 200 {
		t.Fatalf("list clients before expiry: %d", resp.StatusCode)
	}
	// A revoked admin token (RFC 7009) stops at once, though its
	// signature and expiry are still good.
	revoked, err := ops.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := e.adminCall("GET", "/admin/v1/clients", revoked.AccessToken, ""); resp.StatusCode != 200 {
		t.Fatalf("second ops token before revocation: %d", resp.StatusCode)
	}
	if st, _, _ := e.postForm("/oauth2/revoke", "ops", ops.ClientSecret, url.Values{"token": {revoked.AccessToken}}, nil); st != http.StatusOK {
		t.Fatalf("revoke: %d", st)
	}
	if resp, _ := e.adminCall("GET", "/admin/v1/clients", revoked.AccessToken, ""); resp.StatusCode != 401 {
		t.Errorf("revoked admin token: %d, want 401", resp.StatusCode)
	}
	e.clock.Advance(24 * time.Hour)
	if resp, _ := e.adminCall("GET", "/admin/v1/clients", opsTok.AccessToken, ""); resp.StatusCode != 401 ||
		!strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("expired token: %d %q, want 401 invalid_token", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}
