package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/portcullis/portcullis/internal/token"
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
			u, err := e.get(t.Context())
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
	if u, err := e.get(t.Context()); err != nil || u != srv.URL+"/introspect" {
		t.Errorf("get() = %q, %v; want %q", u, err, srv.URL+"/introspect")
	}
}

// TestDiscoverySurvivesCancelledCaller: discovery runs detached from the
// request that started it. The first caller hanging up mid-discovery
// neither cancels it nor caches a failure: a second request gets the
// endpoint once discovery finishes.
func TestDiscoverySurvivesCancelledCaller(t *testing.T) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-release
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": srv.URL, "introspection_endpoint": srv.URL + "/introspect"})
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	built := make(chan string, 1)
	li := &lazyIntrospector{
		endpoint: &introspectionEndpoint{issuer: srv.URL, client: srv.Client()},
		build: func(u string) (tokenResolver, error) {
			built <- u
			return resolverFunc(func(context.Context, string) (*token.Verified, error) {
				return &token.Verified{Claims: &token.Claims{Subject: "alice"}}, nil
			}), nil
		},
	}
	tok := "pca_" + strings.Repeat("A", 43)

	ctx, cancel := context.WithCancel(t.Context())
	first := make(chan error, 1)
	go func() {
		_, err := li.Resolve(ctx, tok)
		first <- err
	}()
	<-entered // discovery is under way
	cancel()
	if err := <-first; err == nil {
		t.Fatal("the cancelled caller got an answer")
	}
	close(release)
	v, err := li.Resolve(t.Context(), tok)
	if err != nil {
		t.Fatalf("second request: %v (a failure cached for the cancelled caller)", err)
	}
	if v.Claims.Subject != "alice" {
		t.Errorf("second request resolved to %q", v.Claims.Subject)
	}
	if u := <-built; u != srv.URL+"/introspect" {
		t.Errorf("built with %q, want the discovered endpoint", u)
	}
}

// TestDiscoveryCoalesced: concurrent first requests share one discovery,
// and none holds a lock while it runs (each waits on its own context).
func TestDiscoveryCoalesced(t *testing.T) {
	var hits atomic.Int64
	release := make(chan struct{})
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		<-release
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": srv.URL, "introspection_endpoint": srv.URL + "/introspect"})
	}))
	t.Cleanup(srv.Close)
	e := &introspectionEndpoint{issuer: srv.URL, client: srv.Client()}
	const callers = 20
	results := make(chan error, callers)
	for range callers {
		go func() {
			_, err := e.get(t.Context())
			results <- err
		}()
	}
	// A caller with a context already done returns at once, although
	// discovery is still held: nothing blocks it on a lock.
	done, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := e.get(done); err == nil {
		t.Error("a caller whose context is done got an endpoint before discovery finished")
	}
	close(release)
	for range callers {
		if err := <-results; err != nil {
			t.Errorf("get: %v", err)
		}
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("discovery fetches = %d, want 1", n)
	}
}

type resolverFunc func(ctx context.Context, raw string) (*token.Verified, error)

func (f resolverFunc) Resolve(ctx context.Context, raw string) (*token.Verified, error) {
	return f(ctx, raw)
}
