package tokenhandler

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/portcullis/portcullis/internal/duration"
)

const configYAML = `
spas:
  - name: warehouse
    path_prefix: /bff/warehouse
    allowed_origins: [https://warehouse.example.com]
    issuer: https://id.example.com
    client_id: warehouse-spa
    client_secret_env: WAREHOUSE_SPA_SECRET
    redirect_uri: https://warehouse.example.com/callback
    scopes: [openid, profile, list_items]
    cookie_keys:
      - {id: "2026-03", env: WAREHOUSE_COOKIE_KEY}
      - {id: "2025-12", file: keys/old.key}
    api_paths: [/warehouse]
`

func validSPA() SPA {
	s := SPA{
		Name:            "warehouse",
		PathPrefix:      "/bff/warehouse",
		AllowedOrigins:  []string{"https://warehouse.example.com"},
		Issuer:          "https://id.example.com",
		ClientID:        "warehouse-spa",
		ClientSecretEnv: "WAREHOUSE_SPA_SECRET",
		RedirectURI:     "https://warehouse.example.com/callback",
		CookieKeys:      []CookieKey{{ID: "k1", Env: "KEY"}},
		APIPaths:        []string{"/warehouse"},
	}
	s.ApplyDefaults()
	return s
}

func TestConfigParseAndDefaults(t *testing.T) {
	dec := yaml.NewDecoder(strings.NewReader(configYAML))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	s := c.SPAs[0]
	if s.CookiePrefix != "__Host-pc-warehouse-" || s.Development() {
		t.Errorf("prefix %q, development %v", s.CookiePrefix, s.Development())
	}
	if s.SessionLifetime.Duration() != 8*time.Hour || s.AccessCookieLifetime.Duration() != time.Hour {
		t.Errorf("lifetimes %s %s", s.SessionLifetime, s.AccessCookieLifetime)
	}

	dev := SPA{Name: "dev", RedirectURI: "http://localhost:5173/"}
	dev.ApplyDefaults()
	if dev.CookiePrefix != "pc-dev-" || !dev.Development() || !slices.Equal(dev.Scopes, []string{"openid"}) {
		t.Errorf("development defaults: prefix %q, scopes %v", dev.CookiePrefix, dev.Scopes)
	}
}

// TestConfigProblems: each mistake is named by its field.
func TestConfigProblems(t *testing.T) {
	cases := []struct {
		name   string
		change func(*SPA)
		want   []string
	}{
		{"valid", func(*SPA) {}, nil},
		{"name", func(s *SPA) { s.Name = "Ware House" }, []string{"x.name"}},
		{"prefix trailing slash", func(s *SPA) { s.PathPrefix = "/bff/" }, []string{"x.path_prefix"}},
		{"prefix dot segment", func(s *SPA) { s.PathPrefix = "/bff/../admin" }, []string{"x.path_prefix"}},
		{"no origins", func(s *SPA) { s.AllowedOrigins = nil }, []string{"x.allowed_origins"}},
		{"wildcard origin", func(s *SPA) { s.AllowedOrigins = []string{"https://*.example.com"} }, []string{"x.allowed_origins[0]"}},
		{"origin with path", func(s *SPA) { s.AllowedOrigins = []string{"https://a.example.com/app"} }, []string{"x.allowed_origins[0]"}},
		{"plain http origin", func(s *SPA) { s.AllowedOrigins = []string{"http://a.example.com"} }, []string{"x.allowed_origins[0]"}},
		{"loopback origin with https redirect", func(s *SPA) { s.AllowedOrigins = []string{"http://127.0.0.1:5173"} }, []string{"x.allowed_origins[0]"}},
		{"plain http redirect", func(s *SPA) { s.RedirectURI = "http://warehouse.example.com/cb" }, []string{"x.redirect_uri"}},
		{"redirect with fragment", func(s *SPA) { s.RedirectURI = "https://warehouse.example.com/#cb" }, []string{"x.redirect_uri"}},
		{"issuer http", func(s *SPA) { s.Issuer = "http://id.example.com" }, []string{"x.issuer"}},
		{"no client id", func(s *SPA) { s.ClientID = "" }, []string{"x.client_id"}},
		{"two secrets", func(s *SPA) { s.ClientSecretFile = "s" }, []string{"x.client_secret"}},
		{"no secret", func(s *SPA) { s.ClientSecretEnv = "" }, []string{"x.client_secret"}},
		{"no openid", func(s *SPA) { s.Scopes = []string{"profile"} }, []string{"x.scopes"}},
		{"bad scope", func(s *SPA) { s.Scopes = []string{"openid", "a\"b"} }, []string{"x.scopes[1]"}},
		{"__Host- in development", func(s *SPA) {
			s.RedirectURI, s.AllowedOrigins = "http://127.0.0.1:5173/", []string{"http://127.0.0.1:5173"}
		}, []string{"x.cookie_prefix"}},
		{"no keys", func(s *SPA) { s.CookieKeys = nil }, []string{"x.cookie_keys"}},
		{"key id twice", func(s *SPA) { s.CookieKeys = append(s.CookieKeys, CookieKey{ID: "k1", File: "f"}) }, []string{"x.cookie_keys[1].id"}},
		{"key without source", func(s *SPA) { s.CookieKeys[0].Env = "" }, []string{"x.cookie_keys[0]"}},
		{"api path under the prefix", func(s *SPA) { s.APIPaths = []string{"/bff/warehouse/api"} }, []string{"x.api_paths[0]"}},
		{"session too short", func(s *SPA) { s.SessionLifetime = duration.Duration(time.Minute) }, []string{"x.session_lifetime"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := validSPA()
			s.CookieKeys = slices.Clone(s.CookieKeys)
			c.change(&s)
			var got []string
			for _, p := range s.Problems("x") {
				got = append(got, p.Field)
				if p.Msg == "" {
					t.Errorf("%s: empty message", p.Field)
				}
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfigUniqueness(t *testing.T) {
	a, b := validSPA(), validSPA()
	b.PathPrefix = "/bff/warehouse/v2"
	c := Config{SPAs: []SPA{a, b}}
	var got []string
	for _, p := range c.Problems("gateway.token_handler") {
		got = append(got, p.Error())
	}
	want := []string{
		`gateway.token_handler.spas[1].name: "warehouse" is used by spas[0] too`,
		"gateway.token_handler.spas[1].path_prefix: overlaps the path prefix of spas[0]",
		"gateway.token_handler.spas[1].api_paths[0]: is fronted by spas[0] too",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	var fe *FieldError
	if err := c.Validate(); !errors.As(err, &fe) {
		t.Errorf("Validate = %v, want *FieldError", err)
	}
}

// TestNewReadsSecrets: New reads the secret and keys through the
// injected sources, refuses what is missing and never quotes a secret.
func TestNewReadsSecrets(t *testing.T) {
	key := "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
	env := map[string]string{"WAREHOUSE_SPA_SECRET": "s3cret-value", "KEY": key}
	opts := func(env map[string]string) Options {
		return Options{Getenv: func(k string) string { return env[k] }, Now: fixedNow}
	}
	if _, err := New(validSPA(), opts(env)); err != nil {
		t.Fatalf("New: %v", err)
	}
	for name, e := range map[string]map[string]string{
		"no secret": {"KEY": key},
		"no key":    {"WAREHOUSE_SPA_SECRET": "s3cret-value"},
		"short key": {"WAREHOUSE_SPA_SECRET": "s3cret-value", "KEY": "c2hvcnQ="},
	} {
		_, err := New(validSPA(), opts(e))
		if err == nil {
			t.Errorf("%s: New accepted it", name)
			continue
		}
		if strings.Contains(err.Error(), "s3cret-value") || strings.Contains(err.Error(), "c2hvcnQ") {
			t.Errorf("%s: error %q quotes a secret", name, err)
		}
	}

	// A key file readable by others is refused; 0600 is read.
	dir := t.TempDir()
	path := filepath.Join(dir, "cookie.key")
	if err := os.WriteFile(path, []byte(key+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := validSPA()
	s.CookieKeys = []CookieKey{{ID: "k1", File: "cookie.key"}}
	o := opts(env)
	o.BaseDir = dir
	if _, err := New(s, o); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("group-readable key file: %v", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(s, o); err != nil {
		t.Errorf("0600 key file: %v", err)
	}
}
