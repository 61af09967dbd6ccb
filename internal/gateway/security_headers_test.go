package gateway

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/catalog"
)

// TestSecurityHeaders: by default every proxied answer carries nosniff,
// and an answer to a token-bearing request without Cache-Control gets
// no-store; a public call's answer is left cacheable, an upstream's own
// Cache-Control stands, HSTS is sent when configured, and each default
// can be turned off.
func TestSecurityHeaders(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sh       catalog.SecurityHeaders
		upstream string // the upstream's Cache-Control
		path     string
		token    bool
		cache    string
		nosniff  bool
		hsts     string
	}{
		{name: "token, defaults", path: "/warehouse/items", token: true, cache: "no-store", nosniff: true},
		{name: "token, upstream's cache-control stands", upstream: "private, max-age=60", path: "/warehouse/items", token: true, cache: "private, max-age=60", nosniff: true},
		{name: "public call", path: "/warehouse/health", nosniff: true},
		{name: "opted out", sh: catalog.SecurityHeaders{AllowSniffing: true, CacheTokenResponses: true}, path: "/warehouse/items", token: true},
		{name: "hsts", sh: catalog.SecurityHeaders{HSTS: catalog.Duration(365 * 24 * time.Hour), HSTSSubdomains: true}, path: "/warehouse/health",
			nosniff: true, hsts: "max-age=31536000; includeSubDomains"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *catalog.Snapshot) { c.APIs[0].SecurityHeaders = tc.sh })
			e.up.SetHandler(func(w http.ResponseWriter, _ *http.Request) {
				if tc.upstream != "" {
					w.Header().Set("Cache-Control", tc.upstream)
				}
				w.Header().Set("X-Content-Type-Options", "sniff-me")
				_, _ = w.Write([]byte(`{"ok":true}`))
			})
			tok := ""
			if tc.token {
				tok = e.token(t, "jwt", "list_items")
			}
			w := e.serve(request("GET", tc.path, tok))
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			h := w.Header()
			if got := h.Get("Cache-Control"); got != tc.cache {
				t.Errorf("Cache-Control = %q, want %q", got, tc.cache)
			}
			if got := h.Get("X-Content-Type-Options") == "nosniff"; got != tc.nosniff {
				t.Errorf("X-Content-Type-Options = %q, want nosniff: %v", h.Get("X-Content-Type-Options"), tc.nosniff)
			}
			if got := h.Get("Strict-Transport-Security"); got != tc.hsts {
				t.Errorf("Strict-Transport-Security = %q, want %q", got, tc.hsts)
			}
		})
	}
}

func TestSecurityHeadersValidation(t *testing.T) {
	for _, tc := range []struct {
		sh   catalog.SecurityHeaders
		want string
	}{
		{catalog.SecurityHeaders{HSTSSubdomains: true}, "security_headers.hsts_subdomains"},
		{catalog.SecurityHeaders{HSTS: catalog.Duration(3 * 365 * 24 * time.Hour)}, "security_headers.hsts"},
	} {
		s := catalog.Snapshot{APIs: []catalog.API{{Name: "a", BasePath: "/a", Upstream: "http://127.0.0.1:1", Public: true,
			Operations: []catalog.Operation{{Method: "GET", Path: "/"}}, SecurityHeaders: tc.sh}}}
		s.ApplyDefaults()
		err := s.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want an error naming %s", tc.sh, err, tc.want)
		}
	}
}
