package clientauth_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/clientcert"
	"github.com/portcullis/portcullis/internal/clientcert/clientcerttest"
	"github.com/portcullis/portcullis/internal/store"
)

// The mutual-TLS clients of the tests below (RFC 8705 §2).
const (
	dnID       = "mtls-dn"
	dnsID      = "mtls-dns"
	uriID      = "mtls-uri"
	ipID       = "mtls-ip"
	emailID    = "mtls-email"
	selfID     = "mtls-self"
	goodDN     = "CN=svc,OU=payments,O=Example\\, Inc.,C=DE"
	proxyAddr  = "10.0.0.7:4000"
	clientAddr = "192.0.2.9:4000"
)

type mtlsFixture struct {
	ca, otherCA *clientcerttest.CA
	good        clientcerttest.Cert // issued by ca, matches every registered value
	self        clientcerttest.Cert // registered by selfID
	auth        *clientauth.Authenticator
	st          *memStore
}

func newMTLSFixture(t *testing.T) *mtlsFixture {
	t.Helper()
	f := &mtlsFixture{ca: clientcerttest.NewCA(t, "client CA"), otherCA: clientcerttest.NewCA(t, "other CA")}
	spec := clientcerttest.Spec{
		Subject: pkix.Name{CommonName: "svc", OrganizationalUnit: []string{"payments"},
			Organization: []string{"Example, Inc."}, Country: []string{"DE"}},
		DNS: []string{"svc.example.com"}, URIs: []string{"spiffe://example.com/svc"},
		IPs: []string{"2001:db8::7"}, Emails: []string{"svc@example.com"},
	}
	f.good = f.ca.Issue(t, spec)
	f.self = clientcerttest.SelfSigned(t, clientcerttest.Spec{Subject: pkix.Name{CommonName: "self"}})
	x5c, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
		Key: f.self.Key.Public(), Certificates: []*x509.Certificate{f.self.Cert}, KeyID: "self",
	}}})
	if err != nil {
		t.Fatal(err)
	}
	f.st = newMemStore(append(testClients(t),
		store.Client{ID: dnID, AuthMethod: store.AuthTLSClient, TLSClientAuth: store.TLSClientAuth{SubjectDN: goodDN}},
		store.Client{ID: dnsID, AuthMethod: store.AuthTLSClient, TLSClientAuth: store.TLSClientAuth{SANDNS: "SVC.example.com"}},
		store.Client{ID: uriID, AuthMethod: store.AuthTLSClient, TLSClientAuth: store.TLSClientAuth{SANURI: "spiffe://example.com/svc"}},
		store.Client{ID: ipID, AuthMethod: store.AuthTLSClient, TLSClientAuth: store.TLSClientAuth{SANIP: "2001:db8:0::7"}},
		store.Client{ID: emailID, AuthMethod: store.AuthTLSClient, TLSClientAuth: store.TLSClientAuth{SANEmail: "svc@example.com"}},
		store.Client{ID: selfID, AuthMethod: store.AuthSelfSignedTLSClient, JWKS: x5c},
	)...)
	f.auth = f.authenticator(f.ca.Pool())
	return f
}

func (f *mtlsFixture) authenticator(cas *x509.CertPool) *clientauth.Authenticator {
	return clientauth.NewAuthenticator(f.st, secretKey, clientauth.Options{
		Issuer: issuer, Now: time.Now, ClientCAs: cas,
		ClientCerts: clientcert.Source{Header: clientcert.HeaderClientCert,
			Proxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
	})
}

// overTLS is a token request of id over a TLS connection that presented
// c (nil: no certificate).
func overTLS(t *testing.T, id string, c *clientcerttest.Cert) *testRequest {
	r := newRequest(t, nil, form("client_id", id, "grant_type", "client_credentials"), "")
	r.RemoteAddr = clientAddr
	r.TLS = &tls.ConnectionState{}
	if c != nil {
		r.TLS.PeerCertificates = append([]*x509.Certificate{c.Cert}, c.Chain...)
	}
	return &testRequest{r}
}

// viaHeader is a token request of id without TLS, from remote, carrying
// c in the RFC 9440 Client-Cert header.
func viaHeader(t *testing.T, id, remote string, c clientcerttest.Cert) *testRequest {
	r := newRequest(t, nil, form("client_id", id, "grant_type", "client_credentials"), "")
	r.RemoteAddr = remote
	r.TLS = nil
	r.Header.Set(clientcert.HeaderClientCert, clientcert.FormatHeader(c.Cert))
	return &testRequest{r}
}

func TestMutualTLSAuthentication(t *testing.T) {
	f := newMTLSFixture(t)
	expired := f.ca.Issue(t, clientcerttest.Spec{Subject: pkix.Name{CommonName: "svc"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	serverOnly := f.ca.Issue(t, clientcerttest.Spec{Subject: pkix.Name{CommonName: "svc",
		OrganizationalUnit: []string{"payments"}, Organization: []string{"Example, Inc."}, Country: []string{"DE"}},
		ServerAuthOnly: true})
	foreign := f.otherCA.Issue(t, clientcerttest.Spec{Subject: f.good.Cert.Subject,
		DNS: f.good.Cert.DNSNames, Emails: f.good.Cert.EmailAddresses})
	wrongDN := f.ca.Issue(t, clientcerttest.Spec{Subject: pkix.Name{CommonName: "svc",
		OrganizationalUnit: []string{"billing"}, Organization: []string{"Example, Inc."}, Country: []string{"DE"}}})
	// The same attributes, but one RDN more: a DN is a sequence.
	longerDN := f.ca.Issue(t, clientcerttest.Spec{Subject: pkix.Name{CommonName: "svc", Locality: []string{"Berlin"},
		OrganizationalUnit: []string{"payments"}, Organization: []string{"Example, Inc."}, Country: []string{"DE"}}})
	otherSAN := f.ca.Issue(t, clientcerttest.Spec{Subject: pkix.Name{CommonName: "other"},
		DNS: []string{"other.example.com", "svc.example.com.evil"}, URIs: []string{"spiffe://example.com/svc/x"},
		IPs: []string{"2001:db8::8"}, Emails: []string{"SVC@example.com"}})
	wildcard := f.ca.Issue(t, clientcerttest.Spec{Subject: pkix.Name{CommonName: "w"}, DNS: []string{"*.example.com"}})
	otherSelf := clientcerttest.SelfSigned(t, clientcerttest.Spec{Subject: pkix.Name{CommonName: "self"}})
	// A certificate of the registered client's own key, but another
	// certificate: the registration pins the certificate, not the key.
	sameKeyOther := clientcerttest.SelfSigned(t, clientcerttest.Spec{Subject: pkix.Name{CommonName: "self2"}})

	cases := []struct {
		name string
		req  *testRequest
		ok   bool
	}{
		{"subject DN over TLS", overTLS(t, dnID, &f.good), true},
		{"SAN dNSName, any case", overTLS(t, dnsID, &f.good), true},
		{"SAN URI", overTLS(t, uriID, &f.good), true},
		{"SAN IP, another spelling", overTLS(t, ipID, &f.good), true},
		{"SAN e-mail", overTLS(t, emailID, &f.good), true},
		{"self-signed registered in x5c", overTLS(t, selfID, &f.self), true},
		{"header from a trusted proxy", viaHeader(t, dnID, proxyAddr, f.good), true},

		{"no certificate", overTLS(t, dnID, nil), false},
		{"no TLS at all", viaHeader(t, dnID, clientAddr, f.good).withoutHeader(), false},
		{"header from a client is ignored", viaHeader(t, dnID, clientAddr, f.good), false},
		{"certificate of another CA", overTLS(t, dnID, &foreign), false},
		{"expired certificate", overTLS(t, dnID, &expired), false},
		{"serverAuth-only certificate", overTLS(t, dnID, &serverOnly), false},
		{"wrong subject DN", overTLS(t, dnID, &wrongDN), false},
		{"subject DN with an extra RDN", overTLS(t, dnID, &longerDN), false},
		{"wrong SAN dNSName", overTLS(t, dnsID, &otherSAN), false},
		{"wildcard SAN is not the name", overTLS(t, dnsID, &wildcard), false},
		{"wrong SAN URI", overTLS(t, uriID, &otherSAN), false},
		{"wrong SAN IP", overTLS(t, ipID, &otherSAN), false},
		{"wrong SAN e-mail (case)", overTLS(t, emailID, &otherSAN), false},
		{"self-signed not in x5c", overTLS(t, selfID, &otherSelf), false},
		{"another self-signed certificate", overTLS(t, selfID, &sameKeyOther), false},
		{"CA-issued certificate for a self-signed client", overTLS(t, selfID, &f.good), false},
		{"self-signed certificate for a PKI client", overTLS(t, dnID, &f.self), false},
		{"a public client's id does not make a certificate count", overTLS(t, publicID, &f.good), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := f.auth.Authenticate(context.Background(), c.req.r)
			if c.ok {
				if err != nil {
					t.Fatalf("Authenticate() error = %v (cause %v)", err, errors.Unwrap(err))
				}
				if got.ID != c.req.r.PostForm.Get("client_id") {
					t.Fatalf("client = %q", got.ID)
				}
				return
			}
			var ae *clientauth.Error
			if !errors.As(err, &ae) || ae.Code != clientauth.CodeInvalidClient {
				t.Fatalf("Authenticate() error = %v, want invalid_client", err)
			}
			if ae.Description != "client authentication failed" {
				t.Errorf("description = %q: it must not say why", ae.Description)
			}
		})
	}
}

// testRequest wraps a request so a case can adjust it in its literal.
type testRequest struct{ r *http.Request }

// withoutHeader drops the Client-Cert header.
func (q *testRequest) withoutHeader() *testRequest {
	q.r.Header.Del(clientcert.HeaderClientCert)
	return q
}

func TestMutualTLSFailsClosed(t *testing.T) {
	f := newMTLSFixture(t)
	t.Run("no trust anchors", func(t *testing.T) {
		a := f.authenticator(nil)
		if _, err := a.Authenticate(context.Background(), overTLS(t, dnID, &f.good).r); err == nil {
			t.Fatal("tls_client_auth must fail without configured trust anchors")
		}
		// Self-signed clients check no chain, so they still work.
		if _, err := a.Authenticate(context.Background(), overTLS(t, selfID, &f.self).r); err != nil {
			t.Fatalf("self_signed_tls_client_auth: %v", err)
		}
	})
	t.Run("a secret is not a certificate", func(t *testing.T) {
		r := newRequest(t, nil, form("client_id", dnID, "client_secret", "x"), "")
		if _, err := f.auth.Authenticate(context.Background(), r); err == nil {
			t.Fatal("a tls_client_auth client must not authenticate with a secret")
		}
	})
	t.Run("a broken header from a proxy", func(t *testing.T) {
		req := viaHeader(t, dnID, proxyAddr, f.good)
		req.r.Header.Set(clientcert.HeaderClientCert, ":bm90IGEgY2VydA==:")
		if _, err := f.auth.Authenticate(context.Background(), req.r); err == nil {
			t.Fatal("an unreadable Client-Cert must fail")
		}
	})
	t.Run("a registration without a subject", func(t *testing.T) {
		f.st.clients["bad"] = store.Client{ID: "bad", AuthMethod: store.AuthTLSClient}
		if _, err := f.auth.Authenticate(context.Background(), overTLS(t, "bad", &f.good).r); err == nil {
			t.Fatal("a tls_client_auth client with no registered subject must never authenticate")
		}
	})
	t.Run("decoy chain check for an unknown client", func(t *testing.T) {
		before := clientauth.DecoyChecks(f.auth)
		if _, err := f.auth.Authenticate(context.Background(), overTLS(t, "nobody", &f.good).r); err == nil {
			t.Fatal("unknown client accepted")
		}
		if clientauth.DecoyChecks(f.auth) != before+1 {
			t.Fatal("an unknown client with a certificate must cost a chain check")
		}
	})
}

func TestParseDN(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string // pkix.RDNSequence.String of the result; "" = error
	}{
		{"CN=svc,O=Example,C=DE", "CN=svc,O=Example,C=DE"},
		{"cn=svc, o=Example , c=DE", "CN=svc,O=Example,C=DE"},
		{`CN=a\,b\+c\"d\\e,O=x`, `CN=a\,b\+c\"d\\e,O=x`},
		{`CN=\C3\A9t\C3\A9`, "CN=été"},
		// pkix writes the types it has no keyword for as OIDs.
		{"CN=svc+UID=42,O=x", "CN=svc+0.9.2342.19200300.100.1.1=#13023432,O=x"},
		{"2.5.4.3=svc", "CN=svc"},
		{"OID.2.5.4.3=svc", "CN=svc"},
		{"CN=#0c03737663", "CN=svc"},
		{"CN=svc;O=x", "CN=svc,O=x"},
		{"DC=com", "0.9.2342.19200300.100.1.25=#1303636f6d"},
		{"", ""},
		{"CN", ""},
		{"XX=svc", ""},
		{"1=svc", ""},
		{`CN=a\`, ""},
		{`CN=a\4`, ""},
		{"CN=a<b", ""},
		{"CN=#02012a", ""}, // an INTEGER, not a string
		{"CN=#0c", ""},
		{"CN=svc,", ""},
		{strings.Repeat("CN=a,", 300), ""},
	} {
		got, err := clientauth.ParseDN(c.in)
		if c.want == "" {
			if err == nil {
				t.Errorf("ParseDN(%q) = %v, want an error", c.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseDN(%q) error = %v", c.in, err)
			continue
		}
		if got.String() != c.want {
			t.Errorf("ParseDN(%q) = %q, want %q", c.in, got.String(), c.want)
		}
	}
}

func TestCheckTLSClientAuth(t *testing.T) {
	for _, c := range []struct {
		in store.TLSClientAuth
		ok bool
	}{
		{store.TLSClientAuth{SubjectDN: goodDN}, true},
		{store.TLSClientAuth{SANDNS: "svc.example.com"}, true},
		{store.TLSClientAuth{SANURI: "spiffe://example.com/svc"}, true},
		{store.TLSClientAuth{SANIP: "192.0.2.1"}, true},
		{store.TLSClientAuth{SANEmail: "svc@example.com"}, true},
		{store.TLSClientAuth{}, false},
		{store.TLSClientAuth{SubjectDN: goodDN, SANDNS: "svc.example.com"}, false},
		{store.TLSClientAuth{SubjectDN: "nonsense"}, false},
		{store.TLSClientAuth{SANDNS: "svc example"}, false},
		{store.TLSClientAuth{SANURI: "relative/path"}, false},
		{store.TLSClientAuth{SANIP: "fe80::1%eth0"}, false},
		{store.TLSClientAuth{SANEmail: "Svc <svc@example.com>"}, false},
	} {
		if err := clientauth.CheckTLSClientAuth(c.in); (err == nil) != c.ok {
			t.Errorf("CheckTLSClientAuth(%+v) = %v, want ok %v", c.in, err, c.ok)
		}
	}
}

func FuzzParseDN(f *testing.F) {
	for _, s := range []string{goodDN, `CN=a\,b`, "CN=#0c03737663", "CN=svc+UID=1", `CN=\C3\A9`, "2.5.4.3=x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		seq, err := clientauth.ParseDN(s)
		if err != nil {
			return
		}
		// Whatever parses writes back (RFC 4514) and parses to the same.
		again, err := clientauth.ParseDN(seq.String())
		if err != nil {
			t.Fatalf("ParseDN(%q) = %q, which does not parse: %v", s, seq.String(), err)
		}
		if again.String() != seq.String() {
			t.Fatalf("round trip %q -> %q -> %q", s, seq.String(), again.String())
		}
	})
}
