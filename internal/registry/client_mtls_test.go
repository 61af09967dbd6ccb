package registry

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/clientcert/clientcerttest"
	"github.com/portcullis/portcullis/internal/store"
)

// x5cSet is a JWK Set whose one key carries cert as its x5c (RFC 8705
// §2.2), and a set of the same key without it.
func x5cSet(t *testing.T) (with, without []byte, cert clientcerttest.Cert) {
	t.Helper()
	cert = clientcerttest.SelfSigned(t, clientcerttest.Spec{Subject: pkix.Name{CommonName: "self"}})
	k := jose.JSONWebKey{Key: cert.Key.Public(), KeyID: "self", Certificates: []*x509.Certificate{cert.Cert}}
	with, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{k}})
	if err != nil {
		t.Fatal(err)
	}
	k.Certificates = nil
	without, err = json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{k}})
	if err != nil {
		t.Fatal(err)
	}
	return with, without, cert
}

func TestNewClientMTLS(t *testing.T) {
	with, _, cert := x5cSet(t)
	dn := store.TLSClientAuth{SubjectDN: "CN=svc,O=Example"}
	c, err := NewClient(ClientSpec{ID: "svc", AuthMethod: store.AuthTLSClient, TLSClientAuth: dn, CertBoundAccessTokens: true}, time.Now())
	if err != nil {
		t.Fatalf("tls_client_auth: %v", err)
	}
	if c.TLSClientAuth != dn || !c.CertBoundAccessTokens || len(c.SecretDigest) != 0 {
		t.Errorf("client = %+v", c)
	}
	if secret, err := IssueSecret(&c, SecretKey{Key: []byte("k")}); secret != "" || err != nil || len(c.SecretDigest) != 0 {
		t.Errorf("IssueSecret for tls_client_auth = %q, %v: a certificate client gets no secret", secret, err)
	}
	c, err = NewClient(ClientSpec{ID: "self", AuthMethod: store.AuthSelfSignedTLSClient, JWKS: with}, time.Now())
	if err != nil {
		t.Fatalf("self_signed_tls_client_auth: %v", err)
	}
	// The stored set still carries the certificate the client presents.
	certs, err := clientauth.RegisteredCertificates(c.JWKS)
	if err != nil || len(certs) != 1 || !certs[0].Equal(cert.Cert) {
		t.Errorf("registered certificates = %v, %v", certs, err)
	}
	// Any client may ask for bound tokens (RFC 8705 §3.4, §4).
	if _, err := NewClient(ClientSpec{ID: "spa", Public: true, RedirectURIs: []string{"https://a.example/cb"},
		CertBoundAccessTokens: true}, time.Now()); err != nil {
		t.Errorf("public client with bound tokens: %v", err)
	}
}

func TestNewClientMTLSInvalid(t *testing.T) {
	with, without, _ := x5cSet(t)
	tls := store.AuthTLSClient
	for _, tc := range []struct {
		name      string
		spec      ClientSpec
		wantField string
		wantIn    string
	}{
		{"no subject", ClientSpec{AuthMethod: tls}, "tls-client-auth-subject-dn", "exactly one"},
		{"two subjects", ClientSpec{AuthMethod: tls, TLSClientAuth: store.TLSClientAuth{SubjectDN: "CN=a", SANDNS: "a.example"}},
			"tls-client-auth-san-dns", "exactly one"},
		{"bad DN", ClientSpec{AuthMethod: tls, TLSClientAuth: store.TLSClientAuth{SubjectDN: "svc"}}, "tls-client-auth-subject-dn", "'='"},
		{"bad IP", ClientSpec{AuthMethod: tls, TLSClientAuth: store.TLSClientAuth{SANIP: "10.0.0"}}, "tls-client-auth-san-ip", "address"},
		{"bad e-mail", ClientSpec{AuthMethod: tls, TLSClientAuth: store.TLSClientAuth{SANEmail: "nobody"}}, "tls-client-auth-san-email", "e-mail"},
		{"subject for a secret client", ClientSpec{TLSClientAuth: store.TLSClientAuth{SANURI: "spiffe://a/b"}}, "tls-client-auth-san-uri", "only a tls_client_auth"},
		{"self-signed without jwks", ClientSpec{AuthMethod: store.AuthSelfSignedTLSClient}, "jwks-file", "x5c"},
		{"self-signed without x5c", ClientSpec{AuthMethod: store.AuthSelfSignedTLSClient, JWKS: without}, "jwks-file", "x5c"},
		{"self-signed with a subject", ClientSpec{AuthMethod: store.AuthSelfSignedTLSClient, JWKS: with,
			TLSClientAuth: store.TLSClientAuth{SANDNS: "a.example"}}, "tls-client-auth-san-dns", "not by a subject"},
		{"public tls_client_auth", ClientSpec{Public: true, AuthMethod: tls, RedirectURIs: []string{"https://a.example/cb"}}, "auth-method", "public"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewClient(tc.spec, time.Now())
			var ice *InvalidClientError
			if !errors.As(err, &ice) {
				t.Fatalf("NewClient error = %v, want *InvalidClientError", err)
			}
			if ice.Field != tc.wantField || !strings.Contains(err.Error(), tc.wantIn) {
				t.Errorf("error = %q (field %q), want field %q mentioning %q", err, ice.Field, tc.wantField, tc.wantIn)
			}
		})
	}
}
