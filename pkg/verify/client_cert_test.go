package verify

import (
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// clientCertValue is cert as RFC 9440 §2.2 writes it, as the gateway's
// forward_client_cert sends it.
func clientCertValue(cert *x509.Certificate) string {
	return ":" + base64.StdEncoding.EncodeToString(cert.Raw) + ":"
}

// TestClientCertFromHeader: behind the gateway, a certificate-bound
// token is checked against the Client-Cert the gateway forwards, which
// is believed only from the trusted peer.
func TestClientCertFromHeader(t *testing.T) {
	f := newFxIssuer(t)
	cert, other := fxCert(t), fxCert(t)
	bound := f.mint(func(c map[string]any) { c["cnf"] = map[string]any{"x5t#S256": CertificateThumbprint(cert)} })
	unbound := f.mint(nil)
	fromGateway := func(r *http.Request) bool { return strings.HasPrefix(r.RemoteAddr, "10.0.0.1:") }
	h, err := NewMiddleware(f.verifier(nil), MiddlewareConfig{
		CertificateBinding: true,
		ClientCertificate:  ClientCertFromHeader(fromGateway),
	}, fxEcho)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		peer   string
		tok    string
		header []string
		want   int
	}{
		{"the gateway forwards the certificate", "10.0.0.1:5000", bound, []string{clientCertValue(cert)}, 200},
		{"with spaces around it", "10.0.0.1:5000", bound, []string{" " + clientCertValue(cert) + " "}, 200},
		{"another certificate", "10.0.0.1:5000", bound, []string{clientCertValue(other)}, 401},
		{"no header", "10.0.0.1:5000", bound, nil, 401},
		{"from anyone else", "192.0.2.9:5000", bound, []string{clientCertValue(cert)}, 401},
		{"repeated", "10.0.0.1:5000", bound, []string{clientCertValue(cert), clientCertValue(cert)}, 401},
		{"not a byte sequence", "10.0.0.1:5000", bound, []string{base64.StdEncoding.EncodeToString(cert.Raw)}, 401},
		{"not base64", "10.0.0.1:5000", bound, []string{":*:"}, 401},
		{"not a certificate", "10.0.0.1:5000", bound, []string{":aGVsbG8=:"}, 401},
		{"too long", "10.0.0.1:5000", bound, []string{":" + strings.Repeat("A", 20000) + ":"}, 401},
		{"unbound token, no header", "192.0.2.9:5000", unbound, nil, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/items", nil)
			r.RemoteAddr = tc.peer
			r.Header.Set("Authorization", "Bearer "+tc.tok)
			for _, v := range tc.header {
				r.Header.Add(ClientCertHeaderName, v)
			}
			w := fxServe(t, h, r)
			if w.Code != tc.want {
				t.Fatalf("status = %d, want %d (%q)", w.Code, tc.want, w.Header().Get("WWW-Authenticate"))
			}
			if tc.want == 401 && !strings.Contains(w.Header().Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Errorf("WWW-Authenticate = %q, want invalid_token", w.Header().Get("WWW-Authenticate"))
			}
		})
	}

	// The TLS connection's certificate is not consulted once
	// ClientCertificate is set: behind a proxy it is the proxy's.
	r := httptest.NewRequest("GET", "https://api.example/items", nil)
	r.TLS.PeerCertificates = []*x509.Certificate{cert}
	r.Header.Set("Authorization", "Bearer "+bound)
	if w := fxServe(t, h, r); w.Code != 401 {
		t.Errorf("TLS certificate with ClientCertificate set: status = %d, want 401", w.Code)
	}

	defer func() {
		if recover() == nil {
			t.Error("ClientCertFromHeader(nil) did not panic")
		}
	}()
	ClientCertFromHeader(nil)
}

// FuzzParseClientCertHeader: whatever a trusted peer sends, the parser
// returns a certificate or an error, never both, never a panic.
func FuzzParseClientCertHeader(f *testing.F) {
	f.Add(":aGVsbG8=:")
	f.Add("::")
	f.Add(":")
	f.Add(" :AA==: ")
	f.Fuzz(func(t *testing.T, v string) {
		c, err := parseClientCertHeader(v)
		if (c == nil) == (err == nil) {
			t.Fatalf("parseClientCertHeader(%q) = %v, %v: exactly one must be set", v, c, err)
		}
	})
}
