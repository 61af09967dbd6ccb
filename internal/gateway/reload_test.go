package gateway

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/portcullis/portcullis/internal/config"
)

func TestReloadSwapsTable(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token(t, "opaque", "list_items")
	if w := e.serve(request("GET", "/warehouse/items", tok)); w.Code != 200 {
		t.Fatalf("before reload: %d", w.Code)
	}
	fetches, introspections := e.is.JWKSFetches(), e.is.Introspections()

	next := e.cfg
	next.APIs = append([]config.API(nil), e.cfg.APIs...)
	api := next.APIs[0]
	api.Operations = append([]config.Operation{{Method: "GET", Path: "/stock", Scopes: []string{"list_items"}}}, api.Operations...)
	next.APIs[0] = api
	if err := e.gw.Reload(t.Context(), next); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if w := e.serve(request("GET", "/warehouse/stock", tok)); w.Code != 200 {
		t.Errorf("new route: status %d, want 200", w.Code)
	}
	// The issuer did not change: its key set and token cache were kept.
	if got := e.is.JWKSFetches(); got != fetches {
		t.Errorf("key set fetched %d more times after reload", got-fetches)
	}
	if got := e.is.Introspections(); got != introspections {
		t.Errorf("token introspected %d more times after reload (cache lost)", got-introspections)
	}

	bad := next
	bad.APIs = append([]config.API(nil), next.APIs...)
	badAPI := bad.APIs[0]
	badAPI.Operations = append([]config.Operation{{Method: "GET", Path: "/x/../y"}}, badAPI.Operations...)
	bad.APIs[0] = badAPI
	err := e.gw.Reload(t.Context(), bad)
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.API != "warehouse" || ce.Operation != "GET /x/../y" {
		t.Fatalf("Reload(bad) = %v, want a ConfigError naming the api and operation", err)
	}
	if w := e.serve(request("GET", "/warehouse/stock", tok)); w.Code != 200 {
		t.Errorf("after a refused reload: status %d, want 200 (old table)", w.Code)
	}
}

func TestReloadChangedIssuerRefetches(t *testing.T) {
	e := newEnv(t, nil)
	fetches := e.is.JWKSFetches()
	next := e.cfg
	next.Issuers = []config.Issuer{e.cfg.Issuers[0]}
	next.Issuers[0].Leeway = config.Duration(5e9)
	if err := e.gw.Reload(t.Context(), next); err != nil {
		t.Fatal(err)
	}
	if e.is.JWKSFetches() == fetches {
		t.Error("a changed issuer kept its old key cache")
	}
	if w := e.serve(request("GET", "/warehouse/items", e.token(t, "jwt", "list_items"))); w.Code != 200 {
		t.Errorf("status %d", w.Code)
	}
}

func TestReloadConcurrentWithTraffic(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token(t, "jwt", "list_items")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if w := e.serve(request("GET", "/warehouse/items", tok)); w.Code != 200 {
					t.Errorf("status %d during reloads", w.Code)
					return
				}
			}
		})
	}
	for range 20 {
		if err := e.gw.Reload(t.Context(), e.cfg); err != nil {
			t.Error(err)
		}
	}
	close(stop)
	wg.Wait()
}

func TestConfigErrors(t *testing.T) {
	e := newEnv(t, nil)
	base := e.cfg
	tests := []struct {
		name string
		edit func(c *config.Gateway)
		want string // in the error
		api  string
		op   string
	}{
		{"no name", func(c *config.Gateway) { c.APIs[0].Name = "" }, "name is required", "/warehouse", ""},
		{"quote in name", func(c *config.Gateway) { c.APIs[0].Name = `a"b` }, "printable ASCII", `a"b`, ""},
		{"bad base path", func(c *config.Gateway) { c.APIs[0].BasePath = "/warehouse/" }, "base_path", "warehouse", ""},
		{"dot base path", func(c *config.Gateway) { c.APIs[0].BasePath = "/a/../b" }, "base_path", "warehouse", ""},
		{"duplicate base path", func(c *config.Gateway) {
			c.APIs = append(c.APIs, c.APIs[0])
			c.APIs[1].Name = "copy"
		}, "base_path /warehouse is used", "copy", ""},
		{"bad upstream", func(c *config.Gateway) { c.APIs[0].Upstream = "ftp://x" }, "upstream", "warehouse", ""},
		{"upstream credentials", func(c *config.Gateway) { c.APIs[0].Upstream = "http://u:p@x" }, "upstream", "warehouse", ""},
		{"unknown token kind", func(c *config.Gateway) { c.APIs[0].Tokens = []string{"saml"} }, "unknown kind", "warehouse", ""},
		{"duplicate operation", func(c *config.Gateway) {
			c.APIs[0].Operations = append(c.APIs[0].Operations, config.Operation{Method: "get", Path: "/items/{other}"})
		}, "duplicate operation", "warehouse", "GET /items/{other}"},
		{"conflicting operations", func(c *config.Gateway) {
			c.APIs[0].Operations = append(c.APIs[0].Operations,
				config.Operation{Method: "GET", Path: "/q/{f}"}, config.Operation{Method: "GET", Path: "/{g}/r"})
		}, "conflicting operations", "warehouse", "GET /{g}/r"},
		{"bad wildcard", func(c *config.Gateway) {
			c.APIs[0].Operations[0].Path = "/items/{id"
		}, "invalid path pattern", "warehouse", "GET /items/{id"},
		{"dots in a pattern", func(c *config.Gateway) {
			c.APIs[0].Operations[0].Path = "/items/.."
		}, "dot segment", "warehouse", "GET /items/.."},
		{"bad scope", func(c *config.Gateway) {
			c.APIs[0].Operations[0].Scopes = []string{"a b"}
		}, "scope", "warehouse", "GET /items"},
		{"bad policy", func(c *config.Gateway) {
			c.APIs[0].Operations[0].Policy = "request.nope"
		}, "policy", "warehouse", "GET /items"},
		{"bad api policy", func(c *config.Gateway) { c.APIs[0].Policy = "1 +" }, "policy", "warehouse", ""},
		{"no issuer", func(c *config.Gateway) { c.Issuers = nil }, "names no issuer", "warehouse", ""},
		{"unknown issuer", func(c *config.Gateway) { c.APIs[0].Issuer = "https://other.example" }, "not among", "warehouse", ""},
		{"opaque without client", func(c *config.Gateway) { c.Issuers[0].ClientID = ""; c.Issuers[0].ClientSecretEnv = "" }, "no client_id", "warehouse", ""},
		{"empty secret", func(c *config.Gateway) { c.Issuers[0].ClientSecretEnv = "UNSET_FOR_TEST" }, "is empty", "", ""},
		{"two secrets", func(c *config.Gateway) { c.Issuers[0].ClientSecretFile = "x" }, "not both", "", ""},
		{"bad introspection url", func(c *config.Gateway) { c.Issuers[0].IntrospectionURL = "ftp://x/introspect" }, "introspection", "warehouse", ""},
		{"duplicate issuer", func(c *config.Gateway) { c.Issuers = append(c.Issuers, c.Issuers[0]) }, "listed twice", "", ""},
		{"bad trusted proxy", func(c *config.Gateway) { c.TrustedProxies = []string{"10.1.2.3/8"} }, "trusted_proxies", "", ""},
		{"bad zone", func(c *config.Gateway) { c.TimeZone = "Mars/Olympus" }, "time_zone", "", ""},
		{"cors star with credentials", func(c *config.Gateway) {
			c.APIs[0].CORS = &config.CORS{AllowedOrigins: []string{"*"}, AllowCredentials: true}
		}, "cors", "warehouse", ""},
		{"tls on http upstream", func(c *config.Gateway) { c.APIs[0].TLS.ServerName = "x" }, "https upstream", "warehouse", ""},
		{"missing openapi", func(c *config.Gateway) { c.APIs[0].OpenAPI = "nope.yaml" }, "openapi", "warehouse", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := cloneConfig(base)
			tc.edit(&cfg)
			err := e.gw.Reload(t.Context(), cfg)
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("Reload = %v, want a *ConfigError", err)
			}
			if !strings.Contains(err.Error(), tc.want) || ce.API != tc.api || ce.Operation != tc.op {
				t.Errorf("error = %q (api %q, operation %q), want %q in it, api %q, operation %q",
					err, ce.API, ce.Operation, tc.want, tc.api, tc.op)
			}
			if strings.Contains(err.Error(), e.is.ClientSecret) {
				t.Errorf("error reveals the client secret")
			}
		})
	}
	// The good table survived all of that.
	if w := e.serve(request("GET", "/warehouse/items", e.token(t, "jwt", "list_items"))); w.Code != 200 {
		t.Errorf("status after refused reloads = %d", w.Code)
	}
}

// cloneConfig copies the slices a test edits.
func cloneConfig(c config.Gateway) config.Gateway {
	c.Issuers = append([]config.Issuer(nil), c.Issuers...)
	c.APIs = append([]config.API(nil), c.APIs...)
	for i := range c.APIs {
		c.APIs[i].Operations = append([]config.Operation(nil), c.APIs[i].Operations...)
		for j := range c.APIs[i].Operations {
			c.APIs[i].Operations[j].Scopes = append([]string(nil), c.APIs[i].Operations[j].Scopes...)
		}
	}
	return c
}

func TestClientSecretFile(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	path := filepath.Join(dir, "secret")
	if err := os.WriteFile(path, []byte(e.is.ClientSecret+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := cloneConfig(e.cfg)
	cfg.Issuers[0].ClientSecretEnv = ""
	cfg.Issuers[0].ClientSecretFile = "secret"
	_, err := New(t.Context(), Options{Config: cfg, BaseDir: dir})
	if err == nil || !strings.Contains(err.Error(), "readable by group or others") {
		t.Fatalf("New with a world-readable secret = %v, want a refusal", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	gw, err := New(t.Context(), Options{Config: cfg, BaseDir: dir})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.gw = gw
	if w := e.serve(request("GET", "/warehouse/items", e.token(t, "opaque", "list_items"))); w.Code != 200 {
		t.Errorf("status %d, want 200 (secret read from the file, trimmed)", w.Code)
	}
}

const openAPIDoc = `openapi: 3.1.0
info: {title: Warehouse, version: 1.0.0}
security:
  - auth: []
paths:
  /items:
    get:
      security: [{auth: [list_items]}]
      responses: {"200": {description: ok}}
  /status:
    get:
      security: []
      responses: {"200": {description: ok}}
components:
  securitySchemes:
    auth:
      type: oauth2
      flows:
        clientCredentials:
          tokenUrl: http://127.0.0.1:8080/oauth2/token
          scopes: {list_items: list}
`

func TestOpenAPIOperations(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "openapi.yaml"), []byte(openAPIDoc), 0o644); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, nil)
	cfg := cloneConfig(e.cfg)
	cfg.APIs[0].Operations = []config.Operation{{Method: "POST", Path: "/orders", Scopes: []string{"order_item"}}}
	cfg.APIs[0].OpenAPI = "openapi.yaml"
	gw, err := New(t.Context(), Options{Config: cfg, BaseDir: dir, Getenv: e.getenv})
	if err != nil {
		t.Fatal(err)
	}
	e.gw = gw
	tests := []struct {
		method, target, scope string
		want                  int
	}{
		{"GET", "/warehouse/items", "list_items", 200},
		{"GET", "/warehouse/items", "order_item", 403},
		{"GET", "/warehouse/status", "", 200},
		{"POST", "/warehouse/orders", "order_item", 200},
		{"GET", "/warehouse/orders", "order_item", 405},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.target+" "+tc.scope, func(t *testing.T) {
			tok := ""
			if tc.scope != "" {
				tok = e.token(t, "jwt", tc.scope)
			}
			if w := e.serve(request(tc.method, tc.target, tok)); w.Code != tc.want {
				t.Errorf("status = %d, want %d", w.Code, tc.want)
			}
		})
	}
}

func TestConfiguredIntrospectionURL(t *testing.T) {
	e := newEnv(t, nil)
	cfg := cloneConfig(e.cfg)
	cfg.Issuers[0].IntrospectionURL = e.is.IntrospectionURL()
	if err := e.gw.Reload(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	if w := e.serve(request("GET", "/warehouse/items", e.token(t, "opaque", "list_items"))); w.Code != 200 {
		t.Errorf("status %d, want 200", w.Code)
	}
}
