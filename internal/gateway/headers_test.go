package gateway

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/catalog"
)

func TestHeaderSmugglingNeverReachesUpstream(t *testing.T) {
	e := newEnv(t, func(c *catalog.Snapshot) {
		c.StripHeaders = []string{"X-Tenant"}
		c.StripHeaderPrefixes = []string{"X-Internal-"}
	})
	for _, kind := range []string{"jwt", "opaque"} {
		t.Run(kind, func(t *testing.T) {
			e.up.Reset()
			tok := e.token(t, kind, "list_items")
			r := request("GET", "/warehouse/items", tok)
			smuggled := map[string]string{
				"X-Forwarded-For":        "127.0.0.1",
				"X-Forwarded-Host":       "admin.internal",
				"X-Forwarded-Proto":      "https",
				"X-Forwarded-Prefix":     "/admin",
				"Forwarded":              "for=127.0.0.1;proto=https",
				"X-Real-Ip":              "127.0.0.1",
				"X-User":                 "admin",
				"X-User-Id":              "1",
				"X-Remote-User":          "admin",
				"X-Forwarded-User":       "admin",
				"X-Authenticated-User":   "admin",
				"X-Client-Id":            "trusted-service",
				"X-Scopes":               "admin",
				"X-Auth-Request-Email":   "root@example.com",
				"X-Portcullis-Verified":  "true",
				"X-Request-Id":           "forged-id",
				"X-Tenant":               "globex",
				"X-Internal-Role":        "admin",
				"X-Http-Method-Override": "DELETE",
				"X_user":                 "admin",
			}
			for k, v := range smuggled {
				r.Header[k] = []string{v}
			}
			// Listing a header in Connection must not make it survive
			// or make the gateway's own headers disappear.
			r.Header.Set("Connection", "X-User, X-Forwarded-For, Authorization, X-Request-Id")
			w := e.serve(r)
			if w.Code != http.StatusOK {
				t.Fatalf("status = %d, want 200; body %s", w.Code, w.Body)
			}
			got, _ := e.up.Last()
			for k, v := range smuggled {
				for _, have := range got.Header.Values(k) {
					if have == v {
						t.Errorf("upstream received %s: %s", k, v)
					}
				}
			}
			for _, k := range []string{"X-User", "X-Portcullis-Verified", "X-Tenant", "X-Internal-Role", "X-Forwarded-Prefix", "X_user", "Forwarded", "X-Real-Ip"} {
				if v := got.Header.Values(k); v != nil {
					t.Errorf("upstream received %s: %q", k, v)
				}
			}
			want := map[string]string{
				"X-Forwarded-For":   "192.0.2.10",
				"X-Forwarded-Proto": "http",
				"X-Forwarded-Host":  "example.com",
				"X-Request-Id":      w.Header().Get("X-Request-Id"),
			}
			for k, v := range want {
				if g := got.Header.Values(k); !cmp.Equal(g, []string{v}) {
					t.Errorf("upstream %s = %q, want [%q]", k, g, v)
				}
			}
			if id := w.Header().Get("X-Request-Id"); id == "forged-id" || id == "" {
				t.Errorf("response X-Request-Id = %q", id)
			}
			if a := got.Header.Get("Authorization"); !strings.HasPrefix(a, "Bearer ey") {
				t.Errorf("upstream Authorization = %q, want the JWT", a)
			}
		})
	}
}

func TestTrustedProxyChain(t *testing.T) {
	e := newEnv(t, func(c *catalog.Snapshot) { c.TrustedProxies = []string{"10.0.0.0/8", "2001:db8::1"} })
	tok := e.token(t, "jwt", "list_items")
	r := request("GET", "/warehouse/items", tok)
	r.RemoteAddr = "10.0.0.5:5555"
	r.Header.Set("X-Forwarded-For", "198.51.100.7")
	r.Header.Set("X-Forwarded-Proto", "https")
	r.Header.Set("X-Request-Id", "lb-123")
	r.Header.Set("X-User", "admin")
	w := e.serve(r)
	if w.Code != 200 {
		t.Fatalf("status = %d", w.Code)
	}
	got, _ := e.up.Last()
	for k, want := range map[string]string{
		"X-Forwarded-For":   "198.51.100.7, 10.0.0.5",
		"X-Forwarded-Proto": "https",
		"X-Request-Id":      "lb-123",
		"X-User":            "",
	} {
		if g := got.Header.Get(k); g != want {
			t.Errorf("upstream %s = %q, want %q", k, g, want)
		}
	}
	if id := w.Header().Get("X-Request-Id"); id != "lb-123" {
		t.Errorf("response X-Request-Id = %q, want the proxy's", id)
	}
}

func TestClientAddr(t *testing.T) {
	trusted := trustedProxies{netip.MustParsePrefix("10.0.0.0/8")}
	peer := netip.MustParseAddr("10.0.0.1")
	tests := []struct {
		xff  []string
		want string
	}{
		{nil, "10.0.0.1"},
		{[]string{"1.2.3.4"}, "1.2.3.4"},
		{[]string{"6.6.6.6, 1.2.3.4"}, "1.2.3.4"},
		{[]string{"1.2.3.4, 10.2.2.2"}, "1.2.3.4"},
		{[]string{"1.2.3.4", "10.2.2.2"}, "1.2.3.4"},
		{[]string{"garbage, 10.2.2.2"}, "10.2.2.2"},
		{[]string{"10.3.3.3, 10.2.2.2"}, "10.3.3.3"},
		{[]string{" ::ffff:1.2.3.4 "}, "1.2.3.4"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.xff, "|"), func(t *testing.T) {
			if got := trusted.clientAddr(peer, tc.xff); got.String() != tc.want {
				t.Errorf("clientAddr = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestStripSet(t *testing.T) {
	s := newStripSet([]string{"x-tenant"}, []string{"X-Internal-"})
	tests := []struct {
		name    string
		trusted bool
		want    bool
	}{
		{"Accept", false, false},
		{"X-User", false, true},
		{"X-User", true, true},
		{"X_User", false, true},
		{"X-Tenant", false, true},
		{"X-Internal-Anything", false, true},
		{"X_internal_anything", false, true},
		{"X-Portcullis-Foo", true, true},
		{"X-Auth-Request-User", false, true},
		{"X-Forwarded-For", false, true},
		{"X-Forwarded-For", true, false},
		{"X-Forwarded-User", true, true},
		{"Forwarded", false, true},
		{"Forwarded", true, false},
		{"X-Real-Ip", false, true},
		{"X-Http-Method-Override", true, true},
		{"X-Request-Id", false, false}, // replaced, not stripped
		{"X-Userx", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.drop(tc.name, tc.trusted); got != tc.want {
				t.Errorf("drop(%q, trusted=%v) = %v, want %v", tc.name, tc.trusted, got, tc.want)
			}
		})
	}
}

func TestPeerAddr(t *testing.T) {
	tests := []struct{ remote, addr, text string }{
		{"192.0.2.1:80", "192.0.2.1", "192.0.2.1"},
		{"[2001:db8::1]:443", "2001:db8::1", "2001:db8::1"},
		{"[::ffff:192.0.2.1]:443", "192.0.2.1", "::ffff:192.0.2.1"},
		{"bogus", "invalid IP", "unknown"},
	}
	for _, tc := range tests {
		t.Run(tc.remote, func(t *testing.T) {
			a, text := peerAddr(tc.remote)
			if a.String() != tc.addr || text != tc.text {
				t.Errorf("peerAddr = %s %q, want %s %q", a, text, tc.addr, tc.text)
			}
		})
	}
}
