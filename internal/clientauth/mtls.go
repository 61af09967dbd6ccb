package clientauth

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/store"
)

// IsTLSMethod reports whether method authenticates the client by its TLS
// client certificate (RFC 8705 §2).
func IsTLSMethod(method string) bool {
	return method == store.AuthTLSClient || method == store.AuthSelfSignedTLSClient
}

// authenticateCert checks the certificate of a client registered for a
// mutual-TLS method, which names itself with client_id (RFC 8705 §2:
// "the client_id parameter ... MUST be included") and presents its
// certificate in the TLS handshake, or through a trusted proxy.
func (a *Authenticator) authenticateCert(r *http.Request, c store.Client) (store.Client, error) {
	// The same description as every other failure: whether the
	// certificate was missing, unreadable or not the registered one, and
	// even that the client uses a certificate, goes to the log only.
	fail := func(cause error) error {
		return &Error{Code: CodeInvalidClient, Description: descFailed, Cause: cause}
	}
	cert, chain, err := a.certificate(r)
	if err != nil {
		return store.Client{}, fail(err)
	}
	if cert == nil {
		return store.Client{}, fail(errors.New("client is registered for " + c.AuthMethod + " but presented no certificate"))
	}
	switch c.AuthMethod {
	case store.AuthTLSClient:
		if err := a.verifyChain(cert, chain); err != nil {
			return store.Client{}, fail(err)
		}
		if err := matchSubject(cert, c.TLSClientAuth); err != nil {
			return store.Client{}, fail(err)
		}
	case store.AuthSelfSignedTLSClient:
		if err := matchRegistered(cert, c.JWKS, a.now()); err != nil {
			return store.Client{}, fail(err)
		}
	default:
		return store.Client{}, fail(errors.New("client is registered for " + c.AuthMethod + ", not a certificate method"))
	}
	return c, nil
}

// certificate returns the request's client certificate and the
// intermediates the TLS handshake sent with it; nil when there is none.
// A certificate from a proxy's header comes alone: the CA file must then
// hold whatever it was issued under.
func (a *Authenticator) certificate(r *http.Request) (*x509.Certificate, []*x509.Certificate, error) {
	cert, err := a.certs.Certificate(r)
	if err != nil || cert == nil {
		return nil, nil, err
	}
	var chain []*x509.Certificate
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 1 {
		chain = r.TLS.PeerCertificates[1:]
	}
	return cert, chain, nil
}

// verifyChain is RFC 8705 §2.1: the certificate must chain to one of the
// configured trust anchors, be valid now and be fit for TLS client
// authentication. No trust anchors means nothing verifies.
func (a *Authenticator) verifyChain(cert *x509.Certificate, chain []*x509.Certificate) error {
	if a.clientCAs == nil {
		return errors.New("no trust anchors for tls_client_auth are configured")
	}
	opts := x509.VerifyOptions{
		Roots:       a.clientCAs,
		CurrentTime: a.now(),
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if len(chain) > 0 {
		opts.Intermediates = x509.NewCertPool()
		for _, c := range chain {
			opts.Intermediates.AddCert(c)
		}
	}
	if _, err := cert.Verify(opts); err != nil {
		return fmt.Errorf("client certificate does not verify: %w", err)
	}
	return nil
}

// decoyChain runs the chain check on a certificate presented for a
// client that will be refused anyway (unknown, or of another method), so
// that the refusal costs about what a real check does and timing does not
// tell which client ids use tls_client_auth.
func (a *Authenticator) decoyChain(r *http.Request) {
	cert, chain, err := a.certificate(r)
	if err != nil || cert == nil {
		return
	}
	a.decoys.Add(1)
	_ = a.verifyChain(cert, chain)
}

// matchSubject is RFC 8705 §2.1.2: the certificate must carry the one
// subject value the client registered. The DN compares as a parsed name
// (ParseDN, sameDN), not as text; a SAN must equal one of the
// certificate's entries of that type.
func matchSubject(cert *x509.Certificate, want store.TLSClientAuth) error {
	if err := CheckTLSClientAuth(want); err != nil {
		return fmt.Errorf("registered subject: %w", err)
	}
	switch {
	case want.SubjectDN != "":
		dn, _ := ParseDN(want.SubjectDN) // CheckTLSClientAuth parsed it
		if !sameDN(cert.RawSubject, dn) {
			return errors.New("certificate subject DN is not the registered one")
		}
	case want.SANDNS != "":
		// RFC 4343: DNS names compare without regard to ASCII case. A
		// wildcard entry is compared as text, so *.example.com matches
		// only a registration of *.example.com.
		if !slices.ContainsFunc(cert.DNSNames, func(n string) bool { return strings.EqualFold(n, want.SANDNS) }) {
			return errors.New("certificate has no dNSName SAN equal to the registered one")
		}
	case want.SANURI != "":
		if !slices.ContainsFunc(cert.URIs, func(u *url.URL) bool { return u.String() == want.SANURI }) {
			return errors.New("certificate has no URI SAN equal to the registered one")
		}
	case want.SANIP != "":
		ip, _ := netip.ParseAddr(want.SANIP)
		found := false
		for _, got := range cert.IPAddresses {
			if a, ok := netip.AddrFromSlice(got); ok && a.Unmap() == ip.Unmap() {
				found = true
				break
			}
		}
		if !found {
			return errors.New("certificate has no iPAddress SAN equal to the registered one")
		}
	case want.SANEmail != "":
		if !slices.Contains(cert.EmailAddresses, want.SANEmail) {
			return errors.New("certificate has no rfc822Name SAN equal to the registered one")
		}
	}
	return nil
}

// CheckTLSClientAuth checks the metadata of a tls_client_auth client
// (RFC 8705 §2.1.2): exactly one field set, and that one well formed (a
// DN that ParseDN reads, an IP address, an e-mail address, an absolute
// URI, a DNS name). The registry and the authenticator share it.
func CheckTLSClientAuth(t store.TLSClientAuth) error {
	set := 0
	for _, v := range []string{t.SubjectDN, t.SANDNS, t.SANURI, t.SANIP, t.SANEmail} {
		if v != "" {
			set++
		}
	}
	if set != 1 {
		return fmt.Errorf("exactly one of tls_client_auth_subject_dn, _san_dns, _san_uri, _san_ip, _san_email is needed, not %d", set)
	}
	switch {
	case t.SubjectDN != "":
		if _, err := ParseDN(t.SubjectDN); err != nil {
			return fmt.Errorf("tls_client_auth_subject_dn: %w", err)
		}
	case t.SANDNS != "":
		if len(t.SANDNS) > 253 || strings.ContainsFunc(t.SANDNS, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '*')
		}) {
			return errors.New("tls_client_auth_san_dns is not a DNS name")
		}
	case t.SANURI != "":
		if len(t.SANURI) > 2048 || !strings.Contains(t.SANURI, ":") || strings.ContainsFunc(t.SANURI, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return errors.New("tls_client_auth_san_uri is not an absolute URI")
		}
	case t.SANIP != "":
		if _, err := netip.ParseAddr(t.SANIP); err != nil || strings.Contains(t.SANIP, "%") {
			return errors.New("tls_client_auth_san_ip is not an IPv4 or IPv6 address")
		}
	case t.SANEmail != "":
		a, err := mail.ParseAddress(t.SANEmail)
		if err != nil || a.Address != t.SANEmail || a.Name != "" {
			return errors.New("tls_client_auth_san_email is not a bare e-mail address")
		}
	}
	return nil
}

// matchRegistered is RFC 8705 §2.2: the certificate must be one the
// client registered as the first x5c entry of a key in its JWK Set,
// compared byte for byte. No chain is checked (it is self-signed), but an
// expired or not yet valid certificate is refused.
func matchRegistered(cert *x509.Certificate, jwks []byte, now time.Time) error {
	certs, err := RegisteredCertificates(jwks)
	if err != nil {
		return err
	}
	for _, c := range certs {
		if bytes.Equal(c.Raw, cert.Raw) {
			if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
				return errors.New("registered client certificate is expired or not yet valid")
			}
			return nil
		}
	}
	return errors.New("client certificate is not one registered in the client's jwks (x5c)")
}

// RegisteredCertificates returns the certificates a
// self_signed_tls_client_auth client registered: the first x5c entry of
// each key of its JWK Set (RFC 7517 §4.7: the one holding the key).
func RegisteredCertificates(jwks []byte) ([]*x509.Certificate, error) {
	if len(jwks) == 0 {
		return nil, errors.New("client has no registered jwks")
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwks, &set); err != nil {
		return nil, fmt.Errorf("client jwks: %w", err)
	}
	var out []*x509.Certificate
	for _, k := range set.Keys {
		if len(k.Certificates) > 0 {
			out = append(out, k.Certificates[0])
		}
	}
	if len(out) == 0 {
		return nil, errors.New("client jwks has no key with an x5c certificate")
	}
	return out, nil
}
