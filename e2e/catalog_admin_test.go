package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/portcullis/portcullis/internal/admin"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/store"
)

// TestCatalogThroughTheAdminAPI: a publisher's automation (client
// credentials through golang.org/x/oauth2) creates an API version in the
// stored catalog, publishes it, and the gateway serves it; it deprecates
// it and the gateway's answers, its own and the upstream's, carry
// Deprecation and Sunset; every step is in the audit trail under the
// publisher's name; an auditor may read but not write.
func TestCatalogThroughTheAdminAPI(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "inventory:"+r.URL.Path)
	}))
	t.Cleanup(upstream.Close)
	e := start(t, func(cfg *config.Config, _ map[string]string) {
		cfg.Gateway.CatalogPoll = config.Duration(100 * time.Millisecond)
		// JWTs of this node's issuer (its address is bound at start).
		cfg.Gateway.Issuers = []config.Issuer{{Issuer: "http://127.0.0.1:0"}}
	})
	ctx := context.Background()
	roleClient := func(id string, role admin.Role) *http.Client {
		secret := e.client(store.Client{
			ID: id, GrantTypes: []string{"client_credentials"}, Scopes: []string{string(role)},
			Audience: []string{admin.Audience}, AccessTokenFormat: store.FormatJWT,
		})
		cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: e.url("/oauth2/token"),
			Scopes: []string{string(role)}, AuthStyle: oauth2.AuthStyleInHeader}
		return cc.Client(ctx)
	}
	publisher := roleClient("publisher-bot", admin.RolePublisher)
	auditor := roleClient("auditor-bot", admin.RoleAuditor)
	do := func(hc *http.Client, method, path, body string, hdr map[string]string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, e.adminURL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}

	const path = "/admin/v1/apis/inventory/versions/v1"
	body := `{"base_path":"/inventory/v1","upstream":"` + upstream.URL + `","audiences":["inventory"],"tokens":["jwt"],
		"operations":[{"method":"GET","path":"/stock","public":true},{"method":"GET","path":"/orders","scopes":["list_items"]}],
		"owners":["team-stock"],"sunset":"2027-06-30T00:00:00Z"}`
	if resp, got := do(auditor, "PUT", path, body, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("auditor PUT: %d %s", resp.StatusCode, got)
	}
	resp, got := do(publisher, "PUT", path, body, map[string]string{"If-None-Match": "*"})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("publisher PUT: %d %s", resp.StatusCode, got)
	}
	tag := resp.Header.Get("ETag")

	// A draft is not served.
	if code := gatewayGet(t, e.gatewayURL+"/inventory/v1/stock", nil); code != http.StatusNotFound {
		t.Fatalf("draft served: %d", code)
	}
	resp, got = do(publisher, "POST", path+"/state", `{"state":"published"}`, map[string]string{"If-Match": tag})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("publish: %d %s", resp.StatusCode, got)
	}
	waitFor(t, "the gateway to serve the published version", func() bool {
		return gatewayGet(t, e.gatewayURL+"/inventory/v1/stock", nil) == http.StatusOK
	})
	// The stale tag cannot deprecate what it did not see.
	if resp, _ := do(publisher, "POST", path+"/state", `{"state":"deprecated"}`, map[string]string{"If-Match": tag}); resp.StatusCode != http.StatusPreconditionFailed {
		t.Fatalf("deprecate with a stale ETag: %d", resp.StatusCode)
	}
	if resp, got := do(publisher, "POST", path+"/state", `{"state":"deprecated"}`, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("deprecate: %d %s", resp.StatusCode, got)
	}
	var hdr http.Header
	waitFor(t, "the gateway to announce the deprecation", func() bool {
		hdr = http.Header{}
		return gatewayGet(t, e.gatewayURL+"/inventory/v1/stock", hdr) == http.StatusOK && hdr.Get("Deprecation") != ""
	})
	// RFC 9745 §2: an @-prefixed Unix time; RFC 8594 §3: an HTTP-date.
	if d := hdr.Get("Deprecation"); !strings.HasPrefix(d, "@") {
		t.Errorf("Deprecation = %q", d)
	}
	if s := hdr.Get("Sunset"); s != "Wed, 30 Jun 2027 00:00:00 GMT" {
		t.Errorf("Sunset = %q", s)
	}
	// The gateway's own refusal (no token) says so too.
	own := http.Header{}
	if code := gatewayGet(t, e.gatewayURL+"/inventory/v1/orders", own); code != http.StatusUnauthorized || own.Get("Deprecation") == "" || own.Get("Sunset") == "" {
		t.Errorf("gateway's own 401: %d, Deprecation %q, Sunset %q", code, own.Get("Deprecation"), own.Get("Sunset"))
	}

	// Every write is in the audit trail, by the publisher.
	resp, got = do(auditor, "GET", "/admin/v1/audit?action=catalog.*", "", nil)
	var page struct {
		Items []struct {
			Action string `json:"action"`
			Actor  struct {
				ClientID string `json:"client_id"`
			} `json:"actor"`
		} `json:"items"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(got), &page) != nil {
		t.Fatalf("audit: %d %s", resp.StatusCode, got)
	}
	var actions []string
	for _, it := range page.Items {
		if it.Actor.ClientID != "publisher-bot" {
			t.Errorf("record %s by %q, want publisher-bot", it.Action, it.Actor.ClientID)
		}
		actions = append(actions, it.Action)
	}
	if strings.Join(actions, ",") != "catalog.version.create,catalog.version.state,catalog.version.state" {
		t.Errorf("audit actions = %v", actions)
	}
}

// gatewayGet GETs url without credentials and copies the answer's
// headers into into (when not nil).
func gatewayGet(t *testing.T, url string, into http.Header) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	for k, v := range resp.Header {
		if into != nil {
			into[k] = v
		}
	}
	return resp.StatusCode
}

// waitFor polls cond every 50 ms for up to 10 s: the gateway follows the
// catalog within its poll interval (100 ms here).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}
