package catalog

import (
	"errors"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// validSnapshot is a small valid snapshot with defaults applied.
func validSnapshot() Snapshot {
	s := Snapshot{
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
			Limits: []Limit{{Name: "per-user", Quota: "100/day", Key: []string{"sub"}}},
		}},
		RateLimit: RateLimits{
			Plans:       map[string][]Limit{"gold": {{Name: "gold-rate", Rate: "10/s"}}},
			ClientPlans: map[string]string{"svc": "gold"},
		},
	}
	s.ApplyDefaults()
	return s
}

// TestBasePathMatches is the routing rule: whole segments, "/" holds
// everything; the longest matching base path wins (in the gateway).
func TestBasePathMatches(t *testing.T) {
	tests := []struct {
		base, path string
		want       bool
	}{
		{"/shop", "/shop", true},
		{"/shop", "/shop/", true},
		{"/shop", "/shop/admin/x", true},
		{"/shop", "/shopx", false},
		{"/shop", "/", false},
		{"/shop", "/other", false},
		{"/shop/admin", "/shop/admin/x", true},
		{"/shop/admin", "/shop", false},
		{"/shop/admin", "/shop/adminx", false},
		{"/", "/", true},
		{"/", "/other", true},
		{"/", "/shopx", true},
	}
	for _, tc := range tests {
		if got := BasePathMatches(tc.base, tc.path); got != tc.want {
			t.Errorf("BasePathMatches(%q, %q) = %v, want %v", tc.base, tc.path, got, tc.want)
		}
	}
	for in, want := range map[string]string{"/": "/", "/shop/": "/shop", "/shop": "/shop"} {
		if got := NormalizeBasePath(in); got != want {
			t.Errorf("NormalizeBasePath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestValidate names fields as the snapshot's own YAML shape does (the
// configuration's line-numbered errors are tested in package config).
func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Snapshot)
		want string
	}{
		{"valid", func(*Snapshot) {}, ""},
		{"http loopback issuer", func(s *Snapshot) { s.Issuers[0].Issuer = "http://[::1]:8080" }, ""},
		{"http issuer", func(s *Snapshot) { s.Issuers[0].Issuer = "http://auth.example.com" },
			"issuers[0].issuer: must use https unless the host is a loopback address or localhost (RFC 6749 §3.1, §3.2 require TLS)"},
		{"jwks uri off loopback", func(s *Snapshot) { s.Issuers[0].JWKSURI = "http://auth.example.com/jwks" },
			"issuers[0].jwks_uri: must use https unless the host is a loopback address or localhost: keys and introspection answers decide access"},
		{"control in client id", func(s *Snapshot) { s.Issuers[0].ClientID = "gate\u0085way" },
			"issuers[0].client_id: must not contain control characters"},
		{"proxy with a zone", func(s *Snapshot) { s.TrustedProxies = []string{"fe80::1%eth0"} },
			`trusted_proxies[0]: "fe80::1%eth0" is not a CIDR prefix (10.0.0.0/8, 2001:db8::/32) or an IP address`},
		{"strip header twice", func(s *Snapshot) { s.StripHeaders = []string{"X-A", "x-a"} },
			`strip_headers[1]: "x-a" is listed twice (header names ignore case)`},
		{"base path outside unreserved", func(s *Snapshot) { s.APIs[0].BasePath = "/shop:v1" },
			`apis[0].base_path: "/shop:v1": ":" is not allowed in a base path: letters, digits and -._~`},
		{"nested base paths and the root", func(s *Snapshot) {
			for _, p := range []string{"/", "/shop/admin", "/shopping"} {
				a := s.APIs[0]
				a.Name, a.BasePath, a.Limits = "api"+strconv.Itoa(len(s.APIs)), p, nil
				s.APIs = append(s.APIs, a)
			}
		}, ""},
		{"same base path but for a trailing slash", func(s *Snapshot) {
			a := s.APIs[0]
			a.Name, a.BasePath, a.Limits = "shop2", "/shop/", nil
			s.APIs = append(s.APIs, a)
		}, `apis[1].base_path: "/shop/" is also the base path of apis[0]`},
		{"root twice", func(s *Snapshot) {
			s.APIs[0].BasePath = "/"
			a := s.APIs[0]
			a.Name, a.Limits = "root2", nil
			s.APIs = append(s.APIs, a)
		}, `apis[1].base_path: "/" is also the base path of apis[0]`},
		{"preauth limit", func(s *Snapshot) { s.PreAuthLimit = PreAuthLimit{Rate: "50/s", Burst: 100} }, ""},
		{"preauth limit rate", func(s *Snapshot) { s.PreAuthLimit = PreAuthLimit{Rate: "50/day"} },
			`preauth_limit.rate: rate "50/day": the unit is s, m or h (per second, minute or hour)`},
		{"preauth burst without a rate", func(s *Snapshot) { s.PreAuthLimit = PreAuthLimit{Burst: 10} },
			`preauth_limit.burst: needs a rate`},
		{"max introspections", func(s *Snapshot) { s.Issuers[0].MaxIntrospections = 10001 },
			`issuers[0].max_introspections: 10001 is not between 1 and 10000`},
		{"response timeout", func(s *Snapshot) { s.APIs[0].Timeouts.Response = Duration(48 * time.Hour) },
			`apis[0].timeouts.response: 48h is too long: at most 24h`},
		{"unknown plan", func(s *Snapshot) { s.RateLimit.ClientPlans["x"] = "platinum" },
			`ratelimit.client_plans.x: plan "platinum" is not declared in ratelimit.plans`},
		{"limit name twice", func(s *Snapshot) { s.APIs[0].Limits[0].Name = "gold-rate" },
			`apis[0].limits[0].name: "gold-rate" is also the name of ratelimit.plans.gold[0]: limit names are unique across the catalog`},
		{"bad condition", func(s *Snapshot) { s.APIs[0].Limits[0].Condition = "claims.x +" },
			"apis[0].limits[0].condition: line 1, column 11: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}"},
		{"abuse rule", func(s *Snapshot) {
			s.RateLimit.Abuse = []AbuseRule{{Name: "a", Key: "ip", Rejections: 1, Window: Duration(time.Minute), Block: Duration(time.Minute)}}
		}, `ratelimit.abuse[0].key: "ip" is not one of client_id, sub`},
		{"no defaults", func(s *Snapshot) { s.APIs[0].Timeouts.Dial = 0 },
			"apis[0].timeouts.dial: 0s is too short: at least 1ms"},
		{"no audiences", func(s *Snapshot) { s.APIs[0].Audiences = nil },
			"apis[0].audiences: must list the aud values of this API's tokens, so that a token issued for another API is refused (RFC 9068 §4); any_audience: true accepts every token of the issuer instead"},
		{"no audiences, any_audience", func(s *Snapshot) { s.APIs[0].Audiences, s.APIs[0].AnyAudience = nil, true }, ""},
		{"audiences and any_audience", func(s *Snapshot) { s.APIs[0].AnyAudience = true },
			"apis[0].any_audience: contradicts audiences: list the audiences the API accepts, or set any_audience alone to accept every token of the issuer"},
		{"no audiences, public api", func(s *Snapshot) {
			s.APIs[0].Audiences, s.APIs[0].Public, s.APIs[0].Operations[0].Scopes = nil, true, nil
		}, ""},
		{"no audiences, every operation public", func(s *Snapshot) {
			s.APIs[0].Audiences, s.APIs[0].Operations = nil, s.APIs[0].Operations[1:]
		}, ""},
		{"no audiences, operations from a document", func(s *Snapshot) {
			s.APIs[0].Audiences, s.APIs[0].Operations, s.APIs[0].OpenAPI = nil, s.APIs[0].Operations[1:], "shop.yaml"
		}, "apis[0].audiences: must list the aud values of this API's tokens, so that a token issued for another API is refused (RFC 9068 §4); any_audience: true accepts every token of the issuer instead"},
		{"opaque format any", func(s *Snapshot) { s.Issuers[0].OpaqueFormat = OpaqueFormatAny }, ""},
		{"opaque format unknown", func(s *Snapshot) { s.Issuers[0].OpaqueFormat = "jwt" },
			`issuers[0].opaque_format: "jwt" is not portcullis (the default) or any`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := validSnapshot()
			tc.edit(&s)
			got := ""
			if err := s.Validate(); err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("Validate() error =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestProblemsFields(t *testing.T) {
	s := validSnapshot()
	s.APIs[0].Name = ""
	s.RateLimit.DefaultPlan = "none"
	got := s.Problems(Fields{Gateway: "gateway", RateLimit: "ratelimit"})
	var fields []string
	for _, p := range got {
		fields = append(fields, p.Field)
	}
	want := []string{"gateway.apis[0].name", "ratelimit.default_plan"}
	if diff := cmp.Diff(want, fields); diff != "" {
		t.Errorf("Problems() fields mismatch (-want +got):\n%s", diff)
	}
	var fe *FieldError
	if err := s.Validate(); !errors.As(err, &fe) || fe.Field != "apis[0].name" {
		t.Errorf("Validate() = %v, want a *FieldError at apis[0].name", err)
	}
}

// TestValidateCORS covers what a gateway used to refuse when it compiled
// a CORS policy.
func TestValidateCORS(t *testing.T) {
	tests := []struct {
		name string
		cors CORS
		want string // the first problem's field; "" for none
	}{
		{"exact", CORS{AllowedOrigins: []string{"https://a.example"}}, ""},
		{"wildcard", CORS{AllowedOrigins: []string{"https://*.a.example:8443"}}, ""},
		{"any", CORS{AllowedOrigins: []string{"*"}}, ""},
		{"any with credentials", CORS{AllowedOrigins: []string{"*"}, AllowCredentials: true}, "allowed_origins[0]"},
		{"wildcard tld", CORS{AllowedOrigins: []string{"https://*.com"}}, "allowed_origins[0]"},
		{"wildcard inside", CORS{AllowedOrigins: []string{"https://a.*.example"}}, "allowed_origins[0]"},
		{"path", CORS{AllowedOrigins: []string{"https://a.example/app"}}, "allowed_origins[0]"},
		{"no scheme", CORS{AllowedOrigins: []string{"a.example"}}, "allowed_origins[0]"},
		{"none", CORS{}, "allowed_origins"},
		{"bad header", CORS{AllowedOrigins: []string{"https://a.example"}, AllowedHeaders: []string{"a b"}}, "allowed_headers[0]"},
		{"any header", CORS{AllowedOrigins: []string{"https://a.example"}, AllowedHeaders: []string{"*"}}, "allowed_headers[0]"},
		{"lower-case method", CORS{AllowedOrigins: []string{"https://a.example"}, AllowedMethods: []string{"get"}}, "allowed_methods[0]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := validSnapshot()
			s.APIs[0].CORS = &tc.cors
			s.ApplyDefaults()
			got := ""
			if p := s.Problems(Fields{}); len(p) > 0 {
				got = strings.TrimPrefix(p[0].Field, "apis[0].cors.")
			}
			if got != tc.want {
				t.Errorf("first problem at %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCloneIsDeep(t *testing.T) {
	s := validSnapshot()
	s.APIs[0].CORS = &CORS{AllowedOrigins: []string{"https://a.example"}}
	c := s.Clone()
	c.APIs[0].Operations[0].Scopes[0] = "changed"
	c.APIs[0].Limits[0].Key[0] = "changed"
	c.APIs[0].CORS.AllowedOrigins[0] = "changed"
	c.Issuers[0].Algorithms[0] = "changed"
	c.RateLimit.Plans["gold"][0].Name = "changed"
	c.RateLimit.ClientPlans["svc"] = "changed"
	if s.APIs[0].Operations[0].Scopes[0] != "read" || s.APIs[0].Limits[0].Key[0] != "sub" ||
		s.APIs[0].CORS.AllowedOrigins[0] != "https://a.example" || s.Issuers[0].Algorithms[0] != "ES256" ||
		s.RateLimit.Plans["gold"][0].Name != "gold-rate" || s.RateLimit.ClientPlans["svc"] != "gold" {
		t.Error("editing a clone changed the original")
	}
}

func TestApplyDefaults(t *testing.T) {
	s := Snapshot{
		APIs:      []API{{Name: "a", Limits: []Limit{{Name: "x", Strict: true}}}},
		RateLimit: RateLimits{Plans: map[string][]Limit{"p": {{Name: "y"}}}},
	}
	s.ApplyDefaults()
	a := s.APIs[0]
	if a.Version != "v1" || a.MaxBodyBytes != DefaultMaxBodyBytes || a.Timeouts.Dial.Duration() != DefaultDialTimeout ||
		a.Limits[0].OnBackendError != OnErrorDeny || !cmp.Equal(a.Tokens, []string{"jwt", "opaque", "split"}) {
		t.Errorf("API defaults = %+v", a)
	}
	if p := s.RateLimit.Plans["p"][0]; p.OnBackendError != OnErrorLocal || !cmp.Equal(p.Key, []string{"client_id"}) {
		t.Errorf("plan limit defaults = %+v", p)
	}
	if !cmp.Equal(s.StripHeaderPrefixes, []string{"X-Portcullis-"}) {
		t.Errorf("StripHeaderPrefixes = %q", s.StripHeaderPrefixes)
	}
}

// TestNoIO keeps the package's promise: it imports neither the
// configuration nor the store, and nothing that does I/O.
func TestNoIO(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	forbidden := []string{
		"github.com/portcullis/portcullis/internal/config",
		"github.com/portcullis/portcullis/internal/store",
		"net/http", "os", "io/fs", "database/sql",
	}
	fset := token.NewFileSet()
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			for _, bad := range forbidden {
				if path == bad {
					t.Errorf("%s imports %s", file, path)
				}
			}
		}
	}
}
