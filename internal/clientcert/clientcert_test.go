package clientcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"math/big"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func newCert(t *testing.T, cn string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestThumbprintIsSHA256OfDER(t *testing.T) {
	c := newCert(t, "svc")
	sum := sha256.Sum256(c.Raw)
	if got, want := Thumbprint(c), base64.RawURLEncoding.EncodeToString(sum[:]); got != want {
		t.Fatalf("Thumbprint = %q, want %q", got, want)
	}
	if strings.ContainsAny(Thumbprint(c), "=+/") {
		t.Fatal("thumbprint must be unpadded base64url")
	}
}

func TestCertificateSources(t *testing.T) {
	tlsCert, hdrCert := newCert(t, "tls"), newCert(t, "header")
	proxies, err := ParseProxies([]string{"10.0.0.0/8", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	src := Source{Header: HeaderClientCert, Proxies: proxies}
	cases := []struct {
		name   string
		remote string
		tls    *x509.Certificate
		header []string
		want   *x509.Certificate
		err    error
	}{
		{"tls connection", "192.0.2.1:5000", tlsCert, nil, tlsCert, nil},
		{"tls wins over a proxy header", "10.1.2.3:5000", tlsCert, []string{FormatHeader(hdrCert)}, tlsCert, nil},
		{"header from a proxy", "10.1.2.3:5000", nil, []string{FormatHeader(hdrCert)}, hdrCert, nil},
		{"header from an IPv6 proxy", "[::1]:5000", nil, []string{FormatHeader(hdrCert)}, hdrCert, nil},
		{"header from a client is ignored", "192.0.2.1:5000", nil, []string{FormatHeader(hdrCert)}, nil, nil},
		{"no certificate", "10.1.2.3:5000", nil, nil, nil, nil},
		{"two headers", "10.1.2.3:5000", nil, []string{FormatHeader(hdrCert), FormatHeader(hdrCert)}, nil, ErrBadHeader},
		{"not a byte sequence", "10.1.2.3:5000", nil, []string{"abc"}, nil, ErrBadHeader},
		{"not a certificate", "10.1.2.3:5000", nil, []string{":aGVsbG8=:"}, nil, ErrBadHeader},
		{"too long", "10.1.2.3:5000", nil, []string{":" + strings.Repeat("A", maxHeaderBytes) + ":"}, nil, ErrBadHeader},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "https://gw.example/x", nil)
			r.RemoteAddr = c.remote
			if c.tls != nil {
				r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{c.tls}}
			} else {
				r.TLS = nil
			}
			for _, h := range c.header {
				r.Header.Add(HeaderClientCert, h)
			}
			got, err := src.Certificate(r)
			if !errors.Is(err, c.err) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if got != c.want && (got == nil || c.want == nil || !got.Equal(c.want)) {
				t.Fatalf("certificate = %v, want %v", got, c.want)
			}
		})
	}
}

func TestZeroSourceReadsNoHeader(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.1:1"
	r.Header.Set(HeaderClientCert, FormatHeader(newCert(t, "x")))
	if got, err := (Source{}).Certificate(r); got != nil || err != nil {
		t.Fatalf("got %v, %v; want no certificate", got, err)
	}
}

func TestStrip(t *testing.T) {
	proxies, _ := ParseProxies([]string{"10.0.0.1"})
	src := Source{Header: HeaderClientCert, Proxies: proxies}
	for _, c := range []struct {
		remote string
		kept   bool
	}{{"10.0.0.1:1", true}, {"10.0.0.2:1", false}} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		r.Header.Set(HeaderClientCert, ":AA==:")
		src.Strip(r)
		if kept := r.Header.Get(HeaderClientCert) != ""; kept != c.kept {
			t.Errorf("%s: header kept = %v, want %v", c.remote, kept, c.kept)
		}
	}
}

func TestParseProxies(t *testing.T) {
	if _, err := ParseProxies([]string{"10.0.0.0/8", "192.0.2.7", "2001:db8::/32"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseProxies([]string{"nope"}); err == nil {
		t.Fatal("a bad prefix must be refused")
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add(":aGVsbG8=:")
	f.Add("abc")
	f.Add(":" + strings.Repeat("A", 100) + ":")
	f.Fuzz(func(t *testing.T, v string) {
		c, err := ParseHeader(v)
		if (c == nil) == (err == nil) {
			t.Fatalf("ParseHeader(%q) = %v, %v: exactly one must be set", v, c, err)
		}
	})
}
