// Package clientcerttest makes X.509 certificates for tests of mutual
// TLS (RFC 8705): a CA that issues client certificates with the subject
// and SANs a test asks for, and self-signed client certificates. Keys are
// ECDSA P-256, made fresh with crypto/rand; nothing is read from files.
//
// It is for tests only and must never be imported by production code.
package clientcerttest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// serial numbers certificates uniquely within a test binary.
var serial atomic.Int64

// Spec is what a client certificate says about its holder.
type Spec struct {
	Subject pkix.Name
	DNS     []string
	URIs    []string
	IPs     []string
	Emails  []string
	// ServerAuthOnly gives the certificate the serverAuth extended key
	// usage instead of clientAuth, which RFC 8705 §2.1 clients need.
	ServerAuthOnly bool
	// NotBefore and NotAfter default to an hour either side of now.
	NotBefore, NotAfter time.Time
}

// Cert is a certificate with its private key.
type Cert struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	// Chain holds the certificates above Cert that a TLS client sends
	// with it (intermediates); empty when Cert is issued by the root.
	Chain []*x509.Certificate
}

// TLS returns the certificate as a tls.Certificate a client presents.
func (c Cert) TLS() tls.Certificate {
	raw := [][]byte{c.Cert.Raw}
	for _, x := range c.Chain {
		raw = append(raw, x.Raw)
	}
	return tls.Certificate{Certificate: raw, PrivateKey: c.Key, Leaf: c.Cert}
}

// CA is a certificate authority.
type CA struct {
	Cert
}

// NewCA returns a new self-signed root CA named cn.
func NewCA(t testing.TB, cn string) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial.Add(1)),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	return &CA{Cert: Cert{Cert: create(t, tmpl, tmpl, key, key), Key: key}}
}

// Pool returns a pool holding only the CA's certificate.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert.Cert)
	return p
}

// PEM returns the CA's certificate PEM-encoded, as a CA file holds it.
func (ca *CA) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Cert.Raw})
}

// Issue returns a client certificate for s, signed by the CA.
func (ca *CA) Issue(t testing.TB, s Spec) Cert {
	t.Helper()
	key := newKey(t)
	return Cert{Cert: create(t, template(t, s), ca.Cert.Cert, key, ca.Key), Key: key}
}

// Server returns a TLS server certificate for the loopback addresses and
// localhost, signed by the CA.
func (ca *CA) Server(t testing.TB) Cert {
	t.Helper()
	return ca.Issue(t, Spec{Subject: pkix.Name{CommonName: "localhost"}, DNS: []string{"localhost"},
		IPs: []string{"127.0.0.1", "::1"}, ServerAuthOnly: true})
}

// WriteFiles writes the certificate and its key as PEM files name.pem
// and name.key in dir, as a listener's cert_file and key_file, and
// returns their paths.
func (c Cert) WriteFiles(t testing.TB, dir, name string) (certFile, keyFile string) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		t.Fatalf("clientcerttest: marshal key: %v", err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw})
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// SelfSigned returns a self-signed client certificate for s, as a
// self_signed_tls_client_auth client (RFC 8705 §2.2) holds.
func SelfSigned(t testing.TB, s Spec) Cert {
	t.Helper()
	key := newKey(t)
	tmpl := template(t, s)
	return Cert{Cert: create(t, tmpl, tmpl, key, key), Key: key}
}

func template(t testing.TB, s Spec) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:   big.NewInt(serial.Add(1)),
		Subject:        s.Subject,
		NotBefore:      s.NotBefore,
		NotAfter:       s.NotAfter,
		KeyUsage:       x509.KeyUsageDigitalSignature,
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		DNSNames:       s.DNS,
		EmailAddresses: s.Emails,
	}
	if s.ServerAuthOnly {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = time.Now().Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = time.Now().Add(time.Hour)
	}
	for _, u := range s.URIs {
		p, err := url.Parse(u)
		if err != nil {
			t.Fatalf("clientcerttest: URI SAN %q: %v", u, err)
		}
		tmpl.URIs = append(tmpl.URIs, p)
	}
	for _, ip := range s.IPs {
		a := net.ParseIP(ip)
		if a == nil {
			t.Fatalf("clientcerttest: IP SAN %q is not an address", ip)
		}
		tmpl.IPAddresses = append(tmpl.IPAddresses, a)
	}
	return tmpl
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("clientcerttest: generate key: %v", err)
	}
	return k
}

func create(t testing.TB, tmpl, parent *x509.Certificate, key, signer *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatalf("clientcerttest: create certificate: %v", err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("clientcerttest: parse certificate: %v", err)
	}
	return c
}
