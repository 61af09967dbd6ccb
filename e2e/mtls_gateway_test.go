package e2e

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/clientcert"
	"github.com/portcullis/portcullis/internal/clientcert/clientcerttest"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/store"
)

// proxyTransport stands in for a TLS-terminating proxy in front of the
// authorization server: it forwards the client certificate in RFC 9440's
// Client-Cert header, from loopback, which the server trusts.
type proxyTransport struct{ cert *clientcerttest.Cert }

func (p proxyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(clientcert.HeaderClientCert, clientcert.FormatHeader(p.cert.Cert))
	return http.DefaultTransport.RoundTrip(r)
}

// TestMTLSBoundTokenThroughGateway: the whole RFC 8705 path through real
// servers. golang.org/x/oauth2 gets a token by tls_client_auth, bound to
// the service's certificate (cnf x5t#S256); the gateway, whose TLS
// listener asks for client certificates, forwards the call only when the
// same certificate comes with it: the token stolen and replayed without
// it, or with another certificate, is refused.
func TestMTLSBoundTokenThroughGateway(t *testing.T) {
	dir := t.TempDir()
	serverCA, clientCA := clientcerttest.NewCA(t, "server CA"), clientcerttest.NewCA(t, "client CA")
	gwCert, gwKey := serverCA.Server(t).WriteFiles(t, dir, "gateway")
	caFile := filepath.Join(dir, "client-ca.pem")
	if err := os.WriteFile(caFile, clientCA.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"items":[]}`)
	}))
	t.Cleanup(backend.Close)

	e := start(t, func(cfg *config.Config, _ map[string]string) {
		cfg.Clients.MTLS = config.ClientMTLS{Enabled: true, ClientCAFile: caFile,
			Header: clientcert.HeaderClientCert, TrustedProxies: []string{"127.0.0.1/32", "::1"}}
		cfg.Tokens.DefaultAudience = apiAudience
		cfg.Listen.GatewayTLS = config.GatewayTLS{CertFile: gwCert, KeyFile: gwKey, ClientCerts: config.ClientCertsRequest}
		cfg.Gateway = config.Gateway{
			Issuers: []config.Issuer{{Issuer: "http://127.0.0.1:0"}},
			APIs: []config.API{{
				Name: "inventory", BasePath: "/inventory", Upstream: backend.URL,
				Audiences: []string{apiAudience}, MTLS: catalog.MTLSRequired, Tokens: []string{catalog.TokenJWT},
				Operations: []config.Operation{{Method: "GET", Path: "/items", Scopes: []string{"list_items"}}},
			}},
		}
	})
	e.client(store.Client{ID: "svc", AuthMethod: store.AuthTLSClient,
		TLSClientAuth: store.TLSClientAuth{SANURI: "spiffe://example.com/svc"}, CertBoundAccessTokens: true,
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"list_items"}, AccessTokenFormat: store.FormatJWT})
	cert := clientCA.Issue(t, clientcerttest.Spec{URIs: []string{"spiffe://example.com/svc"}})

	cc := clientcredentials.Config{ClientID: "svc", TokenURL: e.issuer + "/oauth2/token",
		Scopes: []string{"list_items"}, AuthStyle: oauth2.AuthStyleInParams}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: proxyTransport{cert: &cert}})
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatalf("token: %v", err)
	}

	call := func(c *clientcerttest.Cert) int {
		t.Helper()
		tc := &tls.Config{RootCAs: serverCA.Pool(), MinVersion: tls.VersionTLS12}
		if c != nil {
			tc.Certificates = []tls.Certificate{c.TLS()}
		}
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
		defer client.CloseIdleConnections()
		req, _ := http.NewRequest(http.MethodGet, e.gatewayURL+"/inventory/items", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("gateway call: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := call(&cert); got != http.StatusOK {
		t.Fatalf("with the bound certificate: %d, want 200", got)
	}
	other := clientCA.Issue(t, clientcerttest.Spec{URIs: []string{"spiffe://example.com/svc"}})
	for name, c := range map[string]*clientcerttest.Cert{"no certificate": nil, "another certificate of the same name": &other} {
		if got := call(c); got != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, got)
		}
	}
	// A client's own Client-Cert header names nothing at the gateway.
	tc := &tls.Config{RootCAs: serverCA.Pool(), MinVersion: tls.VersionTLS12}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
	req, _ := http.NewRequest(http.MethodGet, e.gatewayURL+"/inventory/items", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set(clientcert.HeaderClientCert, clientcert.FormatHeader(cert.Cert))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a client-sent Client-Cert header: %d, want 401", resp.StatusCode)
	}
}
