package server

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/clientcert"
	"github.com/portcullis/portcullis/internal/clientcert/clientcerttest"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/gateway/gatewaytest"
)

// TestGatewayTLSCertificateBoundToken: with listen.gateway_tls.client_certs
// the gateway's TLS handshake asks for a client certificate without
// requiring one, and a token bound to a certificate (RFC 8705 §3) passes
// only on a connection that presented it; forward_client_cert hands the
// certificate to the upstream in Client-Cert. With client_ca_file a
// certificate that does not chain to it fails the handshake.
func TestGatewayTLSCertificateBoundToken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := clientcerttest.NewCA(t, "gateway test ca")
	certFile, keyFile := ca.Server(t).WriteFiles(t, dir, "gateway")
	caFile := filepath.Join(dir, "clients.pem")
	if err := os.WriteFile(caFile, ca.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	issued := ca.Issue(t, clientcerttest.Spec{Subject: pkix.Name{CommonName: "svc"}})
	selfSigned := clientcerttest.SelfSigned(t, clientcerttest.Spec{Subject: pkix.Name{CommonName: "svc"}})
	is := gatewaytest.NewIssuer(t)
	up := gatewaytest.NewUpstream(t)

	start := func(t *testing.T, caFile string) *Running {
		cfg := testConfig(t)
		cfg.Listen.GatewayTLS = config.GatewayTLS{CertFile: certFile, KeyFile: keyFile,
			ClientCerts: config.ClientCertsRequest, ClientCAFile: caFile}
		cfg.Gateway.Issuers = []catalog.Issuer{{Issuer: is.URL()}}
		cfg.Gateway.APIs = []catalog.API{{Name: "payments", BasePath: "/payments", Upstream: up.URL(),
			Audiences: []string{"payments"}, Tokens: []string{catalog.TokenJWT}, ForwardClientCert: true,
			Operations: []catalog.Operation{{Method: "GET", Path: "/balance", Scopes: []string{"pay"}}}}}
		return startTest(t, cfg)
	}
	token := func(cnf map[string]any) string {
		c := gatewaytest.Claims{Subject: "svc", ClientID: "svc", Scope: "pay", Audience: []string{"payments"}}
		if cnf != nil {
			c.Extra = map[string]any{"cnf": cnf}
		}
		return is.JWT(t, c)
	}
	call := func(t *testing.T, r *Running, cert *clientcerttest.Cert, tok string) (*http.Response, error) {
		tc := &tls.Config{RootCAs: ca.Pool()}
		if cert != nil {
			// Sent whatever CAs the server names, as a client that is not
			// Go's might: Go's own sends none that does not chain to them.
			c := cert.TLS()
			tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &c, nil }
		}
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true}}
		t.Cleanup(client.CloseIdleConnections)
		req, _ := http.NewRequest("GET", r.GatewayURL+"/payments/balance", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		// A client's own Client-Cert is never believed nor forwarded.
		req.Header.Set("Client-Cert", clientcert.FormatHeader(selfSigned.Cert))
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return resp, err
	}
	bound := token(map[string]any{"x5t#S256": clientcert.Thumbprint(issued.Cert)})
	boundSelf := token(map[string]any{"x5t#S256": clientcert.Thumbprint(selfSigned.Cert)})
	unbound := token(nil)

	t.Run("any certificate", func(t *testing.T) {
		r := start(t, "")
		tests := []struct {
			name string
			cert *clientcerttest.Cert
			tok  string
			want int
			// forwarded is the certificate the upstream must get.
			forwarded *clientcerttest.Cert
		}{
			{"bound token, its certificate", &issued, bound, http.StatusOK, &issued},
			{"bound token, self-signed certificate", &selfSigned, boundSelf, http.StatusOK, &selfSigned},
			{"bound token, no certificate", nil, bound, http.StatusUnauthorized, nil},
			{"bound token, another certificate", &selfSigned, bound, http.StatusUnauthorized, nil},
			{"unbound token, no certificate", nil, unbound, http.StatusOK, nil},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				up.Reset()
				resp, err := call(t, r, tc.cert, tc.tok)
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != tc.want {
					t.Fatalf("status = %d, want %d (%q)", resp.StatusCode, tc.want, resp.Header.Values("Www-Authenticate"))
				}
				if tc.want == http.StatusUnauthorized {
					if ch := resp.Header.Get("Www-Authenticate"); !strings.Contains(ch, `error="invalid_token"`) {
						t.Errorf("WWW-Authenticate = %q, want invalid_token", ch)
					}
					return
				}
				got, _ := up.Last()
				want := ""
				if tc.forwarded != nil {
					want = clientcert.FormatHeader(tc.forwarded.Cert)
				}
				if v := got.Header.Get("Client-Cert"); v != want {
					t.Errorf("upstream Client-Cert = %.30q, want %.30q", v, want)
				}
			})
		}
	})

	t.Run("client_ca_file", func(t *testing.T) {
		r := start(t, caFile)
		if resp, err := call(t, r, &issued, bound); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("certificate of the CA: %v, %v; want 200", resp, err)
		}
		if resp, err := call(t, r, nil, unbound); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("no certificate: %v, %v; want 200 (none is required)", resp, err)
		}
		if _, err := call(t, r, &selfSigned, boundSelf); err == nil {
			t.Fatal("a certificate outside client_ca_file passed the handshake")
		}
	})
}
