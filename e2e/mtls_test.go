package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/portcullis/portcullis/internal/clientcert"
	"github.com/portcullis/portcullis/internal/clientcert/clientcerttest"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/store"
)

// mtlsEnv is a server whose authorization server listens with TLS and
// asks for client certificates (listen.authz_tls.client_certs: request),
// trusting clientCA for tls_client_auth (RFC 8705).
type mtlsEnv struct {
	*env
	serverCA, clientCA *clientcerttest.CA
}

func startMTLS(t *testing.T) *mtlsEnv {
	t.Helper()
	dir := t.TempDir()
	m := &mtlsEnv{serverCA: clientcerttest.NewCA(t, "server CA"), clientCA: clientcerttest.NewCA(t, "client CA")}
	certFile, keyFile := m.serverCA.Server(t).WriteFiles(t, dir, "authz")
	caFile := filepath.Join(dir, "client-ca.pem")
	if err := os.WriteFile(caFile, m.clientCA.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	m.env = start(t, func(cfg *config.Config, _ map[string]string) {
		cfg.Listen.AuthzTLS = config.AuthzTLS{CertFile: certFile, KeyFile: keyFile, ClientCerts: config.ClientCertsRequest}
		cfg.Clients.MTLS = config.ClientMTLS{Enabled: true, ClientCAFile: caFile}
	})
	return m
}

// httpClient trusts the server's CA and presents cert (nil: none).
func (m *mtlsEnv) httpClient(cert *clientcerttest.Cert) *http.Client {
	tc := &tls.Config{RootCAs: m.serverCA.Pool(), MinVersion: tls.VersionTLS12}
	if cert != nil {
		tc.Certificates = []tls.Certificate{cert.TLS()}
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
}

// TestMTLSClientCredentials: through the real server and its TLS
// listener, golang.org/x/oauth2's client credentials flow, with nothing
// but a client_id and the client certificate in its http.Client, gets a
// token by tls_client_auth (RFC 8705 §2.1) bound to that certificate
// (cnf x5t#S256, §3.1) and still of type Bearer; without the certificate
// it gets invalid_client.
func TestMTLSClientCredentials(t *testing.T) {
	m := startMTLS(t)
	if !strings.HasPrefix(m.issuer, "https://") {
		t.Fatalf("issuer %q: a TLS listener's derived issuer is https", m.issuer)
	}
	m.client(store.Client{ID: "svc", AuthMethod: store.AuthTLSClient,
		TLSClientAuth: store.TLSClientAuth{SubjectDN: "CN=svc,O=Example Corp"}, CertBoundAccessTokens: true,
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"list_items"}, AccessTokenFormat: store.FormatJWT})
	cert := m.clientCA.Issue(t, clientcerttest.Spec{Subject: pkix.Name{CommonName: "svc", Organization: []string{"Example Corp"}}})

	cc := clientcredentials.Config{ClientID: "svc", TokenURL: m.url("/oauth2/token"),
		Scopes: []string{"list_items"}, AuthStyle: oauth2.AuthStyleInParams}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, m.httpClient(&cert))
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatalf("token with the certificate: %v", err)
	}
	if tok.TokenType != "Bearer" {
		t.Errorf("token_type = %q, want Bearer (RFC 8705 §3)", tok.TokenType)
	}
	claims := jwtClaims(t, tok.AccessToken)
	cnf, _ := claims["cnf"].(map[string]any)
	if got, want := cnf["x5t#S256"], clientcert.Thumbprint(cert.Cert); got != want {
		t.Errorf("cnf x5t#S256 = %v, want %s", got, want)
	}

	// Introspection over the same listener reports the binding too.
	rsSecret := m.client(store.Client{ID: "rs", GrantTypes: []string{"client_credentials"}, CanIntrospect: true})
	req, _ := http.NewRequest(http.MethodPost, m.url("/oauth2/introspect"),
		strings.NewReader(url.Values{"token": {tok.AccessToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("rs", rsSecret)
	resp, err := m.httpClient(nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var in map[string]any
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := json.Unmarshal(body, &in); err != nil {
		t.Fatalf("introspection: %v: %s", err, body)
	}
	if c, _ := in["cnf"].(map[string]any); c["x5t#S256"] != clientcert.Thumbprint(cert.Cert) || in["token_type"] != "Bearer" {
		t.Errorf("introspection = %v, want cnf x5t#S256 and token_type Bearer", in)
	}

	for _, tc := range []struct {
		name string
		cert *clientcerttest.Cert
	}{
		{"without a certificate", nil},
		{"with a certificate of another CA", ptr(clientcerttest.NewCA(t, "rogue").Issue(t,
			clientcerttest.Spec{Subject: pkix.Name{CommonName: "svc", Organization: []string{"Example Corp"}}}))},
		{"with another subject", ptr(m.clientCA.Issue(t, clientcerttest.Spec{Subject: pkix.Name{CommonName: "svc2", Organization: []string{"Example Corp"}}}))},
	} {
		ctx := context.WithValue(context.Background(), oauth2.HTTPClient, m.httpClient(tc.cert))
		if _, err := cc.Token(ctx); !isOAuthError(err, "invalid_client") {
			t.Errorf("token %s: error %v, want invalid_client", tc.name, err)
		}
	}
}

// TestMTLSDiscoveryE2E: the discovery document of a server with mutual
// TLS offers both methods and bound tokens (RFC 8705 §3.3).
func TestMTLSDiscoveryE2E(t *testing.T) {
	m := startMTLS(t)
	resp, err := m.httpClient(nil).Get(m.url("/.well-known/oauth-authorization-server"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Methods []string `json:"token_endpoint_auth_methods_supported"`
		Bound   bool     `json:"tls_client_certificate_bound_access_tokens"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if !doc.Bound || !slices.Contains(doc.Methods, "tls_client_auth") || !slices.Contains(doc.Methods, "self_signed_tls_client_auth") {
		t.Errorf("discovery = %+v", doc)
	}
}

func ptr[T any](v T) *T { return &v }

// TestMTLSProxyHeader: behind a TLS-terminating proxy the certificate
// comes in RFC 9440's Client-Cert header, believed only from
// clients.mtls.trusted_proxies; from any other peer it is ignored.
func TestMTLSProxyHeader(t *testing.T) {
	ca := clientcerttest.NewCA(t, "client CA")
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	cert := ca.Issue(t, clientcerttest.Spec{URIs: []string{"spiffe://example.com/svc"}})
	for _, tc := range []struct {
		name    string
		proxies []string
		want    int
	}{
		{"from a trusted proxy", []string{"127.0.0.1/32", "::1"}, http.StatusOK},
		{"from a peer that is not a proxy", []string{"10.0.0.0/8"}, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := start(t, func(cfg *config.Config, _ map[string]string) {
				cfg.Clients.MTLS = config.ClientMTLS{Enabled: true, ClientCAFile: caFile,
					Header: clientcert.HeaderClientCert, TrustedProxies: tc.proxies}
			})
			e.client(store.Client{ID: "svc", AuthMethod: store.AuthTLSClient,
				TLSClientAuth: store.TLSClientAuth{SANURI: "spiffe://example.com/svc"}, CertBoundAccessTokens: true,
				GrantTypes: []string{"client_credentials"}, Scopes: []string{"list_items"}})
			status, _, m := e.postForm("/oauth2/token", "", "",
				url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc"}},
				map[string]string{clientcert.HeaderClientCert: clientcert.FormatHeader(cert.Cert)})
			if status != tc.want {
				t.Fatalf("token = %d %v, want %d", status, m, tc.want)
			}
		})
	}
}
