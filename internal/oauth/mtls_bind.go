package oauth

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/portcullis/portcullis/internal/clientcert"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/pkg/verify"
)

// MTLSConfig turns on mutual-TLS client authentication and
// certificate-bound access tokens (RFC 8705) in the server's metadata.
// Client authentication itself is clientauth's; the certificate comes
// from Options.ClientCerts.
type MTLSConfig struct {
	// Enabled advertises self_signed_tls_client_auth and
	// tls_client_certificate_bound_access_tokens (RFC 8705 §2.2, §3.3).
	// Off, the server still honours a client registered for them (it
	// fails closed without a certificate) but does not offer them.
	Enabled bool
	// PKI advertises tls_client_auth too (§2.1): set when trust anchors
	// for client certificates are configured.
	PKI bool
	// EndpointBase is the scheme and authority (https://mtls.auth.example)
	// under which the endpoints are reached with mutual TLS, published
	// as mtls_endpoint_aliases (RFC 8705 §5); empty means the endpoints
	// have no aliases. The issuer's path is kept.
	EndpointBase string
}

// sender is what a token request proves it holds: a DPoP key, a client
// certificate. The grants bind what they issue to it.
type sender struct {
	// proof is the request's DPoP proof, nil without one.
	proof *verify.DPoPProof
	// cert is the x5t#S256 of the certificate the request presented,
	// "" without one; it decides whether a bound refresh token may be
	// used.
	cert string
	// x5t is what new access tokens are bound to (certBinding): cert
	// for a client registered for bound tokens, else "".
	x5t string
}

// presentedCert is the x5t#S256 of the client certificate of r (RFC 8705
// §3.1), "" when it presented none. A Client-Cert header a trusted proxy
// garbled is refused rather than read as no certificate.
func (s *Server) presentedCert(r *http.Request) (string, error) {
	cert, err := s.o.ClientCerts.Certificate(r)
	if err != nil {
		s.log.WarnContext(r.Context(), "client certificate unreadable", "err", err)
		return "", badRequest(errInvalidRequest, "the client certificate could not be read")
	}
	if cert == nil {
		return "", nil
	}
	return clientcert.Thumbprint(cert), nil
}

// certBinding is the x5t#S256 the access tokens issued to c on this
// request are bound to: the presented certificate's for a client
// registered with tls_client_certificate_bound_access_tokens (RFC 8705
// §3.4), "" for any other. Such a client without a certificate gets
// invalid_request (RFC 6749 §5.2: the request lacks what it needs): the
// client may have authenticated by other means (private_key_jwt, or as
// a public client per §4), and a bearer token in place of the bound one
// it registered for would silently weaken it.
func certBinding(c store.Client, cert string) (string, error) {
	if !c.CertBoundAccessTokens {
		return "", nil
	}
	if cert == "" {
		return "", badRequest(errInvalidRequest,
			"the client is registered for certificate-bound access tokens: the request needs a TLS client certificate")
	}
	return cert, nil
}

// requireCert refuses a refresh token bound to the certificate want (""
// for none) unless the request presented that certificate (RFC 8705 §4
// for a public client's refresh tokens). what names the grant in the
// description.
func requireCert(want, cert, what string) error {
	if want == "" {
		return nil
	}
	if cert == "" {
		return badRequest(errInvalidGrant, what+" is bound to a client certificate: the request needs it")
	}
	if subtle.ConstantTimeCompare([]byte(cert), []byte(want)) != 1 {
		return badRequest(errInvalidGrant, what+" is bound to another client certificate")
	}
	return nil
}

// mtlsAliases are RFC 8705 §5's mtls_endpoint_aliases: the endpoints a
// client authenticating with its certificate calls, under EndpointBase.
// Nil when none is configured, so the member is left out.
func (s *Server) mtlsAliases() map[string]string {
	base := strings.TrimSuffix(s.cfg.MTLS.EndpointBase, "/")
	if !s.cfg.MTLS.Enabled || base == "" {
		return nil
	}
	at := func(path string) string { return base + s.base + path }
	return map[string]string{
		"token_endpoint":         at(pathToken),
		"revocation_endpoint":    at(pathRevoke),
		"introspection_endpoint": at(pathIntrospect),
		"userinfo_endpoint":      at(pathUserinfo),
	}
}

// certMatches reports whether r presented the certificate whose
// x5t#S256 is want: what a resource server checks before it honours a
// certificate-bound token (RFC 8705 §3).
func (s *Server) certMatches(r *http.Request, want string) bool {
	cert, err := s.o.ClientCerts.Certificate(r)
	if err != nil || cert == nil {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(clientcert.Thumbprint(cert)), []byte(want)) == 1
}
