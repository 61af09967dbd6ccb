package gateway

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/catalog"
)

func preflight(target, origin, method, headers string) *http.Request {
	r := request("OPTIONS", target, "")
	r.Header.Set("Origin", origin)
	r.Header.Set("Access-Control-Request-Method", method)
	if headers != "" {
		r.Header.Set("Access-Control-Request-Headers", headers)
	}
	return r
}

// corsHeaders are the response headers whose name starts with
// Access-Control-.
func corsHeaders(h http.Header) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		if strings.HasPrefix(k, "Access-Control-") {
			out[k] = strings.Join(v, "|")
		}
	}
	return out
}

func TestCORSPreflight(t *testing.T) {
	e := newEnv(t, nil)
	allowed := func(origin string) map[string]string {
		return map[string]string{
			"Access-Control-Allow-Origin":      origin,
			"Access-Control-Allow-Credentials": "true",
			"Access-Control-Allow-Methods":     "GET, POST, PUT, PATCH, DELETE",
			"Access-Control-Allow-Headers":     "Authorization, Content-Type",
			"Access-Control-Max-Age":           "600",
		}
	}
	tests := []struct {
		name, origin, method, headers string
		target                        string
		status                        int
		want                          map[string]string
	}{
		{"exact origin", "https://app.example", "GET", "authorization", "/warehouse/items", 204, allowed("https://app.example")},
		{"wildcard subdomain", "https://shop.example.com", "POST", "Content-Type, Authorization", "/warehouse/orders", 204, allowed("https://shop.example.com")},
		{"wildcard, several labels", "https://a.b.example.com", "GET", "", "/warehouse/items", 204, allowed("https://a.b.example.com")},
		{"foreign origin", "https://evil.example", "GET", "", "/warehouse/items", 403, map[string]string{}},
		{"bare wildcard domain", "https://example.com", "GET", "", "/warehouse/items", 403, map[string]string{}},
		{"wildcard, other scheme", "http://shop.example.com", "GET", "", "/warehouse/items", 403, map[string]string{}},
		{"wildcard, other port", "https://shop.example.com:8443", "GET", "", "/warehouse/items", 403, map[string]string{}},
		{"suffix trick", "https://evilexample.com", "GET", "", "/warehouse/items", 403, map[string]string{}},
		{"null origin", "null", "GET", "", "/warehouse/items", 403, map[string]string{}},
		{"header not allowed", "https://app.example", "GET", "X-Debug", "/warehouse/items", 403, map[string]string{}},
		{"method not allowed by cors", "https://app.example", "TRACE", "", "/warehouse/items", 405, map[string]string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := e.serve(preflight(tc.target, tc.origin, tc.method, tc.headers))
			if w.Code != tc.status {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tc.status, w.Body)
			}
			if diff := cmp.Diff(tc.want, corsHeaders(w.Header())); diff != "" {
				t.Errorf("CORS headers (-want +got):\n%s", diff)
			}
			if !strings.Contains(w.Header().Get("Vary"), "Origin") {
				t.Errorf("Vary = %q, want Origin in it", w.Header().Get("Vary"))
			}
			if _, ok := e.up.Last(); ok {
				t.Error("a preflight reached the upstream")
			}
		})
	}
}

func TestCORSActualRequest(t *testing.T) {
	e := newEnv(t, nil)
	e.up.SetHandler(func(w http.ResponseWriter, _ *http.Request) {
		// An upstream answering CORS itself must not add a second,
		// conflicting policy.
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.WriteHeader(200)
	})
	tok := e.token(t, "jwt", "list_items")
	tests := []struct {
		name, origin string
		want         map[string]string
	}{
		{"allowed", "https://app.example", map[string]string{
			"Access-Control-Allow-Origin":      "https://app.example",
			"Access-Control-Allow-Credentials": "true",
			"Access-Control-Expose-Headers":    "X-Request-Id",
		}},
		{"foreign", "https://evil.example", map[string]string{}},
		{"none", "", map[string]string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := request("GET", "/warehouse/items", tok)
			if tc.origin != "" {
				r.Header.Set("Origin", tc.origin)
			}
			w := e.serve(r)
			if w.Code != 200 {
				t.Fatalf("status = %d", w.Code)
			}
			if diff := cmp.Diff(tc.want, corsHeaders(w.Header())); diff != "" {
				t.Errorf("CORS headers (-want +got):\n%s", diff)
			}
			if got := w.Header().Values("Vary"); !cmp.Equal(got, []string{"Origin"}) {
				t.Errorf("Vary = %q, want [Origin]", got)
			}
		})
	}
	t.Run("401 readable by an allowed origin", func(t *testing.T) {
		r := request("GET", "/warehouse/items", "")
		r.Header.Set("Origin", "https://app.example")
		w := e.serve(r)
		if w.Code != 401 || w.Header().Get("Access-Control-Allow-Origin") != "https://app.example" {
			t.Errorf("status %d, Access-Control-Allow-Origin %q", w.Code, w.Header().Get("Access-Control-Allow-Origin"))
		}
	})
}

func TestNoCORSConfigured(t *testing.T) {
	e := newEnv(t, func(c *catalog.Snapshot) { c.APIs[0].CORS = nil })
	w := e.serve(preflight("/warehouse/items", "https://app.example", "GET", ""))
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("status = %d, want 405 (no CORS: OPTIONS is not an operation)", w.Code)
	}
	if got := corsHeaders(w.Header()); len(got) != 0 || w.Header().Get("Vary") != "" {
		t.Errorf("CORS headers %v, Vary %q; want none", got, w.Header().Get("Vary"))
	}
}

func TestCompileCORS(t *testing.T) {
	tests := []struct {
		name string
		cfg  catalog.CORS
		ok   bool
	}{
		{"exact", catalog.CORS{AllowedOrigins: []string{"https://a.example"}}, true},
		{"wildcard", catalog.CORS{AllowedOrigins: []string{"https://*.a.example:8443"}}, true},
		{"any", catalog.CORS{AllowedOrigins: []string{"*"}}, true},
		// The catalog refuses these too (see its TestValidateCORS); a
		// wildcard the gateway cannot split is refused here as well.
		{"wildcard tld", catalog.CORS{AllowedOrigins: []string{"https://*.com"}}, false},
		{"wildcard inside", catalog.CORS{AllowedOrigins: []string{"https://a.*.example"}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := compileCORS(&tc.cfg)
			if (err == nil) != tc.ok {
				t.Errorf("compileCORS error = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestWildcardOrigin(t *testing.T) {
	w, err := parseWildcardOrigin("https://*.example.com")
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]bool{
		"https://a.example.com":         true,
		"https://A.Example.COM":         true,
		"https://a.b.example.com":       true,
		"https://example.com":           false,
		"https://.example.com":          false,
		"https://a..example.com":        false,
		"http://a.example.com":          false,
		"https://a.example.com:443":     false,
		"https://a.example.com.evil":    false,
		"https://a_b.example.com":       false,
		"https://-a.example.com":        false,
		"https://a.example.com/":        false,
		"https://user@a.example.com":    false,
		"https://evil.com#.example.com": false,
	}
	for origin, want := range tests {
		t.Run(origin, func(t *testing.T) {
			if got := w.matches(origin); got != want {
				t.Errorf("matches(%q) = %v, want %v", origin, got, want)
			}
		})
	}
}
