package config

import (
	"errors"
	"net/netip"
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
			Name:     "shop",
			BasePath: "/shop",
			Upstream: "http://10.0.0.1:9000",
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
		Issuers: []Issuer{
			{Issuer: "https://a.example", Algorithms: []string{"ES256", "RS256", "PS256", "EdDSA"},
				CacheTTL: Duration(time.Minute), NegativeCacheTTL: Duration(10 * time.Second), Leeway: Duration(30 * time.Second)},
			{Issuer: "https://b.example", Algorithms: []string{"ES384"},
				CacheTTL: Duration(time.Second), NegativeCacheTTL: Duration(10 * time.Second), Leeway: Duration(30 * time.Second)},
		},
		APIs: []API{
			{Name: "plain", Version: "v1", Tokens: []string{"jwt", "opaque", "split"}, MaxBodyBytes: 1 << 20,
				Timeouts: Timeouts{Upstream: Duration(30 * time.Second), Dial: Duration(5 * time.Second)}},
			{Name: "set", Version: "v2", Tokens: []string{"jwt"}, MaxBodyBytes: 10,
				Timeouts: Timeouts{Upstream: Duration(30 * time.Second), Dial: Duration(time.Second)},
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
		{"base path root", func(g *Gateway) { g.APIs[0].BasePath = "/" }, `gateway.apis[0].base_path: "/" must not end with /`},
		{"nested base paths", func(g *Gateway) {
			g.APIs = append(g.APIs, g.APIs[0])
			g.APIs[1].Name, g.APIs[1].BasePath = "shop-admin", "/shop/admin"
		}, `gateway.apis[1].base_path: "/shop/admin" and "/shop" (gateway.apis[0]) are nested: a request under the longer one would belong to both APIs`},
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

func TestOriginProblem(t *testing.T) {
	tests := []struct {
		origin string
		ok     bool
	}{
		{"https://app.example.com", true},
		{"http://127.0.0.1:5173", true},
		{"http://localhost:5173", true},
		{"http://[::1]:5173", true},
		{"https://*.example.com", true},
		{"https://*.example.com:8443", true},
		{"capacitor://localhost", false},
		{"https://app.example.com:8443", true},
		{"https://app.example.com/", false},
		{"https://app.example.com/path", false},
		{"https://user@app.example.com", false},
		{"https://App.example.com", false},
		{"https://app.example.com:443", false},
		{"http://app.example.com:80", false},
		{"https://app.example.com:0", false},
		{"https://app.example.com:08443", false},
		{"https://app.example.com:", false},
		{"https://*.com", false},
		{"https://*", false},
		{"https://a.*.example.com", false},
		{"https://", false},
		{"app.example.com", false},
		{"null", false},
		{"https://[fe80::1%25eth0]", false},
		{"https://[::1", false},
		{"https://exa_mple.com", false},
		{"https://-a.example.com", false},
		{"1http://a.example", false},
	}
	for _, tc := range tests {
		t.Run(tc.origin, func(t *testing.T) {
			msg := originProblem(tc.origin)
			if got := msg == ""; got != tc.ok {
				t.Errorf("originProblem(%q) = %q, want ok %v", tc.origin, msg, tc.ok)
			}
		})
	}
}

func TestPathProblem(t *testing.T) {
	tests := []struct {
		path      string
		wildcards bool
		want      string
	}{
		{"/warehouse", false, ""},
		{"/api/v1/warehouse", false, ""},
		{"/a-b_c.d~e:f@g", false, ""},
		{"/", false, `"/" must not end with /`},
		{"", false, "must not be empty: the path the API lives under, such as /warehouse"},
		{"/a/{id}", false, `"/a/{id}" must be literal: wildcards belong in operation paths`},
		{"/a?b", false, `"/a?b": "?" is not allowed in a path here: letters, digits and -._~!$&'()*+,;=:@`},
		{"/a#b", true, `"/a#b": "#" is not allowed in a path here: letters, digits and -._~!$&'()*+,;=:@`},
		{"/ä", false, `"/ä": "\xc3" is not allowed in a path here: letters, digits and -._~!$&'()*+,;=:@`},
		{"/", true, ""},
		{"/items/{id}", true, ""},
		{"/{all...}", true, ""},
		{"/a/{_x1}/{y...}", true, ""},
		{"", true, "must not be empty: a path such as /items or /items/{id}"},
		{"/a/{}", true, `"/a/{}": wildcard name "" is not letters, digits and _ (not starting with a digit)`},
		{"/a/{b-c}", true, `"/a/{b-c}": wildcard name "b-c" is not letters, digits and _ (not starting with a digit)`},
		{"/a/{b}}", true, `"/a/{b}}": a wildcard is a whole segment, {name} or {name...}`},
		{"/a/{$}", true, `"/a/{$}": wildcard name "$" is not letters, digits and _ (not starting with a digit)`},
		{"/a/..", true, `"/a/.." must not contain . or .. segments`},
		{"/items/", true, ""},
		{"/items/{id}/", true, ""},
		{"/items//", true, `"/items//" has an empty segment (//)`},
		{"/{rest...}/", true, `"/{rest...}/": {rest...} must be the last segment`},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			if got := pathProblem(tc.path, tc.wildcards); got != tc.want {
				t.Errorf("pathProblem(%q, %v) = %q, want %q", tc.path, tc.wildcards, got, tc.want)
			}
		})
	}
}

func TestGatewayLocation(t *testing.T) {
	tests := []struct {
		zone string
		want string
	}{
		{"", "UTC"},
		{"UTC", "UTC"},
		{"Europe/Berlin", "Europe/Berlin"},
		{"Local", "UTC"},
		{"Nowhere/Town", "UTC"},
	}
	for _, tc := range tests {
		t.Run(tc.zone, func(t *testing.T) {
			g := Gateway{TimeZone: tc.zone}
			if got := g.Location().String(); got != tc.want {
				t.Errorf("Location() = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestGatewayIssuerFor(t *testing.T) {
	one := Gateway{Issuers: []Issuer{{Issuer: "https://a.example"}}}
	two := Gateway{Issuers: []Issuer{{Issuer: "https://a.example"}, {Issuer: "https://b.example"}}}
	tests := []struct {
		name   string
		g      *Gateway
		issuer string
		want   string // "" for nil
	}{
		{"only one, unnamed", &one, "", "https://a.example"},
		{"only one, named", &one, "https://a.example", "https://a.example"},
		{"only one, wrong name", &one, "https://b.example", ""},
		{"two, unnamed", &two, "", ""},
		{"two, named", &two, "https://b.example", "https://b.example"},
		{"none", &Gateway{}, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ""
			if is := tc.g.IssuerFor(&API{Issuer: tc.issuer}); is != nil {
				got = is.Issuer
			}
			if got != tc.want {
				t.Errorf("IssuerFor(%q) = %q, want %q", tc.issuer, got, tc.want)
			}
		})
	}
	if is := two.IssuerFor(&API{Issuer: "https://b.example"}); is != &two.Issuers[1] {
		t.Error("IssuerFor() does not point into Issuers")
	}
}

func TestGatewayTrustedProxyPrefixes(t *testing.T) {
	g := Gateway{TrustedProxies: []string{
		"10.0.0.0/8", "192.0.2.7", "::1", "2001:db8::/32", "::ffff:10.0.0.0/104", "::ffff:192.0.2.8",
		"10.1.2.3/16", "junk", "fe80::1%eth0", "::ffff:0:0/90", "::ffff:10.0.0.0/97",
	}}
	want := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("192.0.2.7/32"),
		netip.MustParsePrefix("::1/128"),
		netip.MustParsePrefix("2001:db8::/32"),
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("192.0.2.8/32"),
	}
	if diff := cmp.Diff(want, g.TrustedProxyPrefixes(), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("TrustedProxyPrefixes() mismatch (-want +got):\n%s", diff)
	}
}

func TestAPIAcceptsAndNeedsToken(t *testing.T) {
	tests := []struct {
		name string
		api  API
		want bool
	}{
		{"operations with a token", API{Operations: []Operation{{Path: "/a", Public: true}, {Path: "/b"}}}, true},
		{"all operations public", API{Operations: []Operation{{Path: "/a", Public: true}}}, false},
		{"public API", API{Public: true, Operations: []Operation{{Path: "/a"}}}, false},
		{"openapi", API{OpenAPI: "o.yaml", Operations: []Operation{{Path: "/a", Public: true}}}, true},
		{"nothing declared", API{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.api.NeedsToken(); got != tc.want {
				t.Errorf("NeedsToken() = %v, want %v", got, tc.want)
			}
		})
	}
	a := API{Tokens: []string{TokenJWT, TokenSplit}}
	for kind, want := range map[string]bool{TokenJWT: true, TokenOpaque: false, TokenSplit: true, "": false} {
		if got := a.Accepts(kind); got != want {
			t.Errorf("Accepts(%q) = %v, want %v", kind, got, want)
		}
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
