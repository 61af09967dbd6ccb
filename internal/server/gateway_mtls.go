package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/portcullis/portcullis/internal/config"
)

// gatewayTLSConfig is the TLS configuration of the gateway's listener,
// nil without listen.gateway_tls (ServeTLS then loads the files into a
// default one). With client_certs: request the handshake asks for a
// certificate and requires none: only a call with a certificate-bound
// token needs one, and the gateway checks its thumbprint against the
// token's cnf (RFC 8705 §3), which a self-signed certificate satisfies
// as well as any. With client_ca_file a certificate that is presented
// must chain to one of its anchors, or the handshake fails.
func gatewayTLSConfig(cfg *config.Config) (*tls.Config, error) {
	t := cfg.Listen.GatewayTLS
	if t.CertFile == "" {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.ClientCerts != config.ClientCertsRequest {
		return c, nil
	}
	c.ClientAuth = tls.RequestClientCert
	if t.ClientCAFile == "" {
		return c, nil
	}
	b, err := os.ReadFile(relTo(cfg.BaseDir(), t.ClientCAFile))
	if err != nil {
		return nil, fmt.Errorf("listen.gateway_tls.client_ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		// An empty pool would refuse every certificate: say why instead.
		return nil, errors.New("listen.gateway_tls.client_ca_file: no PEM certificate in the file")
	}
	c.ClientAuth, c.ClientCAs = tls.VerifyClientCertIfGiven, pool
	return c, nil
}
