package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/gateway/gatewaytest"
	"github.com/portcullis/portcullis/internal/tokenhandler"
)

// discardWriter is the cheapest possible client side: benchmarks measure
// the gateway and the upstream round trip, not a recorder's buffers.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }

// benchEnv is a gateway with metrics on and logs off, in front of a
// non-recording upstream.
func benchEnv(b *testing.B, logger *slog.Logger) (*gatewaytest.Issuer, *gatewaytest.Upstream, *Gateway) {
	b.Helper()
	return benchEnvWith(b, func(o *Options) {
		if logger != nil {
			o.Logger = logger
		}
	})
}

// benchEnvWith is the benchmarks' warehouse gateway (a loopback bench
// upstream, no CORS, logs discarded) with edit applied to its options.
func benchEnvWith(b *testing.B, edit func(*Options)) (*gatewaytest.Issuer, *gatewaytest.Upstream, *Gateway) {
	b.Helper()
	is := gatewaytest.NewIssuer(b)
	up := gatewaytest.NewBenchUpstream(b)
	cfg := warehouseConfig(is, gatewaytest.NewUpstream(b))
	cfg.APIs[0].Upstream = up.URL() + "/backend"
	cfg.APIs[0].CORS = nil
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	o := Options{
		Catalog:     cfg,
		SplitSource: is.SplitSource(),
		Getenv:      func(string) string { return is.ClientSecret },
		Logger:      slog.New(slog.DiscardHandler),
		Metrics:     prometheus.NewRegistry(),
	}
	edit(&o)
	gw, err := New(ctx, o)
	if err != nil {
		b.Fatal(err)
	}
	return is, up, gw
}

// runParallel sends GET target with tok through h from every P, checking
// the status.
func runParallel(b *testing.B, h http.Handler, target, tok string) {
	b.Helper()
	u, err := url.Parse("http://gateway.test" + target)
	if err != nil {
		b.Fatal(err)
	}
	auth := "Bearer " + tok
	// Warm the caches (and the connection pool) before timing.
	for range 10 {
		w := &discardWriter{h: http.Header{}}
		h.ServeHTTP(w, benchRequest(u, auth, tok != ""))
		if w.code != http.StatusOK {
			b.Fatalf("warm-up status %d", w.code)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{h: http.Header{}}
		for pb.Next() {
			clear(w.h)
			w.code = 0
			h.ServeHTTP(w, benchRequest(u, auth, tok != ""))
			if w.code != http.StatusOK {
				b.Errorf("status %d", w.code)
				return
			}
		}
	})
}

// benchRequest is what the server would hand a handler for a small GET
// from a browser-like client.
func benchRequest(u *url.URL, auth string, withAuth bool) *http.Request {
	h := http.Header{
		"Accept":          {"application/json"},
		"User-Agent":      {"bench/1.0"},
		"Accept-Encoding": {"gzip"},
	}
	if withAuth {
		h["Authorization"] = []string{auth}
	}
	r := &http.Request{
		Method:     "GET",
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Body:       http.NoBody,
		Host:       u.Host,
		RemoteAddr: "192.0.2.10:40000",
		RequestURI: u.RequestURI(),
	}
	return r.WithContext(context.Background())
}

// BenchmarkGateway is the full chain per token kind, with warm caches:
// route, credentials, resolution (verified-token cache hit for a JWT,
// phantom and split caches for the others), scope, header sanitation,
// the proxy round trip to a loopback upstream, metrics.
func BenchmarkGateway(b *testing.B) {
	is, _, gw := benchEnv(b, nil)
	claims := gatewaytest.Claims{Subject: "alice", ClientID: "spa", Scope: "list_items", Audience: []string{"warehouse"}}
	b.Run("jwt", func(b *testing.B) { runParallel(b, gw, "/warehouse/items/42", is.JWT(b, claims)) })
	b.Run("phantom", func(b *testing.B) { runParallel(b, gw, "/warehouse/items/42", is.Opaque(b, claims)) })
	b.Run("split", func(b *testing.B) { runParallel(b, gw, "/warehouse/items/42", is.Split(b, claims)) })
	b.Run("public", func(b *testing.B) { runParallel(b, gw, "/warehouse/health", "") })
}

// BenchmarkGatewayAccessLog is the JWT path with the JSON access log on
// (to io.Discard), for its cost.
func BenchmarkGatewayAccessLog(b *testing.B) {
	is, _, gw := benchEnv(b, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	tok := is.JWT(b, gatewaytest.Claims{Subject: "alice", ClientID: "spa", Scope: "list_items", Audience: []string{"warehouse"}})
	runParallel(b, gw, "/warehouse/items/42", tok)
}

// BenchmarkPlainProxy is the baseline: httputil.ReverseProxy over the same
// transport settings, no checks at all.
func BenchmarkPlainProxy(b *testing.B) {
	up := gatewaytest.NewBenchUpstream(b)
	target, _ := url.Parse(up.URL() + "/backend")
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		Transport: NewUpstreamTransport(0, 0, nil),
	}
	b.Run("default", func(b *testing.B) { runParallel(b, rp, "/items/42", "") })
	// The gateway recycles ReverseProxy's 32 KiB copy buffers; the same
	// for the baseline isolates what the checks themselves cost.
	pooled := *rp
	pooled.BufferPool = proxyBuffers
	b.Run("pooled", func(b *testing.B) { runParallel(b, &pooled, "/items/42", "") })
}

func BenchmarkMatch(b *testing.B) {
	rt := testRouter(b, fuzzRoutes...)
	var vals [maxParams]string
	b.ReportAllocs()
	for b.Loop() {
		rt.match("GET", "/orgs/acme/items/42", &vals)
	}
}

func BenchmarkExtractBearer(b *testing.B) {
	h := http.Header{"Authorization": {"Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"}}
	b.ReportAllocs()
	for b.Loop() {
		_, _, _ = extractCredential(h)
	}
}

// BenchmarkThroughput runs whole HTTP exchanges over loopback listeners,
// client → proxy → upstream, with 64 concurrent keep-alive clients, for
// the plain proxy and the gateway per token kind. The ratio of their
// ns/op is the gateway's throughput relative to a plain proxy.
func BenchmarkThroughput(b *testing.B) {
	is, up, gw := benchEnv(b, nil)
	claims := gatewaytest.Claims{Subject: "alice", ClientID: "spa", Scope: "list_items", Audience: []string{"warehouse"}}
	target, _ := url.Parse(up.URL() + "/backend")
	plain := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		Transport: NewUpstreamTransport(0, 0, nil),
	}
	pooled := *plain
	pooled.BufferPool = proxyBuffers
	cases := []struct {
		name  string
		h     http.Handler
		path  string
		token string
	}{
		{"plain", plain, "/items/42", ""},
		{"plain-pooled", &pooled, "/items/42", ""},
		{"jwt", gw, "/warehouse/items/42", is.JWT(b, claims)},
		{"phantom", gw, "/warehouse/items/42", is.Opaque(b, claims)},
		{"split", gw, "/warehouse/items/42", is.Split(b, claims)},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			srv := httptest.NewServer(tc.h)
			defer srv.Close()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
			defer client.CloseIdleConnections()
			get := func() int {
				req, _ := http.NewRequest("GET", srv.URL+tc.path, nil)
				if tc.token != "" {
					req.Header.Set("Authorization", "Bearer "+tc.token)
				}
				res, err := client.Do(req)
				if err != nil {
					return 0
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				return res.StatusCode
			}
			for range 10 {
				if code := get(); code != 200 {
					b.Fatalf("warm-up status %d", code)
				}
			}
			b.ReportAllocs()
			b.SetParallelism(32) // 64 clients on 2 CPUs
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if code := get(); code != 200 {
						b.Errorf("status %d", code)
						return
					}
				}
			})
		})
	}
}

// BenchmarkGatewaySessionCookie is the OAuth proxy's cookie path against
// the bearer path through the whole gateway, the same opaque token
// (phantom cache hit) each time, from a browser-like request with an
// Origin and two cookies of the site's own: bearer on a gateway without
// a token handler, bearer on a gateway whose token handler fronts the
// API (the set is looked at, the cookies scanned for the agent's), and
// the SPA's call (x-pc-csrf and the access, refresh and CSRF cookies
// instead of Authorization: one scan of Cookie, two AES-GCM opens, the
// constant-time compare, the strip).
func BenchmarkGatewaySessionCookie(b *testing.B) {
	is, _, gw := benchEnv(b, nil)
	tok := is.Opaque(b, gatewaytest.Claims{Subject: "alice", ClientID: "spa", Scope: "list_items", Audience: []string{"warehouse"}})
	bearer := func(r *http.Request) {
		r.Header["Authorization"] = []string{"Bearer " + tok}
		r.Header["Origin"] = []string{"https://app.example"}
		r.Header["Cookie"] = []string{"_ga=GA1.2.3.4; theme=dark"}
	}
	b.Run("bearer", func(b *testing.B) { runParallelWith(b, gw, "/warehouse/items/42", bearer) })

	key := bytes.Repeat([]byte{7}, tokenhandler.KeySize)
	spa := tokenhandler.SPA{
		Name: "warehouse", PathPrefix: "/bff/warehouse", AllowedOrigins: []string{"https://app.example"},
		Issuer: "https://id.example", ClientID: "warehouse-bff", ClientSecretEnv: "S", RedirectURI: "https://app.example/",
		CookieKeys: []tokenhandler.CookieKey{{ID: "k1", Env: "K"}}, APIPaths: []string{"/warehouse"},
	}
	spa.ApplyDefaults()
	h, err := tokenhandler.New(spa, tokenhandler.Options{Getenv: func(k string) string {
		return map[string]string{"S": "secret", "K": base64.StdEncoding.EncodeToString(key)}[k]
	}})
	if err != nil {
		b.Fatal(err)
	}
	if err := gw.SetTokenHandlers([]*tokenhandler.Handler{h}); err != nil {
		b.Fatal(err)
	}
	b.Run("bearer-beside-token-handler", func(b *testing.B) { runParallelWith(b, gw, "/warehouse/items/42", bearer) })

	sealer, err := tokenhandler.NewSealer([]tokenhandler.Key{{ID: "k1", Secret: key}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	exp := time.Now().Add(time.Hour)
	csrf := "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5"
	seal := func(kind, v string) string {
		s, err := sealer.Seal("__Host-pc-warehouse-"+kind, []byte(v), exp)
		if err != nil {
			b.Fatal(err)
		}
		return "__Host-pc-warehouse-" + kind + "=" + s
	}
	cookie := "_ga=GA1.2.3.4; " + seal("at", tok) + "; " + seal("rt", "pcr_refresh") + "; " + seal("csrf", csrf) + "; theme=dark"
	b.Run("cookie", func(b *testing.B) {
		runParallelWith(b, gw, "/warehouse/items/42", func(r *http.Request) {
			// Fresh per request: the gateway strips the agent's cookies
			// and header from the request it is given.
			r.Header["Origin"] = []string{"https://app.example"}
			r.Header[http.CanonicalHeaderKey(tokenhandler.CSRFHeader)] = []string{csrf}
			r.Header["Cookie"] = []string{cookie}
		})
	})
}

// runParallelWith is runParallel for requests without Authorization that
// edit adds headers to.
func runParallelWith(b *testing.B, h http.Handler, target string, edit func(*http.Request)) {
	b.Helper()
	u, err := url.Parse("http://gateway.test" + target)
	if err != nil {
		b.Fatal(err)
	}
	req := func() *http.Request {
		r := benchRequest(u, "", false)
		edit(r)
		return r
	}
	for range 10 {
		w := &discardWriter{h: http.Header{}}
		h.ServeHTTP(w, req())
		if w.code != http.StatusOK {
			b.Fatalf("warm-up status %d", w.code)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{h: http.Header{}}
		for pb.Next() {
			clear(w.h)
			w.code = 0
			h.ServeHTTP(w, req())
			if w.code != http.StatusOK {
				b.Errorf("status %d", w.code)
				return
			}
		}
	})
}

// BenchmarkSessionCredential is the credential step alone, without the
// proxy round trip that dwarfs it in BenchmarkGatewaySessionCookie:
// extracting a bearer token, against taking it from the session's
// cookies (fronting lookup, AccessToken, the strip). Both build the same
// size of request header per call.
func BenchmarkSessionCredential(b *testing.B) {
	key := bytes.Repeat([]byte{7}, tokenhandler.KeySize)
	spa := tokenhandler.SPA{
		Name: "warehouse", PathPrefix: "/bff/warehouse", AllowedOrigins: []string{"https://app.example"},
		Issuer: "https://id.example", ClientID: "warehouse-bff", ClientSecretEnv: "S", RedirectURI: "https://app.example/",
		CookieKeys: []tokenhandler.CookieKey{{ID: "k1", Env: "K"}}, APIPaths: []string{"/warehouse"},
	}
	spa.ApplyDefaults()
	h, err := tokenhandler.New(spa, tokenhandler.Options{Getenv: func(k string) string {
		return map[string]string{"S": "secret", "K": base64.StdEncoding.EncodeToString(key)}[k]
	}})
	if err != nil {
		b.Fatal(err)
	}
	set, err := newSPASet([]*tokenhandler.Handler{h}, nil)
	if err != nil {
		b.Fatal(err)
	}
	sealer, err := tokenhandler.NewSealer([]tokenhandler.Key{{ID: "k1", Secret: key}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	tok := "pca_" + strings.Repeat("x", 43)
	csrf := "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5"
	seal := func(kind, v string) string {
		s, err := sealer.Seal("__Host-pc-warehouse-"+kind, []byte(v), time.Now().Add(time.Hour))
		if err != nil {
			b.Fatal(err)
		}
		return "__Host-pc-warehouse-" + kind + "=" + s
	}
	cookie := "_ga=GA1.2.3.4; " + seal("at", tok) + "; " + seal("rt", "pcr_refresh") + "; " + seal("csrf", csrf) + "; theme=dark"
	api := &apiRoute{name: "warehouse"}
	var got string
	step := &credentialStep{api: api, next: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		got = exchangeOf(w).raw
	})}
	u, _ := url.Parse("http://gateway.test/warehouse/items")
	run := func(b *testing.B, spas *spaSet, header func() http.Header) {
		b.ReportAllocs()
		for b.Loop() {
			r := &http.Request{Method: "GET", URL: u, Header: header()}
			ex := getExchange(&discardWriter{h: http.Header{}}, time.Time{})
			ex.api, ex.spas = api, spas
			step.ServeHTTP(ex, r)
			putExchange(ex)
			if got != tok {
				b.Fatalf("token %q", got)
			}
		}
	}
	b.Run("bearer", func(b *testing.B) {
		run(b, nil, func() http.Header {
			return http.Header{"Authorization": {"Bearer " + tok}, "Origin": {"https://app.example"}, "Cookie": {"_ga=GA1.2.3.4; theme=dark"}}
		})
	})
	b.Run("cookie", func(b *testing.B) {
		run(b, set, func() http.Header {
			return http.Header{"X-Pc-Csrf": {csrf}, "Origin": {"https://app.example"}, "Cookie": {cookie}}
		})
	})
}
