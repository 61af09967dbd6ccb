package issuer

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// metadataServer serves issuer metadata: docs maps a well-known path to
// the document there (its issuer filled in with the server's URL when
// empty); other paths are 404. start makes it an http or https server.
func metadataServer(t *testing.T, start func(http.Handler) *httptest.Server, docs map[string]map[string]any) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	srv = start(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		doc, ok := docs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		out := map[string]any{"issuer": srv.URL}
		for k, v := range doc {
			out[k] = v
		}
		_ = json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestDiscoverEndpoint(t *testing.T) {
	const introspect = "https://as.example/introspect"
	tests := []struct {
		name    string
		tls     bool
		docs    map[string]map[string]any
		want    string
		wantErr string
	}{
		{"openid configuration", false, map[string]map[string]any{
			wellKnownOpenID: {"introspection_endpoint": introspect},
		}, introspect, ""},
		{"rfc 8414 when openid configuration is absent", false, map[string]map[string]any{
			wellKnownOAuth: {"introspection_endpoint": introspect},
		}, introspect, ""},
		{"rfc 8414 when openid configuration does not name it", false, map[string]map[string]any{
			wellKnownOpenID: {"jwks_uri": "https://as.example/jwks"},
			wellKnownOAuth:  {"introspection_endpoint": introspect},
		}, introspect, ""},
		{"named nowhere", false, map[string]map[string]any{
			wellKnownOpenID: {"jwks_uri": "https://as.example/jwks"},
			wellKnownOAuth:  {"jwks_uri": "https://as.example/jwks"},
		}, "", "has no introspection_endpoint"},
		{"another issuer's document", false, map[string]map[string]any{
			wellKnownOpenID: {"issuer": "https://evil.example", "introspection_endpoint": introspect},
		}, "", "names issuer"},
		{"endpoint over http off loopback", false, map[string]map[string]any{
			wellKnownOpenID: {"introspection_endpoint": "http://as.example/introspect"},
		}, "", "https"},
		{"https issuer, endpoint over http on loopback", true, map[string]map[string]any{
			wellKnownOpenID: {"introspection_endpoint": "http://127.0.0.1:1/introspect"},
		}, "", "downgrades to http"},
		{"https issuer, https endpoint", true, map[string]map[string]any{
			wellKnownOpenID: {"introspection_endpoint": introspect},
		}, introspect, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := httptest.NewServer
			if tc.tls {
				start = httptest.NewTLSServer
			}
			srv := metadataServer(t, start, tc.docs)
			got, err := DiscoverEndpoint(t.Context(), srv.Client(), srv.URL, "introspection_endpoint")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("DiscoverEndpoint() = %q, %v; want an error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("DiscoverEndpoint() = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestDiscoverEndpointRedirects: a redirect may move the document, but
// never to clear text off loopback, and never from https to http.
func TestDiscoverEndpointRedirects(t *testing.T) {
	var plainHits atomic.Int64
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		plainHits.Add(1)
		http.NotFound(w, r)
	}))
	t.Cleanup(plain.Close)
	tests := []struct {
		name     string
		tls      bool
		location string
	}{
		{"https to http on loopback", true, plain.URL + wellKnownOpenID},
		{"http to http off loopback", false, "http://as.example" + wellKnownOpenID},
		{"https to http off loopback", true, "http://as.example" + wellKnownOpenID},
		{"to another scheme", false, "ftp://as.example" + wellKnownOpenID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.RedirectHandler(tc.location, http.StatusFound)
			srv := httptest.NewServer(h)
			if tc.tls {
				srv.Close()
				srv = httptest.NewTLSServer(h)
			}
			t.Cleanup(srv.Close)
			_, err := DiscoverEndpoint(t.Context(), srv.Client(), srv.URL, "introspection_endpoint")
			if err == nil || !strings.Contains(err.Error(), "redirect refused") {
				t.Errorf("DiscoverEndpoint() error = %v, want a refused redirect", err)
			}
		})
	}
	if n := plainHits.Load(); n != 0 {
		t.Errorf("the plain-http server was reached %d times", n)
	}
}

func TestDiscoverEndpointRefusesIssuer(t *testing.T) {
	for _, issuer := range []string{"", "http://as.example", "https://as.example?x=1", "https://as.example#", "https://u:p@as.example", "as.example"} {
		if _, err := DiscoverEndpoint(t.Context(), nil, issuer, "jwks_uri"); err == nil {
			t.Errorf("DiscoverEndpoint(%q) = nil error, want a refusal", issuer)
		}
	}
}

func TestWellKnownURLs(t *testing.T) {
	tests := []struct {
		issuer string
		want   []string
	}{
		{"https://as.example", []string{"https://as.example/.well-known/openid-configuration", "https://as.example/.well-known/oauth-authorization-server"}},
		{"https://as.example/", []string{"https://as.example/.well-known/openid-configuration", "https://as.example/.well-known/oauth-authorization-server"}},
		{"https://as.example/tenant/1", []string{"https://as.example/tenant/1/.well-known/openid-configuration", "https://as.example/.well-known/oauth-authorization-server/tenant/1"}},
	}
	for _, tc := range tests {
		t.Run(tc.issuer, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, wellKnownURLs(tc.issuer)); diff != "" {
				t.Errorf("wellKnownURLs (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDiscoveryDocuments covers documents the test issuer cannot serve.
func TestDiscoveryDocuments(t *testing.T) {
	tests := []struct {
		name   string
		openID string // "" answers 404
		oauth  string
		want   string // "" is success
	}{
		{"jwks_uri only in the RFC 8414 document", `{"issuer":"ISS"}`, `{"issuer":"ISS","jwks_uri":"ISS/jwks.json"}`, ""},
		{"no jwks_uri anywhere", `{"issuer":"ISS"}`, `{"issuer":"ISS"}`, "no jwks_uri"},
		{"not json", `<html>`, ``, "not a json object"},
		{"issuer not a string", `{"issuer":1,"jwks_uri":"ISS/jwks.json"}`, ``, "names issuer"},
		{"jwks_uri off loopback in clear text", `{"issuer":"ISS","jwks_uri":"http://keys.example/jwks"}`, ``, "https"},
		{"neither document", ``, ``, "status 404"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var iss string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				doc := ""
				switch r.URL.Path {
				case wellKnownOpenID:
					doc = tc.openID
				case wellKnownOAuth:
					doc = tc.oauth
				case "/jwks.json":
					doc = `{"keys":[]}`
				}
				if doc == "" {
					http.NotFound(w, r)
					return
				}
				_, _ = w.Write([]byte(strings.ReplaceAll(doc, "ISS", iss)))
			}))
			defer srv.Close()
			iss = srv.URL
			got, err := DiscoverEndpoint(t.Context(), srv.Client(), iss, "jwks_uri")
			switch {
			case tc.want == "" && (err != nil || got != iss+"/jwks.json"):
				t.Errorf("discover = %q, %v; want %s/jwks.json", got, err, iss)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("discover = %q, %v; want an error about %q", got, err, tc.want)
			}
		})
	}
}
