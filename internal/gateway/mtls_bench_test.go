package gateway

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/clientcert"
	"github.com/portcullis/portcullis/internal/gateway/gatewaytest"
	"github.com/portcullis/portcullis/internal/token"
)

// BenchmarkGatewayMTLS is BenchmarkGateway's JWT path (warm caches, the
// proxy round trip included) with a token bound to a certificate (RFC
// 8705 §3), the certificate on the TLS connection or in a trusted
// proxy's Client-Cert header, against an unbound token (the baseline).
func BenchmarkGatewayMTLS(b *testing.B) {
	cert := newClientCert(b)
	claims := gatewaytest.Claims{Subject: "alice", ClientID: "svc", Scope: "list_items", Audience: []string{"warehouse"}}
	bound := claims
	bound.Extra = map[string]any{"cnf": x5t(cert)}
	b.Run("bearer", func(b *testing.B) {
		is, gw := mtlsBenchEnv(b)
		runParallel(b, gw, "/warehouse/items/42", is.JWT(b, claims))
	})
	b.Run("bound-tls", func(b *testing.B) {
		is, gw := mtlsBenchEnv(b)
		auth := "Bearer " + is.JWT(b, bound)
		runParallelWith(b, gw, "/warehouse/items/42", func(r *http.Request) {
			r.Header["Authorization"] = []string{auth}
			overTLS(r, cert)
		})
	})
	b.Run("bound-proxy-header", func(b *testing.B) {
		is, gw := mtlsBenchEnv(b)
		auth, hdr := "Bearer "+is.JWT(b, bound), []string{clientcert.FormatHeader(cert)}
		runParallelWith(b, gw, "/warehouse/items/42", func(r *http.Request) {
			r.Header["Authorization"] = []string{auth}
			r.Header[clientcert.HeaderClientCert] = hdr
			r.RemoteAddr = proxyAddr
		})
	})
}

// mtlsBenchEnv is dpopBenchEnv believing Client-Cert from proxyAddr.
func mtlsBenchEnv(b *testing.B) (*gatewaytest.Issuer, *Gateway) {
	b.Helper()
	is := gatewaytest.NewIssuer(b)
	up := gatewaytest.NewBenchUpstream(b)
	cfg := warehouseConfig(is, gatewaytest.NewUpstream(b))
	cfg.APIs[0].Upstream = up.URL() + "/backend"
	cfg.APIs[0].CORS = nil
	o := Options{
		Catalog:     cfg,
		SplitSource: is.SplitSource(),
		Getenv:      func(string) string { return is.ClientSecret },
		Logger:      slog.New(slog.DiscardHandler),
		Metrics:     prometheus.NewRegistry(),
	}
	withClientCerts(&o)
	gw, err := New(b.Context(), o)
	if err != nil {
		b.Fatal(err)
	}
	return is, gw
}

// BenchmarkMTLSStep is the certificate check alone, as the mtls step
// makes it: an unbound token (one map lookup) and a bound one (a SHA-256
// of the certificate, a constant-time compare).
func BenchmarkMTLSStep(b *testing.B) {
	cert := newClientCert(b)
	api := &apiRoute{name: "warehouse"}
	api.setDPoP("")
	api.setMTLS("", false)
	s := &mtlsStep{api: api, next: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}
	for name, claims := range map[string]map[string]any{
		"unbound": {"sub": "alice"},
		"bound":   {"sub": "alice", "cnf": x5t(cert)},
	} {
		b.Run(name, func(b *testing.B) {
			r := overTLS(httptest.NewRequest("GET", "/warehouse/items", nil), cert)
			ex := &exchange{rw: httptest.NewRecorder(), scheme: schemeBearer,
				verified: &token.Verified{Claims: &token.Claims{Raw: claims}}}
			b.ReportAllocs()
			for b.Loop() {
				s.ServeHTTP(ex, r)
			}
			if ex.status != 0 {
				b.Fatalf("refused: %d", ex.status)
			}
		})
	}
}
