package clientcert

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/dunglas/httpsfv"
)

// HeaderClientCert is the RFC 9440 §2.2 header a TLS-terminating proxy
// puts the client's end-entity certificate in.
const HeaderClientCert = "Client-Cert"

// maxHeaderBytes bounds the header before it is decoded: a certificate
// of a few kilobytes, not a megabyte of base64 to parse.
const maxHeaderBytes = 16 << 10

// ErrBadHeader: a trusted proxy sent a Client-Cert header that is not an
// RFC 9440 byte sequence holding one DER certificate. The request is
// refused rather than treated as carrying no certificate.
var ErrBadHeader = errors.New("clientcert: malformed Client-Cert header")

// Thumbprint returns cert's x5t#S256: the unpadded base64url SHA-256 of
// its DER encoding (RFC 8705 §3.1).
func Thumbprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Source says where a request's client certificate may come from. The
// zero Source takes it from the TLS connection only.
type Source struct {
	// Header, when set, is the header a TLS-terminating proxy forwards
	// the certificate in (RFC 9440: "Client-Cert").
	Header string
	// Proxies are the addresses whose Header is believed. A Header from
	// anywhere else is ignored: a client cannot name a certificate it
	// does not hold the key of.
	Proxies []netip.Prefix
}

// ParseProxies parses CIDR prefixes or single addresses, as a
// configuration lists them.
func ParseProxies(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR prefix or an IP address", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// Certificate returns the client certificate r presented, or nil when it
// presented none. The TLS connection's own certificate wins; the header
// is read only when r came from one of the proxies. The certificate is
// not checked against any trust anchor here: a bound token needs only
// the thumbprint, and client authentication checks the chain itself.
func (s Source) Certificate(r *http.Request) (*x509.Certificate, error) {
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		return r.TLS.PeerCertificates[0], nil
	}
	if s.Header == "" || !s.fromProxy(r) {
		return nil, nil
	}
	vals := r.Header.Values(s.Header)
	switch len(vals) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, fmt.Errorf("%w: sent %d times", ErrBadHeader, len(vals))
	}
	return ParseHeader(vals[0])
}

// Strip deletes Header from r unless r came from one of the proxies, so
// that nothing behind the caller mistakes a client's own Client-Cert for
// one a proxy vouched for.
func (s Source) Strip(r *http.Request) {
	if s.Header != "" && !s.fromProxy(r) {
		r.Header.Del(s.Header)
	}
}

func (s Source) fromProxy(r *http.Request) bool {
	if len(s.Proxies) == 0 {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range s.Proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ParseHeader decodes an RFC 9440 §2.2 Client-Cert value: a structured
// field byte sequence (":base64:", RFC 8941 §3.3.5) of one DER
// certificate.
func ParseHeader(v string) (*x509.Certificate, error) {
	if len(v) > maxHeaderBytes {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrBadHeader, maxHeaderBytes)
	}
	item, err := httpsfv.UnmarshalItem([]string{strings.TrimSpace(v)})
	if err != nil {
		return nil, fmt.Errorf("%w: not a structured field item", ErrBadHeader)
	}
	der, ok := item.Value.([]byte)
	if !ok {
		return nil, fmt.Errorf("%w: not a byte sequence", ErrBadHeader)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: not a DER certificate", ErrBadHeader)
	}
	return cert, nil
}

// FormatHeader encodes cert as an RFC 9440 Client-Cert value, as a proxy
// (or a test standing in for one) sends it.
func FormatHeader(cert *x509.Certificate) string {
	return ":" + base64.StdEncoding.EncodeToString(cert.Raw) + ":"
}
