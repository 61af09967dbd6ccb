package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/portcullis/portcullis/internal/clientcert"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/oauth"
)

// clientCAs reads clients.mtls.client_ca_file: the trust anchors of
// tls_client_auth (RFC 8705 §2.1). Nil when mutual TLS is off or no file
// is configured, which leaves tls_client_auth failing closed. A file
// without a single certificate is an error, not an empty pool.
func clientCAs(cfg *config.Config) (*x509.CertPool, error) {
	m := cfg.Clients.MTLS
	if !m.Enabled || m.ClientCAFile == "" {
		return nil, nil
	}
	b, err := os.ReadFile(relTo(cfg.BaseDir(), m.ClientCAFile))
	if err != nil {
		return nil, fmt.Errorf("clients.mtls.client_ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, errors.New("clients.mtls.client_ca_file: no PEM certificate in the file")
	}
	return pool, nil
}

// clientCertSource is where the authorization server reads a request's
// client certificate from: the TLS connection, and the proxy header of
// clients.mtls. The authenticator and the token endpoint share it.
func clientCertSource(cfg *config.Config) clientcert.Source {
	return cfg.Clients.MTLS.ClientCertSource()
}

// oauthMTLS is the clients.mtls section as the metadata takes it.
func oauthMTLS(cfg *config.Config) oauth.MTLSConfig {
	m := cfg.Clients.MTLS
	return oauth.MTLSConfig{Enabled: m.Enabled, PKI: m.Enabled && m.ClientCAFile != "", EndpointBase: m.EndpointBase}
}

// authzTLSConfig is the TLS configuration of the authorization server's
// listener, nil without listen.authz_tls (ServeTLS then loads the files
// into a default one). With client_certs: request the handshake asks for
// a certificate but neither requires one nor checks its chain: RFC 8705
// §2.2 certificates are self-signed, and clientauth checks a
// tls_client_auth chain against its own trust anchors.
func authzTLSConfig(cfg *config.Config) *tls.Config {
	t := cfg.Listen.AuthzTLS
	if t.CertFile == "" {
		return nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.ClientCerts == config.ClientCertsRequest {
		c.ClientAuth = tls.RequestClientCert
	}
	return c
}

// stripClientCert removes the proxy's client-certificate header from a
// request that did not come from a trusted proxy, before anything reads
// it: a client cannot name a certificate it does not hold the key of.
func stripClientCert(src clientcert.Source, next http.Handler) http.Handler {
	if src.Header == "" {
		return next
	}
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		src.Strip(r)
		next.ServeHTTP(rw, r)
	})
}
