package verify

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
)

// ClientCertHeaderName is the RFC 9440 §2.2 header in which a
// TLS-terminating proxy, or the Portcullis gateway with
// forward_client_cert, passes on the client certificate it received.
const ClientCertHeaderName = "Client-Cert"

// maxClientCertHeader bounds the header before it is decoded.
const maxClientCertHeader = 16 << 10

// errClientCertHeader: a trusted peer's Client-Cert is not one DER
// certificate in an RFC 8941 byte sequence.
var errClientCertHeader = errors.New("verify: malformed Client-Cert header")

// ClientCertFromHeader returns a MiddlewareConfig.ClientCertificate that
// reads the client certificate from the Client-Cert header (RFC 9440
// §2.2), for a backend behind the gateway (forward_client_cert) or
// another TLS-terminating proxy, whose own TLS peer is that proxy.
//
// trusted says whether a request came from that proxy: from its address,
// or better, over mutual TLS with its certificate. The header of any
// other request is ignored (no certificate), since anyone can write a
// header; trusted must not be nil. A trusted request whose header is
// repeated or is not one DER certificate in a structured-field byte
// sequence (":<base64>:") is an error, which the middleware refuses.
func ClientCertFromHeader(trusted func(r *http.Request) bool) func(r *http.Request) (*x509.Certificate, error) {
	if trusted == nil {
		panic("verify: ClientCertFromHeader needs a trusted function")
	}
	return func(r *http.Request) (*x509.Certificate, error) {
		if !trusted(r) {
			return nil, nil
		}
		vals := r.Header.Values(ClientCertHeaderName)
		switch len(vals) {
		case 0:
			return nil, nil
		case 1:
		default:
			return nil, errClientCertHeader
		}
		return parseClientCertHeader(vals[0])
	}
}

// parseClientCertHeader decodes an RFC 8941 §3.3.5 byte sequence holding
// one DER certificate.
func parseClientCertHeader(v string) (*x509.Certificate, error) {
	v = strings.Trim(v, " \t")
	if len(v) > maxClientCertHeader || len(v) < 2 || v[0] != ':' || v[len(v)-1] != ':' {
		return nil, errClientCertHeader
	}
	der, err := base64.StdEncoding.DecodeString(v[1 : len(v)-1])
	if err != nil {
		return nil, errClientCertHeader
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, errClientCertHeader
	}
	return cert, nil
}
