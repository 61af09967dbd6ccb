package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/portcullis/portcullis/internal/catalog"
)

// asTokenEndpoint is the authorization server's token endpoint as the
// gateway's upstream_token step sees it: it checks the gateway's client
// and answers exchanges per subject, refusing the subjects in deny.
type asTokenEndpoint struct {
	*httptest.Server
	mu    sync.Mutex
	forms []url.Values
	deny  map[string]string // subject token → error code
}

func newASTokenEndpoint(t *testing.T, clientID, secret string) *asTokenEndpoint {
	a := &asTokenEndpoint{deny: map[string]string{}}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if id, s, ok := r.BasicAuth(); !ok || id != clientID || s != secret {
			w.WriteHeader(401)
			_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
			return
		}
		_ = r.ParseForm()
		a.mu.Lock()
		a.forms = append(a.forms, r.PostForm)
		code := a.deny[r.PostForm.Get("subject_token")]
		n := len(a.forms)
		a.mu.Unlock()
		if code != "" {
			w.WriteHeader(400)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": code})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": fmt.Sprintf("exchanged-%d", n),
			"token_type":   "Bearer", "expires_in": 300,
			"issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
		})
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *asTokenEndpoint) calls() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.forms)
}

// TestUpstreamTokenExchange: with upstream_token mode exchange, the
// upstream receives the token the authorization server exchanged the
// caller's for (never the caller's own), one exchange per caller token
// however many calls; a refusal by the exchange policy is the caller's
// 403 and the upstream is not called; the gateway's own client failing
// is a 502; a public operation is forwarded without any token.
func TestUpstreamTokenExchange(t *testing.T) {
	e := newEnv(t, nil)
	as := newASTokenEndpoint(t, e.is.ClientID, e.is.ClientSecret)
	cfg := e.cfg
	cfg.APIs[0].UpstreamToken = &catalog.UpstreamToken{
		Mode: catalog.UpstreamTokenExchange, TokenEndpoint: as.URL,
		Audience: []string{"https://inventory.internal"}, Scope: []string{"inventory:read"},
	}
	if err := e.gw.Reload(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}

	tok := e.token(t, "jwt", "list_items")
	for range 3 {
		w := e.serve(request("GET", "/warehouse/items", tok))
		if w.Code != http.StatusOK {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	last, _ := e.up.Last()
	got := last.Header.Get("Authorization")
	if !strings.HasPrefix(got, "Bearer exchanged-") || strings.Contains(got, tok) {
		t.Fatalf("upstream Authorization = %q, want the exchanged token", got)
	}
	if n := as.calls(); n != 1 {
		t.Fatalf("exchanges = %d, want 1 for one caller token", n)
	}
	f := as.forms[0]
	if f.Get("subject_token") != tok || f.Get("audience") != "https://inventory.internal" || f.Get("scope") != "inventory:read" {
		t.Errorf("exchange form = %v", f)
	}

	// The exchange policy refuses another caller: 403, upstream not called.
	other := e.token(t, "opaque", "list_items")
	as.mu.Lock()
	as.deny[other] = "invalid_target"
	as.mu.Unlock()
	e.up.Reset()
	w := e.serve(request("GET", "/warehouse/items", other))
	if w.Code != http.StatusForbidden {
		t.Fatalf("refused exchange: status %d: %s", w.Code, w.Body)
	}
	if len(e.up.Requests()) != 0 {
		t.Fatal("the upstream was called after a refused exchange")
	}
	if strings.Contains(w.Body.String(), other) {
		t.Fatal("the answer quotes the caller's token")
	}

	// A public operation needs no exchange and sends no token.
	w = e.serve(request("GET", "/warehouse/health", ""))
	if w.Code != http.StatusOK {
		t.Fatalf("public: status %d", w.Code)
	}
	if last, _ := e.up.Last(); last.Header.Get("Authorization") != "" {
		t.Errorf("public call forwarded Authorization %q", last.Header.Get("Authorization"))
	}

	// The gateway's own client refused (a rotated secret): 502.
	as2 := newASTokenEndpoint(t, e.is.ClientID, "another-secret")
	cfg.APIs[0].UpstreamToken.TokenEndpoint = as2.URL
	if err := e.gw.Reload(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	w = e.serve(request("GET", "/warehouse/items", e.token(t, "jwt", "list_items")))
	if w.Code != http.StatusBadGateway {
		t.Fatalf("gateway client refused: status %d: %s", w.Code, w.Body)
	}
}

// TestUpstreamTokenClientCredentials: the gateway's own token goes to
// the upstream for every caller, fetched once and kept across a reload
// that does not change it.
func TestUpstreamTokenClientCredentials(t *testing.T) {
	e := newEnv(t, nil)
	as := newASTokenEndpoint(t, e.is.ClientID, e.is.ClientSecret)
	cfg := e.cfg
	cfg.APIs[0].UpstreamToken = &catalog.UpstreamToken{Mode: catalog.UpstreamTokenClient, TokenEndpoint: as.URL}
	if err := e.gw.Reload(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"jwt", "opaque", "jwt"} {
		if w := e.serve(request("GET", "/warehouse/items", e.token(t, kind, "list_items"))); w.Code != http.StatusOK {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	if err := e.gw.Reload(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	if w := e.serve(request("GET", "/warehouse/health", "")); w.Code != http.StatusOK {
		t.Fatalf("public: status %d", w.Code)
	}
	if n := as.calls(); n != 1 {
		t.Fatalf("token requests = %d, want 1", n)
	}
	if last, _ := e.up.Last(); !strings.HasPrefix(last.Header.Get("Authorization"), "Bearer exchanged-") {
		t.Errorf("public call: Authorization = %q, want the gateway's token", last.Header.Get("Authorization"))
	}
	if f := as.forms[0]; f.Get("grant_type") != "client_credentials" {
		t.Errorf("form = %v", f)
	}
}

func TestUpstreamTokenValidation(t *testing.T) {
	base := func() catalog.Snapshot {
		return catalog.Snapshot{
			Issuers: []catalog.Issuer{{Issuer: "https://as.example.com", ClientID: "gw", ClientSecretEnv: "S"},
				{Issuer: "https://other.example.com"}},
			APIs: []catalog.API{{Name: "a", BasePath: "/a", Upstream: "http://127.0.0.1:1", Issuer: "https://as.example.com", Audiences: []string{"a"},
				Operations: []catalog.Operation{{Method: "GET", Path: "/"}}}},
		}
	}
	for _, tc := range []struct {
		name string
		ut   catalog.UpstreamToken
		want string
	}{
		{"mode", catalog.UpstreamToken{Mode: "password"}, "upstream_token.mode"},
		{"exchange without audience", catalog.UpstreamToken{Mode: "exchange"}, "upstream_token.audience"},
		{"audience not a URI", catalog.UpstreamToken{Mode: "exchange", Audience: []string{"inventory"}}, "upstream_token.audience[0]"},
		{"unknown issuer", catalog.UpstreamToken{Mode: "client_credentials", Issuer: "https://nope.example.com"}, "upstream_token.issuer"},
		{"issuer without client", catalog.UpstreamToken{Mode: "client_credentials", Issuer: "https://other.example.com"}, "upstream_token.issuer"},
		{"plain http endpoint", catalog.UpstreamToken{Mode: "client_credentials", TokenEndpoint: "http://as.example.com/token"}, "upstream_token.token_endpoint"},
		{"scope", catalog.UpstreamToken{Mode: "client_credentials", Scope: []string{"a b"}}, "upstream_token.scope[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := base()
			ut := tc.ut
			s.APIs[0].UpstreamToken = &ut
			s.ApplyDefaults()
			err := s.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want an error naming %s", err, tc.want)
			}
		})
	}
	s := base()
	s.APIs[0].UpstreamToken = &catalog.UpstreamToken{Mode: "exchange", Audience: []string{"https://inventory.internal"}}
	s.ApplyDefaults()
	if err := s.Validate(); err != nil {
		t.Fatalf("valid upstream_token refused: %v", err)
	}
}
