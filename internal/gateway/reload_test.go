package gateway

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/portcullis/portcullis/internal/catalog"
)

func TestReloadSwapsTable(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token(t, "opaque", "list_items")
	if w := e.serve(request("GET", "/warehouse/items", tok)); w.Code != 200 {
		t.Fatalf("before reload: %d", w.Code)
	}
	fetches, introspections := e.is.JWKSFetches(), e.is.Introspections()

	next := e.cfg
	next.APIs = append([]catalog.API(nil), e.cfg.APIs...)
	api := next.APIs[0]
	api.Operations = append([]catalog.Operation{{Method: "GET", Path: "/stock", Scopes: []string{"list_items"}}}, api.Operations...)
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
	bad.APIs = append([]catalog.API(nil), next.APIs...)
	badAPI := bad.APIs[0]
	badAPI.Operations = append([]catalog.Operation{{Method: "GET", Path: "/x/../y"}}, badAPI.Operations...)
	bad.APIs[0] = badAPI
	err := e.gw.Reload(t.Context(), bad)
	var ce *ConfigError
	var fe *catalog.FieldError
	if !errors.As(err, &ce) || !errors.As(err, &fe) || fe.Field != "apis[0].operations[0].path" {
		t.Fatalf("Reload(bad) = %v, want a ConfigError naming apis[0].operations[0].path", err)
	}
	if w := e.serve(request("GET", "/warehouse/stock", tok)); w.Code != 200 {
		t.Errorf("after a refused reload: status %d, want 200 (old table)", w.Code)
	}
}

func TestReloadChangedIssuerRefetches(t *testing.T) {
	e := newEnv(t, nil)
	fetches := e.is.JWKSFetches()
	next := e.cfg
	next.Issuers = []catalog.Issuer{e.cfg.Issuers[0]}
	next.Issuers[0].Leeway = catalog.Duration(5e9)
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

// TestConfigErrors covers the snapshots New and Reload refuse: those the
// catalog's validation refuses (field names the field), and those that
// only fail to build (api and op name where).
func TestConfigErrors(t *testing.T) {
	e := newEnv(t, nil)
	base := e.cfg
	tests := []struct {
		name  string
		edit  func(c *catalog.Snapshot)
		want  string // in the error
		field string // of the first *catalog.FieldError; "" for a build error
		api   string
		op    string
	}{
		{"no name", func(c *catalog.Snapshot) { c.APIs[0].Name = "" }, "must not be empty", "apis[0].name", "", ""},
		{"quote in name", func(c *catalog.Snapshot) { c.APIs[0].Name = `a"b` }, "is not a name", "apis[0].name", "", ""},
		{"bad base path", func(c *catalog.Snapshot) { c.APIs[0].BasePath = "/warehouse//" }, "empty segment", "apis[0].base_path", "", ""},
		{"dot base path", func(c *catalog.Snapshot) { c.APIs[0].BasePath = "/a/../b" }, ". or .. segments", "apis[0].base_path", "", ""},
		{"duplicate base path", func(c *catalog.Snapshot) {
			c.APIs = append(c.APIs, c.APIs[0])
			c.APIs[1].Name = "copy"
		}, "also the base path of apis[0]", "apis[1].base_path", "", ""},
		{"bad upstream", func(c *catalog.Snapshot) { c.APIs[0].Upstream = "ftp://x" }, "not http or https", "apis[0].upstream", "", ""},
		{"upstream credentials", func(c *catalog.Snapshot) { c.APIs[0].Upstream = "http://u:p@x" }, "user information", "apis[0].upstream", "", ""},
		{"unknown token kind", func(c *catalog.Snapshot) { c.APIs[0].Tokens = []string{"saml"} }, "not one of jwt, opaque, split", "apis[0].tokens[0]", "", ""},
		{"duplicate operation", func(c *catalog.Snapshot) {
			c.APIs[0].Operations = append(c.APIs[0].Operations, catalog.Operation{Method: "GET", Path: "/items/{other}"})
		}, "the same method and path as apis[0].operations[1]", "apis[0].operations[6].path", "", ""},
		{"lower-case method", func(c *catalog.Snapshot) {
			c.APIs[0].Operations = append(c.APIs[0].Operations, catalog.Operation{Method: "get", Path: "/stock"})
		}, "methods are case sensitive", "apis[0].operations[6].method", "", ""},
		{"conflicting operations", func(c *catalog.Snapshot) {
			c.APIs[0].Operations = append(c.APIs[0].Operations,
				catalog.Operation{Method: "GET", Path: "/q/{f}"}, catalog.Operation{Method: "GET", Path: "/{g}/r"})
		}, "conflicting operations", "", "warehouse", "GET /{g}/r"},
		{"bad wildcard", func(c *catalog.Snapshot) {
			c.APIs[0].Operations[0].Path = "/items/{id"
		}, "a wildcard is a whole segment", "apis[0].operations[0].path", "", ""},
		{"dots in a pattern", func(c *catalog.Snapshot) {
			c.APIs[0].Operations[0].Path = "/items/.."
		}, ". or .. segments", "apis[0].operations[0].path", "", ""},
		{"bad scope", func(c *catalog.Snapshot) {
			c.APIs[0].Operations[0].Scopes = []string{"a b"}
		}, "not a scope token", "apis[0].operations[0].scopes[0]", "", ""},
		{"bad policy", func(c *catalog.Snapshot) {
			c.APIs[0].Operations[0].Policy = "request.nope"
		}, "undefined field 'nope'", "apis[0].operations[0].policy", "", ""},
		{"bad api policy", func(c *catalog.Snapshot) { c.APIs[0].Policy = "1 +" }, "Syntax error", "apis[0].policy", "", ""},
		{"no issuer", func(c *catalog.Snapshot) { c.Issuers = nil }, "the API needs tokens but issuers is empty", "apis[0].issuer", "", ""},
		{"unknown issuer", func(c *catalog.Snapshot) { c.APIs[0].Issuer = "https://other.example" }, "does not name one of issuers", "apis[0].issuer", "", ""},
		{"opaque without client", func(c *catalog.Snapshot) { c.Issuers[0].ClientID = ""; c.Issuers[0].ClientSecretEnv = "" },
			"accepts opaque tokens", "apis[0].tokens", "", ""},
		{"empty secret", func(c *catalog.Snapshot) { c.Issuers[0].ClientSecretEnv = "UNSET_FOR_TEST" }, "issuers[0]: client_secret_env: environment variable UNSET_FOR_TEST is empty", "", "", ""},
		{"two secrets", func(c *catalog.Snapshot) { c.Issuers[0].ClientSecretFile = "x" }, "set only one of", "issuers[0].client_secret_env", "", ""},
		{"bad introspection url", func(c *catalog.Snapshot) { c.Issuers[0].IntrospectionURL = "ftp://x/introspect" }, "is not https", "issuers[0].introspection_url", "", ""},
		{"http introspection url off loopback", func(c *catalog.Snapshot) { c.Issuers[0].IntrospectionURL = "http://as.example/introspect" },
			"must use https", "issuers[0].introspection_url", "", ""},
		{"duplicate issuer", func(c *catalog.Snapshot) { c.Issuers = append(c.Issuers, c.Issuers[0]) }, "is the same issuer as issuers[0]", "issuers[1].issuer", "", ""},
		{"http issuer off loopback", func(c *catalog.Snapshot) { c.Issuers[0].Issuer = "http://as.example" }, "must use https", "issuers[0].issuer", "", ""},
		{"bad trusted proxy", func(c *catalog.Snapshot) { c.TrustedProxies = []string{"10.1.2.3/8"} }, "bits set past its prefix length", "trusted_proxies[0]", "", ""},
		{"bad zone", func(c *catalog.Snapshot) { c.TimeZone = "Mars/Olympus" }, "not an IANA time zone", "time_zone", "", ""},
		{"local zone", func(c *catalog.Snapshot) { c.TimeZone = "Local" }, "Local would change with the host", "time_zone", "", ""},
		{"bad strip header", func(c *catalog.Snapshot) { c.StripHeaders = []string{"X Y"} }, "not a header name", "strip_headers[0]", "", ""},
		{"cors star with credentials", func(c *catalog.Snapshot) {
			c.APIs[0].CORS = &catalog.CORS{AllowedOrigins: []string{"*"}, AllowCredentials: true}
		}, "cannot be combined with allow_credentials", "apis[0].cors.allowed_origins[0]", "", ""},
		{"tls on http upstream", func(c *catalog.Snapshot) { c.APIs[0].TLS.ServerName = "x" }, "https upstream", "apis[0].tls", "", ""},
		{"missing openapi", func(c *catalog.Snapshot) { c.APIs[0].OpenAPI = "nope.yaml" }, "openapi", "", "warehouse", ""},
		{"openapi repeats an operation", func(c *catalog.Snapshot) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "openapi.yaml"), []byte(openAPIDoc), 0o644); err != nil {
				t.Fatal(err)
			}
			c.APIs[0].OpenAPI = filepath.Join(dir, "openapi.yaml")
		}, "duplicate operation", "", "warehouse", "GET /items"},
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
			var fe *catalog.FieldError
			field := ""
			if errors.As(err, &fe) {
				field = fe.Field
			}
			if field != tc.field {
				t.Errorf("field = %q, want %q", field, tc.field)
			}
			if strings.Contains(err.Error(), e.is.ClientSecret) {
				t.Errorf("error reveals the client secret")
			}
			if strings.HasPrefix(err.Error(), "gateway: ") {
				t.Errorf("error = %q, starts with the prefix its caller adds", err)
			}
		})
	}
	// The good table survived all of that.
	if w := e.serve(request("GET", "/warehouse/items", e.token(t, "jwt", "list_items"))); w.Code != 200 {
		t.Errorf("status after refused reloads = %d", w.Code)
	}
}

// cloneConfig copies the slices a test edits.
func cloneConfig(c catalog.Snapshot) catalog.Snapshot {
	c.Issuers = append([]catalog.Issuer(nil), c.Issuers...)
	c.APIs = append([]catalog.API(nil), c.APIs...)
	for i := range c.APIs {
		c.APIs[i].Operations = append([]catalog.Operation(nil), c.APIs[i].Operations...)
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
	_, err := New(t.Context(), Options{Catalog: cfg, BaseDir: dir})
	if err == nil || !strings.Contains(err.Error(), "readable by group or others") {
		t.Fatalf("New with a world-readable secret = %v, want a refusal", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	gw, err := New(t.Context(), Options{Catalog: cfg, BaseDir: dir})
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
	cfg.APIs[0].Operations = []catalog.Operation{{Method: "POST", Path: "/orders", Scopes: []string{"order_item"}}}
	cfg.APIs[0].OpenAPI = "openapi.yaml"
	gw, err := New(t.Context(), Options{Catalog: cfg, BaseDir: dir, Getenv: e.getenv})
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
