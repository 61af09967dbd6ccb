package config

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/policy"
)

// validGateway is a small valid gateway section, built in code.
func validGateway() Gateway {
	g := Gateway{
		Issuers: []Issuer{{Issuer: "https://auth.example.com", ClientID: "gateway", ClientSecretEnv: "GATEWAY_SECRET"}},
		APIs: []API{{
			Name:      "shop",
			BasePath:  "/shop",
			Upstream:  "http://10.0.0.1:9000",
			Audiences: []string{"https://shop.example"},
			Operations: []Operation{
				{Method: "GET", Path: "/items", Scopes: []string{"read"}},
				{Method: "GET", Path: "/health", Public: true},
			},
		}},
	}
	g.ApplyDefaults()
	return g
}

func TestGatewayApplyDefaults(t *testing.T) {
	g := Gateway{
		Issuers: []Issuer{{Issuer: "https://a.example"}, {Issuer: "https://b.example", Algorithms: []string{"ES384"}, CacheTTL: Duration(time.Second)}},
		APIs: []API{
			{Name: "plain"},
			{Name: "set", Version: "v2", Tokens: []string{"jwt"}, MaxBodyBytes: 10, Timeouts: Timeouts{Dial: Duration(time.Second)},
				CORS: &CORS{AllowedOrigins: []string{"https://app.example"}, AllowedMethods: []string{"GET"}}},
		},
	}
	g.ApplyDefaults()
	want := Gateway{
		StripHeaderPrefixes: []string{"X-Portcullis-"},
		Group:               "default",
		Issuers: []Issuer{
			{Issuer: "https://a.example", Algorithms: []string{"ES256", "RS256", "PS256", "EdDSA"},
				CacheTTL: Duration(time.Minute), NegativeCacheTTL: Duration(10 * time.Second), Leeway: Duration(30 * time.Second),
				MaxIntrospections: 64, OpaqueFormat: "portcullis"},
			{Issuer: "https://b.example", Algorithms: []string{"ES384"},
				CacheTTL: Duration(time.Second), NegativeCacheTTL: Duration(10 * time.Second), Leeway: Duration(30 * time.Second),
				MaxIntrospections: 64, OpaqueFormat: "portcullis"},
		},
		APIs: []API{
			{Name: "plain", Version: "v1", Tokens: []string{"jwt", "opaque", "split"}, MaxBodyBytes: 1 << 20,
				Timeouts: Timeouts{Upstream: Duration(30 * time.Second), Dial: Duration(5 * time.Second),
					Request: Duration(30 * time.Second), Response: Duration(30 * time.Second)}},
			{Name: "set", Version: "v2", Tokens: []string{"jwt"}, MaxBodyBytes: 10,
				Timeouts: Timeouts{Upstream: Duration(30 * time.Second), Dial: Duration(time.Second),
					Request: Duration(30 * time.Second), Response: Duration(30 * time.Second)},
				CORS: &CORS{
					AllowedOrigins: []string{"https://app.example"},
					AllowedMethods: []string{"GET"},
					AllowedHeaders: []string{"Authorization", "Content-Type"},
					MaxAge:         Duration(10 * time.Minute),
				}},
		},
		RateLimit: RateLimit{
			Backend: "memory",
			Redis:   RateLimitRedis{Addr: "127.0.0.1:6379", Prefix: "pc:", Timeout: Duration(50 * time.Millisecond)},
			Memory:  RateLimitMemory{MaxKeys: 1_000_000},
		},
	}
	if diff := cmp.Diff(want, g); diff != "" {
		t.Errorf("ApplyDefaults() mismatch (-want +got):\n%s", diff)
	}
	if g.TimeZone != "" {
		t.Errorf("TimeZone = %q, want empty (UTC)", g.TimeZone)
	}
	// Defaults are copies: editing one config's list leaves the next
	// config's defaults alone.
	g.APIs[0].Tokens[0] = "changed"
	again := Gateway{APIs: []API{{}}}
	again.ApplyDefaults()
	if got := again.APIs[0].Tokens[0]; got != "jwt" {
		t.Errorf("default tokens share a backing array: got %q", got)
	}
}

// TestGatewayValidateInCode edits a valid gateway built in code: errors
// name the field without file or line.
func TestGatewayValidateInCode(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Gateway)
		want string
	}{
		{"valid", func(*Gateway) {}, ""},
		{"http loopback issuer", func(g *Gateway) { g.Issuers[0].Issuer = "http://localhost:8080" }, ""},
		{"http issuer", func(g *Gateway) { g.Issuers[0].Issuer = "http://auth.example.com" },
			"gateway.issuers[0].issuer: must use https unless the host is a loopback address or localhost (RFC 6749 §3.1, §3.2 require TLS)"},
		{"relative issuer", func(g *Gateway) { g.Issuers[0].Issuer = "auth.example.com" },
			"gateway.issuers[0].issuer: must be an absolute URL such as https://auth.example.com"},
		{"alg none", func(g *Gateway) { g.Issuers[0].Algorithms = []string{"none"} },
			`gateway.issuers[0].algorithms[0]: "none" is not one of ES256, ES384, ES512, RS256, RS384, RS512, PS256, PS384, PS512, EdDSA: none and HMAC (HS*) are never accepted (RFC 8725 §3.1, §3.2)`},
		{"alg HS512", func(g *Gateway) { g.Issuers[0].Algorithms = []string{"RS256", "HS512"} },
			`gateway.issuers[0].algorithms[1]: "HS512" is not one of ES256, ES384, ES512, RS256, RS384, RS512, PS256, PS384, PS512, EdDSA: none and HMAC (HS*) are never accepted (RFC 8725 §3.1, §3.2)`},
		{"client id without secret", func(g *Gateway) { g.Issuers[0].ClientSecretEnv = "" },
			"gateway.issuers[0].client_id: needs client_secret_file or client_secret_env to read the secret from (the secret itself never goes in this file)"},
		{"secret file only", func(g *Gateway) { g.Issuers[0].ClientSecretEnv, g.Issuers[0].ClientSecretFile = "", "gw.secret" }, ""},
		{"two secrets", func(g *Gateway) { g.Issuers[0].ClientSecretFile = "gw.secret" },
			"gateway.issuers[0].client_secret_env: set only one of client_secret_file and client_secret_env"},
		{"opaque without client", func(g *Gateway) { g.Issuers[0].ClientID, g.Issuers[0].ClientSecretEnv = "", "" },
			"gateway.apis[0].tokens: accepts opaque tokens, which the gateway introspects as a client: set client_id on gateway.issuers[0], or list only jwt and split"},
		{"jwt only without client", func(g *Gateway) {
			g.Issuers[0].ClientID, g.Issuers[0].ClientSecretEnv = "", ""
			g.APIs[0].Tokens = []string{"jwt", "split"}
		}, ""},
		{"public opaque without client", func(g *Gateway) {
			g.Issuers[0].ClientID, g.Issuers[0].ClientSecretEnv = "", ""
			g.APIs[0].Public, g.APIs[0].Operations[0].Scopes = true, nil
		}, ""},
		{"no issuers", func(g *Gateway) { g.Issuers = nil },
			"gateway.apis[0].issuer: the API needs tokens but gateway.issuers is empty: add the authorization server there, or make the API public"},
		{"no issuers, public API", func(g *Gateway) { g.Issuers, g.APIs[0].Public, g.APIs[0].Operations[0].Scopes = nil, true, nil }, ""},
		{"no issuers, openapi", func(g *Gateway) {
			g.Issuers, g.APIs[0].Operations, g.APIs[0].OpenAPI = nil, nil, "openapi.yaml"
		}, "gateway.apis[0].issuer: the API needs tokens but gateway.issuers is empty: add the authorization server there, or make the API public"},
		{"unknown issuer", func(g *Gateway) { g.APIs[0].Issuer = "https://auth.example.com/" },
			"gateway.apis[0].issuer: does not name one of gateway.issuers (compare the issuer URLs character for character)"},
		{"named issuer", func(g *Gateway) { g.APIs[0].Issuer = "https://auth.example.com" }, ""},
		{"base path root", func(g *Gateway) { g.APIs[0].BasePath = "/" }, ""},
		{"nested base paths", func(g *Gateway) {
			g.APIs = append(g.APIs, g.APIs[0])
			g.APIs[1].Name, g.APIs[1].BasePath = "shop-admin", "/shop/admin"
		}, ""},
		{"base paths equal but for a trailing slash", func(g *Gateway) {
			g.APIs = append(g.APIs, g.APIs[0])
			g.APIs[1].Name, g.APIs[1].BasePath = "shop2", "/shop/"
		}, `gateway.apis[1].base_path: "/shop/" is also the base path of gateway.apis[0]`},
		{"sibling base paths", func(g *Gateway) {
			g.APIs = append(g.APIs, g.APIs[0])
			g.APIs[1].Name, g.APIs[1].BasePath = "shopping", "/shopping"
		}, ""},
		{"upstream with fragment", func(g *Gateway) { g.APIs[0].Upstream = "http://10.0.0.1/#x" },
			"gateway.apis[0].upstream: must not have a query or fragment"},
		{"upstream with path", func(g *Gateway) { g.APIs[0].Upstream = "https://backend.internal/api/v1" }, ""},
		{"any method", func(g *Gateway) { g.APIs[0].Operations[0].Method = "*" }, ""},
		{"wildcards", func(g *Gateway) { g.APIs[0].Operations[0].Path = "/orgs/{org}/items/{id}/{rest...}" }, ""},
		{"root operation", func(g *Gateway) { g.APIs[0].Operations[0].Path = "/" }, ""},
		{"trailing slash differs", func(g *Gateway) {
			g.APIs[0].Operations = []Operation{{Method: "GET", Path: "/items"}, {Method: "GET", Path: "/items/"}}
		}, ""},
		{"duplicate with empty and star", func(g *Gateway) {
			g.APIs[0].Operations = []Operation{{Path: "/x/{a}"}, {Method: "*", Path: "/x/{b}"}}
		}, "gateway.apis[0].operations[1].path: the same method and path as gateway.apis[0].operations[0]"},
		{"star and GET differ", func(g *Gateway) {
			g.APIs[0].Operations = []Operation{{Path: "/x/{a}"}, {Method: "GET", Path: "/x/{a}"}}
		}, ""},
		{"negative body", func(g *Gateway) { g.APIs[0].MaxBodyBytes = -1 },
			"gateway.apis[0].max_body_bytes: must not be negative (0 means 1 MiB)"},
		{"zero timeout without defaults", func(g *Gateway) { g.APIs[0].Timeouts.Dial = 0 },
			"gateway.apis[0].timeouts.dial: 0s is too short: at least 1ms"},
		{"negative timeout", func(g *Gateway) { g.APIs[0].Timeouts.Upstream = Duration(-time.Second) },
			"gateway.apis[0].timeouts.upstream: must not be negative"},
		{"mtls", func(g *Gateway) {
			g.APIs[0].Upstream = "https://10.0.0.1"
			g.APIs[0].TLS = UpstreamTLS{CAFile: "ca.pem", CertFile: "c.pem", KeyFile: "c.key", ServerName: "backend"}
		}, ""},
		{"cors wildcard without credentials", func(g *Gateway) {
			g.APIs[0].CORS = &CORS{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"GET"}, MaxAge: Duration(time.Minute)}
		}, ""},
		{"cors wildcard with credentials", func(g *Gateway) {
			g.APIs[0].CORS = &CORS{AllowedOrigins: []string{"*"}, AllowCredentials: true, MaxAge: Duration(time.Minute)}
		}, `gateway.apis[0].cors.allowed_origins[0]: "*" cannot be combined with allow_credentials (browsers refuse it): list the origins`},
		{"cors without defaults", func(g *Gateway) { g.APIs[0].CORS = &CORS{AllowedOrigins: []string{"https://app.example"}} },
			"gateway.apis[0].cors.max_age: 0s is too short: at least 1s"},
		{"time zone", func(g *Gateway) { g.TimeZone = "America/New_York" }, ""},
		{"bad time zone", func(g *Gateway) { g.TimeZone = "Nowhere/Town" },
			`gateway.time_zone: "Nowhere/Town" is not an IANA time zone name such as Europe/Berlin or UTC`},
		{"policy", func(g *Gateway) { g.APIs[0].Policy = `claims.sub != "" && request.method == "GET"` }, ""},
		{"bad policy", func(g *Gateway) { g.APIs[0].Operations[1].Policy = "true &&\n  request.nope" },
			"gateway.apis[0].operations[1].policy: line 2, column 10: undefined field 'nope'"},
		{"trusted proxies", func(g *Gateway) { g.TrustedProxies = []string{"10.0.0.0/8", "::1", "2001:db8::/32"} }, ""},
		{"two errors in order", func(g *Gateway) { g.APIs[0].Name = ""; g.TrustedProxies = []string{"x"} },
			"gateway.trusted_proxies[0]: \"x\" is not a CIDR prefix (10.0.0.0/8, 2001:db8::/32) or an IP address\ngateway.apis[0].name: must not be empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := validGateway()
			tc.edit(&g)
			err := g.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("Validate() error =\n%s\nwant\n%s", got, tc.want)
			}
			// The same problems, through the whole config.
			c := Default()
			c.Gateway = g
			err = c.Validate()
			got = ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("Config.Validate() error =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

// TestConfigValidateGatewayFields covers the gateway fields outside the
// gateway section.
func TestConfigValidateGatewayFields(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"urn audience", func(c *Config) { c.Tokens.DefaultAudience = "urn:portcullis:api:warehouse" }, ""},
		{"https audience", func(c *Config) { c.Tokens.DefaultAudience = "https://api.example.com/warehouse" }, ""},
		{"relative audience", func(c *Config) { c.Tokens.DefaultAudience = "warehouse" },
			"tokens.default_audience: must be an absolute URI such as https://api.example.com or urn:example:api (RFC 8707 §2)"},
		{"audience fragment", func(c *Config) { c.Tokens.DefaultAudience = "urn:a#b" },
			"tokens.default_audience: must not have a fragment (RFC 8707 §2)"},
		{"audience space", func(c *Config) { c.Tokens.DefaultAudience = "urn:a b" },
			"tokens.default_audience: must not contain spaces or control characters"},
		{"gateway on authz", func(c *Config) { c.Listen.Gateway = c.Listen.Authz },
			"listen.gateway: is the same address as listen.authz"},
		{"gateway on admin", func(c *Config) { c.Listen.Gateway = c.Listen.Admin },
			"listen.gateway: is the same address as listen.admin"},
		{"gateway port 0 twice", func(c *Config) { c.Listen.Gateway, c.Listen.Admin = "127.0.0.1:0", "127.0.0.1:0" }, ""},
		{"bad gateway address", func(c *Config) { c.Listen.Gateway = "8000" },
			`listen.gateway: "8000" is not host:port (such as 127.0.0.1:8080 or :8080)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.edit(c)
			err := c.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("Validate() error =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestBaseDir(t *testing.T) {
	c, err := Load("testdata/valid/gateway.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want, err := filepath.Abs("testdata/valid")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.BaseDir(); got != want {
		t.Errorf("BaseDir() after Load = %q, want %q", got, want)
	}
	p, err := Parse("x.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.BaseDir(); got != "" {
		t.Errorf("BaseDir() after Parse = %q, want empty", got)
	}
	if got := Default().BaseDir(); got != "" {
		t.Errorf("Default().BaseDir() = %q, want empty", got)
	}
}

// TestRequestRuleErrorPlacement checks that a bad gateway policy is
// reported at the file line of the expression's line, like a scope
// condition, and that the policy error is reachable with errors.As.
func TestRequestRuleErrorPlacement(t *testing.T) {
	const head = "gateway:\n  apis:\n    - name: a\n      base_path: /a\n      upstream: http://10.0.0.1\n      public: true\n"
	tests := []struct {
		name     string
		yaml     string
		wantLine int
		want     string
	}{
		{"api plain", head + "      policy: request.ipp == \"\"\n      operations: [{path: /}]\n", 7,
			"c.yaml:7: gateway.apis[0].policy: column 8: undefined field 'ipp'"},
		{"operation block", head + "      operations:\n        - path: /\n          policy: |\n            true &&\n              nope\n", 11,
			"c.yaml:11: gateway.apis[0].operations[0].policy: column 3: undeclared reference to 'nope'"},
		{"operation flow", head + "      operations: [{path: /, policy: \"1\"}]\n", 7,
			"c.yaml:7: gateway.apis[0].operations[0].policy: column 1: condition must be a bool expression, not int"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tc.yaml))
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Parse() error = %v, want %s", err, tc.want)
			}
			var fe *FieldError
			var ce *policy.CompileError
			if !errors.As(err, &fe) || fe.Line != tc.wantLine {
				t.Errorf("FieldError = %+v, want line %d", fe, tc.wantLine)
			}
			if !errors.As(err, &ce) || ce.Scope != "" {
				t.Errorf("errors.As(*policy.CompileError) = %v, want one with no scope", ce)
			}
		})
	}
}

// TestGatewayErrorsKeepSecrets checks that values which may hold a
// secret are never echoed.
func TestGatewayErrorsKeepSecrets(t *testing.T) {
	g := validGateway()
	g.Issuers[0].IntrospectionURL = "http://gw:hunter2@auth.example.com/introspect"
	g.Issuers[0].JWKSURI = "https://gw:hunter2@auth.example.com/jwks"
	g.Issuers = append(g.Issuers, Issuer{Issuer: "https://gw:hunter2@b.example.com"})
	g.APIs[0].Upstream = "http://gw:hunter2@10.0.0.1"
	g.APIs[0].Issuer = "https://gw:hunter2@c.example.com"
	g.ApplyDefaults()
	err := g.Validate()
	if err == nil {
		t.Fatal("Validate() = nil, want errors")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Validate() error echoes a secret:\n%v", err)
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 5 {
		t.Errorf("Validate() reported %d problems, want 5:\n%v", n, err)
	}
}

func TestFileSource(t *testing.T) {
	snap, err := FileSource{Path: "testdata/valid/gateway.yaml"}.Snapshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load("testdata/valid/gateway.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c.Gateway.Snapshot(), snap); diff != "" {
		t.Errorf("FileSource snapshot mismatch (-Load +FileSource):\n%s", diff)
	}
	if err := snap.Validate(); err != nil {
		t.Errorf("the snapshot of a valid file does not validate: %v", err)
	}
	_, err = FileSource{Path: "testdata/invalid/gateway_apis.yaml"}.Snapshot(t.Context())
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Line == 0 {
		t.Errorf("FileSource of an invalid file = %v, want a *FieldError with its line", err)
	}
}
