package config

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/portcullis/portcullis/internal/clientcert"
)

// AuthzTLS serves the authorization server over TLS, and may ask clients
// for a certificate there (RFC 8705).
type AuthzTLS struct {
	// CertFile is the certificate chain (PEM; relative to the
	// configuration file). Empty means plain HTTP, for an issuer behind a
	// TLS-terminating proxy or on loopback.
	CertFile string `yaml:"cert_file"`
	// KeyFile is the private key; required with CertFile.
	KeyFile string `yaml:"key_file"`
	// ClientCerts is "request" to ask every TLS client for a certificate
	// without requiring one or checking its chain in the handshake:
	// tls_client_auth checks the chain against clients.mtls.client_ca_file
	// itself, and self-signed certificates (self_signed_tls_client_auth,
	// bound tokens of public clients) must get through. Empty means no
	// certificate is asked for. Browsers may prompt for a certificate when
	// asked, so a listener that serves login pages is better left without
	// it, and clients pointed at clients.mtls.endpoint_base.
	ClientCerts string `yaml:"client_certs"`
}

// AuthzScheme is the scheme of the authorization server's listener:
// https with listen.authz_tls, else http.
func (l Listen) AuthzScheme() string {
	if l.AuthzTLS.CertFile != "" {
		return "https"
	}
	return "http"
}

// ClientCertsRequest is the one value of AuthzTLS.ClientCerts that asks for
// certificates.
const ClientCertsRequest = "request"

// Files returns the certificate and key as the listener takes them.
func (t AuthzTLS) Files() ListenTLS { return ListenTLS{CertFile: t.CertFile, KeyFile: t.KeyFile} }

// ClientMTLS turns on mutual-TLS client authentication and
// certificate-bound access tokens at the authorization server (RFC 8705).
// Off by default.
type ClientMTLS struct {
	// Enabled accepts self_signed_tls_client_auth (and, with ClientCAFile,
	// tls_client_auth), binds the tokens of clients registered for it to
	// their certificate, and advertises all of it in the server metadata.
	// False means none of it is offered; a client registered for it then
	// fails closed. A certificate must reach the server:
	// listen.authz_tls.client_certs: request, or Header from
	// TrustedProxies.
	Enabled bool `yaml:"enabled"`
	// ClientCAFile holds the trust anchors (PEM certificates; relative to
	// the configuration file) a tls_client_auth client's certificate must
	// chain to (RFC 8705 §2.1). Behind a proxy, which forwards the client
	// certificate alone, it must hold the intermediates too. Empty means
	// tls_client_auth is not offered.
	ClientCAFile string `yaml:"client_ca_file"`
	// Header is the header a TLS-terminating proxy forwards the client
	// certificate in, RFC 9440's "Client-Cert" (a structured-field byte
	// sequence of the DER certificate). Empty means none is read; it
	// needs TrustedProxies.
	Header string `yaml:"header"`
	// TrustedProxies are the addresses (CIDR prefixes or single IPs)
	// whose Header is believed. From anyone else the header is removed
	// unread. Needs Header.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// EndpointBase is the scheme and authority (https://mtls.auth.example)
	// under which clients reach the endpoints with mutual TLS, published
	// as mtls_endpoint_aliases (RFC 8705 §5); the issuer's path is kept.
	// Empty means no aliases: clients use the regular endpoints.
	EndpointBase string `yaml:"endpoint_base"`
}

// ClientCertSource is where the authorization server takes a request's
// client certificate from, as clients.mtls configures it (valid after
// Validate).
func (m ClientMTLS) ClientCertSource() clientcert.Source {
	if !m.Enabled || m.Header == "" {
		return clientcert.Source{}
	}
	proxies, err := clientcert.ParseProxies(m.TrustedProxies)
	if err != nil {
		return clientcert.Source{}
	}
	return clientcert.Source{Header: m.Header, Proxies: proxies}
}

// clientMTLS checks clients.mtls and listen.authz_tls.
func (v *validator) clientMTLS() {
	t := v.c.Listen.AuthzTLS
	if (t.CertFile == "") != (t.KeyFile == "") {
		v.add("listen.authz_tls", "cert_file and key_file go together", nil)
	}
	switch t.ClientCerts {
	case "":
	case ClientCertsRequest:
		if t.CertFile == "" {
			v.add("listen.authz_tls.client_certs", "needs cert_file and key_file: client certificates come in a TLS handshake", nil)
		}
	default:
		v.add("listen.authz_tls.client_certs", fmt.Sprintf("%q is not request (or empty for none)", t.ClientCerts), nil)
	}

	m := v.c.Clients.MTLS
	const f = "clients.mtls."
	if !m.Enabled {
		// Settings that would do nothing are an error, not a surprise.
		if m.ClientCAFile != "" || m.Header != "" || len(m.TrustedProxies) > 0 || m.EndpointBase != "" {
			v.add(f+"enabled", "is false, yet other clients.mtls fields are set: set enabled: true or remove them", nil)
		}
		if t.ClientCerts != "" {
			v.add("listen.authz_tls.client_certs", "asks for certificates nothing uses: set clients.mtls.enabled: true", nil)
		}
		return
	}
	if (m.Header == "") != (len(m.TrustedProxies) == 0) {
		v.add(f+"header", "header and trusted_proxies go together: a header is believed only from the proxies", nil)
	}
	if m.Header != "" && !validHeaderName(m.Header) {
		v.add(f+"header", fmt.Sprintf("%q is not an HTTP header name", m.Header), nil)
	}
	for i, p := range m.TrustedProxies {
		if _, err := clientcert.ParseProxies([]string{p}); err != nil {
			v.add(fmt.Sprintf("%strusted_proxies[%d]", f, i), err.Error(), nil)
		}
	}
	if t.ClientCerts != ClientCertsRequest && m.Header == "" {
		v.add(f+"enabled", "no client certificate can reach the server: set listen.authz_tls.client_certs: request, or header and trusted_proxies", nil)
	}
	if m.EndpointBase != "" {
		u, err := url.Parse(m.EndpointBase)
		switch {
		case err != nil || u.Scheme != "https" || u.Host == "":
			v.add(f+"endpoint_base", "must be an https URL such as https://mtls.auth.example (RFC 8705 §5)", nil)
		case strings.TrimSuffix(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
			v.add(f+"endpoint_base", "must be a scheme and host only: the issuer's path is appended", nil)
		}
	}
}

// validHeaderName reports whether s is an RFC 9110 §5.1 field name
// (a token).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
