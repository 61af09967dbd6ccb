package config

import (
	"fmt"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/clientcert"
)

// GatewayTLS serves the gateway over TLS, and may ask clients for a
// certificate there, for certificate-bound access tokens (RFC 8705 §3).
type GatewayTLS struct {
	// CertFile is the certificate chain (PEM; relative to the
	// configuration file). Empty means plain HTTP, for a gateway behind a
	// TLS-terminating load balancer or on loopback.
	CertFile string `yaml:"cert_file"`
	// KeyFile is the private key; required with CertFile.
	KeyFile string `yaml:"key_file"`
	// ClientCerts is "request" to ask every TLS client for a certificate
	// without requiring one: a call with a token bound to a certificate
	// needs it, every other call does without. Empty means no certificate
	// is asked for, and a certificate-bound token is refused unless a
	// proxy forwards the certificate (gateway.client_cert_header).
	ClientCerts string `yaml:"client_certs"`
	// ClientCAFile holds trust anchors (PEM certificates; relative to the
	// configuration file): a certificate a client presents must chain to
	// one of them, or the handshake fails. Empty means any certificate is
	// taken, self-signed ones included: the binding rests on the
	// thumbprint the authorization server put in the token (§3), not on
	// the chain. Needs ClientCerts.
	ClientCAFile string `yaml:"client_ca_file"`
}

// Files returns the certificate and key as the listener takes them.
func (t GatewayTLS) Files() ListenTLS { return ListenTLS{CertFile: t.CertFile, KeyFile: t.KeyFile} }

// ClientCertSource is where the gateway takes a request's client
// certificate from: the TLS connection, and ClientCertHeader from
// ClientCertProxies (valid after Validate).
func (g *Gateway) ClientCertSource() clientcert.Source {
	if g.ClientCertHeader == "" {
		return clientcert.Source{}
	}
	proxies, err := clientcert.ParseProxies(g.ClientCertProxies)
	if err != nil {
		return clientcert.Source{}
	}
	return clientcert.Source{Header: g.ClientCertHeader, Proxies: proxies}
}

// gatewayClientCerts checks listen.gateway_tls's client certificates and
// gateway.client_cert_header and client_cert_proxies, and that the
// file's APIs that need a certificate can get one.
func (v *validator) gatewayClientCerts() {
	t := v.c.Listen.GatewayTLS
	switch t.ClientCerts {
	case "":
		if t.ClientCAFile != "" {
			v.add("listen.gateway_tls.client_ca_file", "needs client_certs: request: without it no certificate is asked for", nil)
		}
	case ClientCertsRequest:
		if t.CertFile == "" {
			v.add("listen.gateway_tls.client_certs", "needs cert_file and key_file: client certificates come in a TLS handshake", nil)
		}
	default:
		v.add("listen.gateway_tls.client_certs", fmt.Sprintf("%q is not request (or empty for none)", t.ClientCerts), nil)
	}

	g := v.c.Gateway
	if (g.ClientCertHeader == "") != (len(g.ClientCertProxies) == 0) {
		v.add("gateway.client_cert_header", "client_cert_header and client_cert_proxies go together: the header is believed only from the proxies", nil)
	}
	if g.ClientCertHeader != "" && !validHeaderName(g.ClientCertHeader) {
		v.add("gateway.client_cert_header", fmt.Sprintf("%q is not an HTTP header name", g.ClientCertHeader), nil)
	}
	for i, p := range g.ClientCertProxies {
		if _, err := clientcert.ParseProxies([]string{p}); err != nil {
			v.add(fmt.Sprintf("gateway.client_cert_proxies[%d]", i), err.Error(), nil)
		}
	}
	if t.ClientCerts == ClientCertsRequest || g.ClientCertHeader != "" {
		return
	}
	// Settings that could never be met are an error, not a surprise at
	// the first call. Stored APIs are not known here.
	const why = "no client certificate can reach the gateway: set listen.gateway_tls.client_certs: request, or gateway.client_cert_header and client_cert_proxies"
	for i, a := range g.APIs {
		if a.MTLS == catalog.MTLSRequired {
			v.add(fmt.Sprintf("gateway.apis[%d].mtls", i), "is required, yet "+why, nil)
		}
		if a.ForwardClientCert {
			v.add(fmt.Sprintf("gateway.apis[%d].forward_client_cert", i), "is true, yet "+why, nil)
		}
	}
}
