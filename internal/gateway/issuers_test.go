package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestIntrospectionDiscoveryRedirects: the introspection endpoint
// receives the gateway's client secret, so its discovery follows no
// redirect from https to http, nor to clear text off loopback.
func TestIntrospectionDiscoveryRedirects(t *testing.T) {
	// The clear-text server would name an endpoint of its own; it must
	// never even be asked.
	var plainHits atomic.Int64
	var plain *httptest.Server
	plain = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		plainHits.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": plain.URL, "introspection_endpoint": plain.URL + "/introspect"})
	}))
	t.Cleanup(plain.Close)
	tests := []struct {
		name     string
		tls      bool
		location string
	}{
		{"https to http", true, plain.URL + "/.well-known/openid-configuration"},
		{"to http off loopback", false, "http://as.example/.well-known/openid-configuration"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.RedirectHandler(tc.location, http.StatusFound)
			var srv *httptest.Server
			if tc.tls {
				srv = httptest.NewTLSServer(h)
			} else {
				srv = httptest.NewServer(h)
			}
			t.Cleanup(srv.Close)
			e := &introspectionEndpoint{issuer: srv.URL, client: srv.Client()}
			u, err := e.get(t.Context(), time.Now())
			if err == nil || !strings.Contains(err.Error(), "redirect refused") {
				t.Errorf("get() = %q, %v; want a refused redirect", u, err)
			}
		})
	}
	if n := plainHits.Load(); n != 0 {
		t.Errorf("the clear-text server was asked %d times", n)
	}
}

// TestIntrospectionDiscoveryOverTLS is the control: an https issuer
// naming an https endpoint is discovered.
func TestIntrospectionDiscoveryOverTLS(t *testing.T) {
	var srv *httptest.Server
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": srv.URL, "introspection_endpoint": srv.URL + "/introspect"})
	}))
	t.Cleanup(srv.Close)
	e := &introspectionEndpoint{issuer: srv.URL, client: srv.Client()}
	if u, err := e.get(t.Context(), time.Now()); err != nil || u != srv.URL+"/introspect" {
		t.Errorf("get() = %q, %v; want %q", u, err, srv.URL+"/introspect")
	}
}
