package verify

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"fmt"
)

// Confirmation is the cnf claim (RFC 7800 §3.1): what the token is bound
// to, so only its holder can use it.
type Confirmation struct {
	// JWKThumbprint is cnf.jkt (RFC 9449 §6.1): the base64url RFC 7638
	// SHA-256 thumbprint of the key DPoP proofs must be signed with.
	JWKThumbprint string
	// CertificateThumbprint is cnf["x5t#S256"] (RFC 8705 §3.1): the
	// base64url SHA-256 of the DER client certificate of the mutual TLS
	// connection the token must be presented over.
	CertificateThumbprint string
	// Raw is the cnf object as decoded JSON; nil when the token has none.
	Raw map[string]any
}

// Bound reports whether the token carries a cnf claim at all, whether or
// not its confirmation method is one this package checks.
func (c Confirmation) Bound() bool { return c.Raw != nil }

// MatchesCertificate reports whether cert is the certificate the token is
// bound to (RFC 8705 §3.1). It is false for a token bound to no
// certificate, and for a nil cert.
func (c Confirmation) MatchesCertificate(cert *x509.Certificate) bool {
	if c.CertificateThumbprint == "" || cert == nil {
		return false
	}
	got := CertificateThumbprint(cert)
	return subtle.ConstantTimeCompare([]byte(got), []byte(c.CertificateThumbprint)) == 1
}

// CertificateThumbprint returns the x5t#S256 of cert: the unpadded
// base64url SHA-256 of its DER encoding (RFC 8705 §3.1).
func CertificateThumbprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// confirmationOf reads cnf.
func confirmationOf(m map[string]any) (Confirmation, error) {
	v, ok := m["cnf"]
	if !ok {
		return Confirmation{}, nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return Confirmation{}, fmt.Errorf("%w: claim cnf is not an object", ErrMalformed)
	}
	c := Confirmation{Raw: obj}
	var err error
	if c.JWKThumbprint, err = registeredString(obj, "jkt"); err != nil {
		return Confirmation{}, err
	}
	if c.CertificateThumbprint, err = registeredString(obj, "x5t#S256"); err != nil {
		return Confirmation{}, err
	}
	return c, nil
}
