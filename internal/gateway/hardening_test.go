package gateway

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/gateway/gatewaytest"
)

func TestIsDotSegment(t *testing.T) {
	for seg, want := range map[string]bool{
		".": true, "..": true, ".;": true, "..;": true, "..;x=1": true, ".;jsessionid=abc": true,
		"%2e": true, "%2E%2e": true, ".%2e": true, "%2e.;": true, "..%3b": true, "..%3B": true,
		"%2e%2e%3bx": true, "%u002e%u002e": true, "%U002E.": true, "..;/": true,
		"": false, "...": false, "...;": false, ".a": false, "a..": false, "..a": false,
		";": false, ";..": false, "%2": false, "%2e%2e%2e": false, "%3b": false, "a;..": false,
	} {
		if got := isDotSegment(seg); got != want {
			t.Errorf("isDotSegment(%q) = %v, want %v", seg, got, want)
		}
	}
}

// TestPathParameterSegments: "..;", ".;" and their encodings (which
// Tomcat, Jetty and Spring resolve as ".." and "." after cutting path
// parameters) never reach an upstream, whatever the API allows; ';'
// itself only reaches one that allows path parameters.
func TestPathParameterSegments(t *testing.T) {
	e := newEnv(t, func(c *catalog.Snapshot) {
		a := c.APIs[0]
		a.Name, a.BasePath, a.AllowPathParameters, a.CORS = "matrix", "/matrix", true, nil
		c.APIs = append(c.APIs, a)
	})
	tok := e.token(t, "jwt", "list_items")
	dotForms := []string{
		"..;", "..;x=1", ".;", "..%3b", "..%3B", "%2e%2e;", "%2E%2E%3B", ".%2e;", "%2e.%3bjsessionid=1",
		".%3b", "%2e;", "..%253b", "%252e%252e", "%252e%252e%253b", "%25u002e%25u002e", "..;%2f..;",
	}
	type tc struct {
		name, target string
		want         int
	}
	var tests []tc
	for _, base := range []string{"/warehouse", "/matrix"} {
		for _, f := range dotForms {
			tests = append(tests,
				tc{base + " " + f + " mid", base + "/files/" + f + "/admin", 400},
				tc{base + " " + f + " end", base + "/files/a/" + f, 400},
				tc{base + " " + f + " first", base + "/" + f + "/admin", 400})
		}
	}
	tests = append(tests,
		tc{"params refused by default", "/warehouse/items/42;v=1", 400},
		tc{"encoded params refused by default", "/warehouse/items/42%3Bv=1", 400},
		tc{"lower-case encoded params refused", "/warehouse/files/a%3bb", 400},
		tc{"params allowed on opt-in", "/matrix/items/42;v=1", 200},
		tc{"encoded params allowed on opt-in", "/matrix/files/a%3Bb/c", 200},
		tc{"dots in names pass", "/warehouse/files/a.../..b/.c/x..", 200},
		tc{"plain path passes", "/warehouse/files/a/b.txt", 200},
	)
	for _, c := range tests {
		t.Run(c.name, func(t *testing.T) {
			e.up.Reset()
			w := e.serve(request("GET", c.target, tok))
			if w.Code != c.want {
				t.Fatalf("GET %s: status %d, want %d; body %s", c.target, w.Code, c.want, w.Body)
			}
			_, reached := e.up.Last()
			if c.want == 400 {
				if p := readProblem(t, w); p.Type != "urn:portcullis:problem:bad-request" {
					t.Errorf("problem type = %q", p.Type)
				}
				if reached {
					t.Errorf("GET %s reached the upstream", c.target)
				}
			} else if !reached {
				t.Errorf("GET %s did not reach the upstream", c.target)
			}
		})
	}
}

// TestClientAddressHeadersStripped: the client-address headers CDNs and
// load balancers set, and backends believe, reach the upstream only from
// a trusted proxy.
func TestClientAddressHeadersStripped(t *testing.T) {
	e := newEnv(t, func(c *catalog.Snapshot) { c.TrustedProxies = []string{"10.0.0.0/8"} })
	tok := e.token(t, "jwt", "list_items")
	headers := []string{
		"CF-Connecting-IP", "True-Client-IP", "X-Original-Forwarded-For", "Fastly-Client-IP",
		"X-Cluster-Client-IP", "X-Client-IP", "X-Real-IP", "Client-IP", "X-Originating-IP",
		"X-Remote-IP", "X-Remote-Addr", "Akamai-Client-IP", "CF-Connecting-IPv6",
		"X-Original-Host", "X-Host", "x_real_ip", "cf_connecting_ip",
	}
	for _, peer := range []string{"192.0.2.10:40000", "10.0.0.5:5555"} {
		trusted := strings.HasPrefix(peer, "10.")
		t.Run(peer, func(t *testing.T) {
			e.up.Reset()
			r := request("GET", "/warehouse/items", tok)
			r.RemoteAddr = peer
			for _, h := range headers {
				r.Header[h] = []string{"127.0.0.1"}
			}
			if w := e.serve(r); w.Code != 200 {
				t.Fatalf("status %d", w.Code)
			}
			got, _ := e.up.Last()
			for _, h := range headers {
				v := got.Header[h]
				if v == nil {
					v = got.Header.Values(h)
				}
				switch {
				case !trusted && v != nil:
					t.Errorf("untrusted peer: upstream received %s: %q", h, v)
				case trusted && !strings.Contains(h, "_") && v == nil:
					t.Errorf("trusted proxy: upstream lost %s", h)
				}
			}
		})
	}
}

// TestForwardedHostNotFromRequestLine: X-Forwarded-Host is the Host the
// gateway received, never the authority of an absolute-form request line.
func TestForwardedHostNotFromRequestLine(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.token(t, "jwt", "list_items")
	addr := strings.TrimPrefix(serveListener(t, e.gw), "http://")
	for _, tc := range []struct {
		name, target, want string
	}{
		{"origin form", "/warehouse/items", "api.example"},
		{"absolute form", "http://evil.example/warehouse/items", ""},
		{"absolute form with port", "http://evil.example:8443/warehouse/items", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.up.Reset()
			res := rawRequest(t, addr, "GET "+tc.target+" HTTP/1.1\r\nHost: api.example\r\n"+
				"Authorization: Bearer "+tok+"\r\nX-Forwarded-Host: evil.example\r\nConnection: close\r\n\r\n")
			if res.StatusCode != 200 {
				t.Fatalf("status %d", res.StatusCode)
			}
			got, _ := e.up.Last()
			if v := got.Header.Values("X-Forwarded-Host"); strings.Join(v, ",") != tc.want {
				t.Errorf("upstream X-Forwarded-Host = %q, want %q", v, tc.want)
			}
		})
	}
}

// rawRequest writes req on a new connection to addr and reads the
// response.
func rawRequest(t testing.TB, addr, req string) *http.Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body = io.NopCloser(strings.NewReader(string(body)))
	return res
}

// upgradeUpstream is a backend that switches to whatever protocol it is
// asked for (or, when rogue, to h2c unasked) and then echoes, recording
// the Upgrade and HTTP2-Settings headers it saw.
type upgradeUpstream struct {
	rogue atomic.Bool
	mu    sync.Mutex
	seen  []string
}

func (u *upgradeUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.seen = append(u.seen, r.Header.Get("Upgrade")+"|"+r.Header.Get("Http2-Settings"))
	u.mu.Unlock()
	proto := r.Header.Get("Upgrade")
	if u.rogue.Load() {
		proto = "h2c"
	}
	if proto == "" {
		_, _ = io.WriteString(w, "plain")
		return
	}
	c, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer c.Close()
	_, _ = fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: %s\r\n\r\n", proto)
	_ = brw.Flush()
	line, _ := brw.ReadString('\n')
	_, _ = brw.WriteString("echo " + line)
	_ = brw.Flush()
}

func (u *upgradeUpstream) last() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.seen) == 0 {
		return "none"
	}
	return u.seen[len(u.seen)-1]
}

// TestUpgradeOnlyWhereDeclared: an operation with upgrade: websocket
// passes a WebSocket handshake; any other operation, and any other
// protocol (h2c above all), reaches the upstream without Upgrade and is
// never switched, even by an upstream that answers 101 unasked.
func TestUpgradeOnlyWhereDeclared(t *testing.T) {
	up := &upgradeUpstream{}
	srv := httptest.NewServer(up)
	t.Cleanup(srv.Close)
	e := newEnv(t, func(c *catalog.Snapshot) {
		c.APIs = append(c.APIs, catalog.API{
			Name: "live", BasePath: "/live", Upstream: srv.URL, Audiences: []string{"warehouse"},
			Operations: []catalog.Operation{
				{Method: "GET", Path: "/ws", Scopes: []string{"list_items"}, Upgrade: catalog.UpgradeWebSocket},
				{Method: "GET", Path: "/feed", Scopes: []string{"list_items"}},
			},
		})
	})
	tok := e.token(t, "jwt", "list_items")
	addr := strings.TrimPrefix(serveListener(t, e.gw), "http://")
	ws := "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	h2c := "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"
	for _, tc := range []struct {
		name, path, headers string
		rogue               bool
		wantStatus          int
		wantSeen            string
	}{
		{"declared websocket", "/live/ws", ws, false, 101, "websocket|"},
		{"undeclared websocket", "/live/feed", ws, false, 200, "|"},
		{"h2c on a websocket operation", "/live/ws", h2c, false, 200, "|"},
		{"h2c elsewhere", "/live/feed", h2c, false, 200, "|"},
		{"websocket and h2c at once", "/live/ws", "Connection: Upgrade\r\nUpgrade: websocket, h2c\r\n", false, 200, "|"},
		{"upstream switches unasked", "/live/feed", h2c, true, 502, "|"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up.rogue.Store(tc.rogue)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			_, _ = io.WriteString(c, "GET "+tc.path+" HTTP/1.1\r\nHost: api.example\r\nAuthorization: Bearer "+tok+"\r\n"+tc.headers+"\r\n")
			br := bufio.NewReader(c)
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.wantStatus)
			}
			if got := up.last(); got != tc.wantSeen {
				t.Errorf("upstream saw Upgrade|HTTP2-Settings = %q, want %q", got, tc.wantSeen)
			}
			if tc.wantStatus == 101 {
				_, _ = io.WriteString(c, "hello\n")
				if line, _ := br.ReadString('\n'); line != "echo hello\n" {
					t.Errorf("through the tunnel: %q", line)
				}
			}
		})
	}
}

// TestResponseHeadersRemoved: headers naming the backend's software never
// reach the client by default; an API removes more, or keeps one of the
// defaults.
func TestResponseHeadersRemoved(t *testing.T) {
	backend := map[string]string{
		"Server": "Apache/2.4.1 (Unix)", "X-Powered-By": "PHP/5.4.0", "X-AspNet-Version": "4.0.30319",
		"X-AspNetMvc-Version": "5.2", "X-Runtime": "0.012", "X-Backend-Host": "db-7.internal",
		"X-Generator": "Drupal 7", "X-Debug-Token": "abc", "X-Custom": "kept", "Content-Type": "application/json",
	}
	tests := []struct {
		name     string
		policy   catalog.ResponseHeaders
		wantKept []string
	}{
		{"defaults", catalog.ResponseHeaders{}, []string{"X-Debug-Token", "X-Custom", "Content-Type"}},
		{"remove more, keep server", catalog.ResponseHeaders{Remove: []string{"x-debug-*"}, Keep: []string{"Server"}},
			[]string{"Server", "X-Custom", "Content-Type"}},
		{"keep one of a default prefix", catalog.ResponseHeaders{Keep: []string{"X-Backend-Host"}},
			[]string{"X-Backend-Host", "X-Debug-Token", "X-Custom", "Content-Type"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *catalog.Snapshot) { c.APIs[0].ResponseHeaders = tc.policy })
			e.up.SetHandler(func(w http.ResponseWriter, _ *http.Request) {
				for k, v := range backend {
					w.Header()[k] = []string{v}
				}
				w.Header()["X_Powered_By"] = []string{"Express"}
			})
			w := e.serve(request("GET", "/warehouse/items", e.token(t, "jwt", "list_items")))
			if w.Code != 200 {
				t.Fatalf("status %d", w.Code)
			}
			for k := range backend {
				kept := w.Header()[k] != nil
				if want := contains(tc.wantKept, k); kept != want {
					t.Errorf("%s reached the client: %v, want %v", k, kept, want)
				}
			}
			// The backend's non-canonical spelling is looked up as sent.
			for k, v := range w.Header() {
				if k == "X_Powered_By" {
					t.Errorf("X_Powered_By reached the client: %q", v)
				}
			}
		})
	}
}

// countingUpstream records, per request, how many body bytes it read and
// whether the body ended cleanly, and counts connections.
type countingUpstream struct {
	srv   *httptest.Server
	conns atomic.Int64
	mu    sync.Mutex
	reads []bodyRead
}

type bodyRead struct {
	n   int
	err error
}

func newCountingUpstream(t *testing.T, h2 bool) *countingUpstream {
	u := &countingUpstream{}
	u.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		u.mu.Lock()
		u.reads = append(u.reads, bodyRead{len(b), err})
		u.mu.Unlock()
	}))
	u.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			u.conns.Add(1)
		}
	}
	if h2 {
		u.srv.EnableHTTP2 = true
		u.srv.StartTLS()
	} else {
		u.srv.Start()
	}
	t.Cleanup(u.srv.Close)
	return u
}

func (u *countingUpstream) received() []bodyRead {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]bodyRead(nil), u.reads...)
}

// TestOversizedBodyNeverReachesUpstreamWhole: a declared length over the
// limit is refused before the upstream is contacted at all; a chunked
// body that passes it is answered 413 and the upstream, over HTTP/1.1 or
// HTTP/2, sees its request fail, never a body that ends as if complete.
func TestOversizedBodyNeverReachesUpstreamWhole(t *testing.T) {
	const limit = 16
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("http2=%v", h2), func(t *testing.T) {
			up := newCountingUpstream(t, h2)
			dir := t.TempDir()
			var tlsCfg catalog.UpstreamTLS
			if h2 {
				writeCA(t, dir+"/ca.pem", up.srv)
				tlsCfg = catalog.UpstreamTLS{CAFile: "ca.pem", ServerName: "example.com"}
			}
			e := newEnvWith(t, func(s *catalog.Snapshot) {
				a := publicAPI("files", up.srv.URL, "POST", "/upload", catalog.Timeouts{})
				a.MaxBodyBytes, a.TLS = limit, tlsCfg
				s.APIs = append(s.APIs, a)
			}, func(o *Options) { o.BaseDir = dir })
			base := serveListener(t, e.gw)

			t.Run("content-length", func(t *testing.T) {
				res, err := http.Post(base+"/files/upload", "text/plain", strings.NewReader(strings.Repeat("x", limit+1)))
				if err != nil {
					t.Fatal(err)
				}
				_ = res.Body.Close()
				if res.StatusCode != http.StatusRequestEntityTooLarge {
					t.Errorf("status %d, want 413", res.StatusCode)
				}
				if n, got := up.conns.Load(), up.received(); n != 0 || len(got) != 0 {
					t.Errorf("upstream: %d connections, requests %v; want none", n, got)
				}
			})
			for _, size := range []int{limit + 1, 5000, 200000} {
				t.Run(fmt.Sprintf("chunked %d", size), func(t *testing.T) {
					before := len(up.received())
					pr, pw := io.Pipe()
					go func() {
						_, _ = pw.Write([]byte(strings.Repeat("x", size)))
						_ = pw.Close()
					}()
					res, err := http.Post(base+"/files/upload", "text/plain", pr)
					if err != nil {
						t.Fatal(err)
					}
					_ = res.Body.Close()
					if res.StatusCode != http.StatusRequestEntityTooLarge {
						t.Errorf("status %d, want 413", res.StatusCode)
					}
					// The upstream's handler may still be reading.
					deadline := time.Now().Add(2 * time.Second)
					for len(up.received()) == before && time.Now().Before(deadline) {
						time.Sleep(5 * time.Millisecond)
					}
					for _, r := range up.received()[before:] {
						if r.err == nil || r.n > limit {
							t.Errorf("upstream read %d bytes, err %v; want at most %d and a failed read", r.n, r.err, limit)
						}
					}
				})
			}
			t.Run("chunked within", func(t *testing.T) {
				before := len(up.received())
				pr, pw := io.Pipe()
				go func() {
					_, _ = pw.Write([]byte(strings.Repeat("x", limit)))
					_ = pw.Close()
				}()
				res, err := http.Post(base+"/files/upload", "text/plain", pr)
				if err != nil {
					t.Fatal(err)
				}
				_ = res.Body.Close()
				got := up.received()[before:]
				if res.StatusCode != 200 || len(got) != 1 || got[0].n != limit || got[0].err != nil {
					t.Errorf("status %d, upstream %v; want 200 and the whole body", res.StatusCode, got)
				}
			})
		})
	}
}

// TestWrongAudienceLogsNoError: a validly signed token for another API,
// in every kind, is refused with 401 and logs nothing at ERROR: any
// client could repeat it at will.
func TestWrongAudienceLogsNoError(t *testing.T) {
	e := newEnv(t, nil)
	c := gatewaytest.Claims{Subject: "alice", ClientID: "spa", Scope: "list_items", Audience: []string{"billing"}}
	for _, kind := range []string{"jwt", "opaque", "split"} {
		t.Run(kind, func(t *testing.T) {
			var tok string
			switch kind {
			case "jwt":
				tok = e.is.JWT(t, c)
			case "opaque":
				tok = e.is.Opaque(t, c)
			case "split":
				tok = e.is.Split(t, c)
			}
			w := e.serve(request("GET", "/warehouse/items", tok))
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", w.Code)
			}
		})
	}
	for _, line := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["level"] == "ERROR" {
			t.Errorf("logged at ERROR: %s", line)
		}
		if strings.Contains(line, "digest") {
			t.Errorf("a log line names a token digest: %s", line)
		}
	}
}
