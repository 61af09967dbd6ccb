package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/catalog"
)

func TestBodyLimit(t *testing.T) {
	e := newEnv(t, func(c *catalog.Snapshot) { c.APIs[0].MaxBodyBytes = 16 })
	tok := e.token(t, "jwt", "order_item")
	tests := []struct {
		name    string
		body    string
		chunked bool
		want    int
	}{
		{"within", "0123456789", false, 200},
		{"at the limit", strings.Repeat("x", 16), false, 200},
		{"declared too large", strings.Repeat("x", 17), false, 413},
		{"chunked within", "0123456789", true, 200},
		{"chunked too large", strings.Repeat("x", 100), true, 413},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.up.Reset()
			r := request("POST", "/warehouse/orders", tok)
			if tc.chunked {
				r.Body = io.NopCloser(strings.NewReader(tc.body))
				r.ContentLength = -1
			} else {
				r.Body = io.NopCloser(strings.NewReader(tc.body))
				r.ContentLength = int64(len(tc.body))
			}
			w := e.serve(r)
			if w.Code != tc.want {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tc.want, w.Body)
			}
			if tc.want == 413 {
				if p := readProblem(t, w); p.Type != "urn:portcullis:problem:payload-too-large" {
					t.Errorf("problem type = %q", p.Type)
				}
				return
			}
			if got, _ := e.up.Last(); string(got.Body) != tc.body {
				t.Errorf("upstream body = %q, want %q", got.Body, tc.body)
			}
		})
	}
}

func TestUpstreamUnreachable(t *testing.T) {
	e := newEnv(t, nil)
	addr := strings.TrimPrefix(e.up.URL(), "http://")
	e.up.Close()
	w := e.serve(request("GET", "/warehouse/items", e.token(t, "jwt", "list_items")))
	if w.Code != http.StatusBadGateway {
		t.Fatalf("status = %d, want 502", w.Code)
	}
	p := readProblem(t, w)
	if p.Type != "urn:portcullis:problem:bad-gateway" {
		t.Errorf("problem type = %q", p.Type)
	}
	host, port, _ := strings.Cut(addr, ":")
	if body := w.Body.String(); strings.Contains(body, addr) || strings.Contains(body, port) || strings.Contains(body, host) {
		t.Errorf("problem body names the upstream: %s", body)
	}
	logged := e.logLines(t, "upstream request failed")
	if len(logged) != 1 || logged[0]["request_id"] != p.RequestID {
		t.Errorf("upstream failure log lines = %v, want one with request_id %s", logged, p.RequestID)
	}
}

func TestUpstreamTimeout(t *testing.T) {
	e := newEnv(t, func(c *catalog.Snapshot) {
		c.APIs[0].Timeouts.Upstream = catalog.Duration(50 * time.Millisecond)
	})
	release := make(chan struct{})
	defer close(release)
	e.up.SetHandler(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	w := e.serve(request("GET", "/warehouse/items", e.token(t, "jwt", "list_items")))
	if w.Code != http.StatusGatewayTimeout {
		t.Fatalf("status = %d, want 504", w.Code)
	}
	if p := readProblem(t, w); p.Type != "urn:portcullis:problem:gateway-timeout" {
		t.Errorf("problem type = %q", p.Type)
	}
	if strings.Contains(w.Body.String(), "127.0.0.1") {
		t.Errorf("problem body names the upstream: %s", w.Body)
	}
}

func TestUpstreamPath(t *testing.T) {
	tests := []struct {
		name, upstreamPath, target string
		wantPath, wantRaw          string
	}{
		{"prefix", "/backend", "/warehouse/items/42", "/backend/items/42", ""},
		{"root upstream", "", "/warehouse/items/42", "/items/42", ""},
		{"trailing slash upstream", "/backend/", "/warehouse/items/42", "/backend/items/42", ""},
		{"escaped segment kept", "/backend", "/warehouse/items/a%20b", "/backend/items/a b", ""},
		{"raw path preserved", "/backend", "/warehouse/items/a%3Ab", "/backend/items/a:b", "/backend/items/a%3Ab"},
		{"rest wildcard", "/backend", "/warehouse/files/a/b.txt", "/backend/files/a/b.txt", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.cfg.APIs[0].Upstream = e.up.URL() + tc.upstreamPath
			if err := e.gw.Reload(t.Context(), e.cfg); err != nil {
				t.Fatal(err)
			}
			w := e.serve(request("GET", tc.target, e.token(t, "jwt", "list_items")))
			if w.Code != 200 {
				t.Fatalf("status = %d; body %s", w.Code, w.Body)
			}
			got, _ := e.up.Last()
			if got.Path != tc.wantPath || got.RawPath != tc.wantRaw {
				t.Errorf("upstream path = %q raw %q, want %q raw %q", got.Path, got.RawPath, tc.wantPath, tc.wantRaw)
			}
			if want := strings.TrimPrefix(e.up.URL(), "http://"); got.Host != want {
				t.Errorf("upstream Host = %q, want %q", got.Host, want)
			}
		})
	}
}

func TestResponsePassesThrough(t *testing.T) {
	e := newEnv(t, nil)
	e.up.SetHandler(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Request-Id", "upstream-id")
		w.Header().Set("X-Custom", "kept")
		w.WriteHeader(http.StatusTeapot)
		_, _ = io.WriteString(w, "short and stout")
	})
	w := e.serve(request("GET", "/warehouse/items", e.token(t, "jwt", "list_items")))
	if w.Code != http.StatusTeapot || w.Body.String() != "short and stout" || w.Header().Get("X-Custom") != "kept" {
		t.Errorf("response %d %q X-Custom=%q", w.Code, w.Body, w.Header().Get("X-Custom"))
	}
	if ids := w.Header().Values("X-Request-Id"); len(ids) != 1 || ids[0] == "upstream-id" {
		t.Errorf("X-Request-Id = %q, want only the gateway's", ids)
	}
}

// TestRealServer goes through real listeners, as a client would.
func TestRealServer(t *testing.T) {
	e := newEnv(t, nil)
	srv := httptest.NewServer(e.gw)
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/warehouse/items", nil)
	req.Header.Set("Authorization", "Bearer "+e.token(t, "opaque", "list_items"))
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(body, `"ok":true`) {
		t.Fatalf("status %d body %q", res.StatusCode, body)
	}
	got, _ := e.up.Last()
	if xff := got.Header.Get("X-Forwarded-For"); xff != "127.0.0.1" {
		t.Errorf("upstream X-Forwarded-For = %q, want 127.0.0.1", xff)
	}
}

func TestRedactURLError(t *testing.T) {
	err := &url.Error{Op: "Get", URL: "http://10.0.0.1/items?access_token=secret", Err: io.ErrUnexpectedEOF}
	if got := redactURLError(err); strings.Contains(got, "secret") || strings.Contains(got, "10.0.0.1") {
		t.Errorf("redactURLError = %q", got)
	}
}

func TestUpstreamTLS(t *testing.T) {
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.URL.Path)
	}))
	// The refused handshake below would otherwise be logged to stderr.
	up.Config.ErrorLog = log.New(io.Discard, "", 0)
	up.StartTLS()
	defer up.Close()
	dir := t.TempDir()
	writeCA(t, dir+"/ca.pem", up)
	cfg := catalog.Snapshot{APIs: []catalog.API{{
		Name: "tls", BasePath: "/tls", Upstream: up.URL + "/x", Public: true,
		Operations: []catalog.Operation{{Path: "/{p...}"}},
		TLS:        catalog.UpstreamTLS{CAFile: "ca.pem", ServerName: "example.com"},
	}}}
	gw, err := New(t.Context(), Options{Catalog: cfg, BaseDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	w := httptestServe(gw, request("GET", "/tls/y", ""))
	if w.Code != 200 || w.Body.String() != "/x/y" {
		t.Errorf("status %d body %q", w.Code, w.Body)
	}
	// Without the CA the upstream is not trusted: 502, never a pass.
	cfg.APIs[0].TLS = catalog.UpstreamTLS{}
	if err := gw.Reload(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	if w := httptestServe(gw, request("GET", "/tls/y", "")); w.Code != http.StatusBadGateway {
		t.Errorf("untrusted upstream: status %d, want 502", w.Code)
	}
}

// writeCA saves the test server's certificate as a PEM CA bundle.
func writeCA(t testing.TB, path string, srv *httptest.Server) {
	t.Helper()
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestStreamingFlushes: a stream (server-sent events, or any answer of
// unknown length) reaches the client write by write, while the upstream
// is still sending.
func TestStreamingFlushes(t *testing.T) {
	for _, ct := range []string{"text/event-stream", "application/x-ndjson"} {
		t.Run(ct, func(t *testing.T) {
			e := newEnv(t, nil)
			release := make(chan struct{})
			defer close(release)
			e.up.SetHandler(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", ct)
				_, _ = io.WriteString(w, "data: first\n\n")
				_ = http.NewResponseController(w).Flush()
				select {
				case <-release:
				case <-r.Context().Done():
				}
			})
			srv := httptest.NewServer(e.gw)
			defer srv.Close()
			req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/warehouse/items", nil)
			req.Header.Set("Authorization", "Bearer "+e.token(t, "jwt", "list_items"))
			res, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			// The first event arrives while the upstream is still
			// streaming: the exchange's writer flushes through to the
			// client.
			buf := make([]byte, len("data: first\n\n"))
			if _, err := io.ReadFull(res.Body, buf); err != nil || string(buf) != "data: first\n\n" {
				t.Fatalf("read %q, %v", buf, err)
			}
		})
	}
}

func TestUpstreamMutualTLS(t *testing.T) {
	var seen atomic.Int32
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) == 1 && r.TLS.PeerCertificates[0].Subject.CommonName == "gateway" {
			seen.Add(1)
		}
	}))
	up.Config.ErrorLog = log.New(io.Discard, "", 0)
	up.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	up.StartTLS()
	defer up.Close()
	dir := t.TempDir()
	writeCA(t, filepath.Join(dir, "ca.pem"), up)
	writeClientCert(t, filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key"))
	cfg := catalog.Snapshot{APIs: []catalog.API{{
		Name: "mtls", BasePath: "/mtls", Upstream: up.URL, Public: true,
		Operations: []catalog.Operation{{Path: "/{p...}"}},
		TLS:        catalog.UpstreamTLS{CAFile: "ca.pem", CertFile: "client.pem", KeyFile: "client.key"},
	}}}
	gw, err := New(t.Context(), Options{Catalog: cfg, BaseDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if w := httptestServe(gw, request("GET", "/mtls/x", "")); w.Code != 200 || seen.Load() != 1 {
		t.Errorf("status %d, client certificate seen %d times", w.Code, seen.Load())
	}
	cfg.APIs[0].TLS.KeyFile = ""
	if err := gw.Reload(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "tls.key_file: must be set with cert_file") {
		t.Errorf("Reload without key_file = %v", err)
	}
}

// writeClientCert makes a self-signed client certificate for "gateway".
func writeClientCert(t testing.TB, certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "gateway"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestUpstreamErrorsReplaced: an upstream's 5xx page (a stack trace, an
// internal host) never reaches the client: it gets the gateway's problem
// with the same status, the request id and the upstream's Retry-After;
// upstream_errors: pass lets an API opt out.
func TestUpstreamErrorsReplaced(t *testing.T) {
	for _, tc := range []struct {
		name, mode string
		pass       bool
	}{{"default replaces", "", false}, {"replace", catalog.UpstreamErrorsReplace, false}, {"pass", catalog.UpstreamErrorsPass, true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *catalog.Snapshot) { c.APIs[0].UpstreamErrors = tc.mode })
			const page = "panic: runtime error at db.internal:5432\n\tSELECT * FROM users"
			e.up.SetHandler(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				w.Header().Set("Retry-After", "30")
				w.Header().Set("Etag", `"v1"`)
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = io.WriteString(w, page)
			})
			w := e.serve(request("GET", "/warehouse/items", e.token(t, "jwt", "list_items")))
			if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "30" {
				t.Fatalf("status %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
			}
			if tc.pass {
				if w.Body.String() != page {
					t.Errorf("passed body = %q", w.Body)
				}
				return
			}
			if strings.Contains(w.Body.String(), "panic") || strings.Contains(w.Body.String(), "db.internal") || w.Header().Get("Etag") != "" {
				t.Fatalf("upstream page leaked: %q (Etag %q)", w.Body, w.Header().Get("Etag"))
			}
			p := readProblem(t, w)
			if p.Type != "urn:portcullis:problem:upstream-error" || p.Status != 503 || p.RequestID == "" || p.RequestID != w.Header().Get("X-Request-Id") {
				t.Errorf("problem = %+v, X-Request-Id %q", p, w.Header().Get("X-Request-Id"))
			}
		})
	}
}
