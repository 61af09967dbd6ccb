package tokenhandler

import (
	"net/http"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/catalog"
)

// TestAPICORSProblems: what a fronted API's cors must allow for the
// SPA's credentialed calls, each missing piece named.
func TestAPICORSProblems(t *testing.T) {
	spa := validSPA()
	good := func() *catalog.CORS {
		return &catalog.CORS{
			AllowedOrigins:   []string{"https://other.example.com", "https://warehouse.example.com"},
			AllowedHeaders:   []string{"Content-Type", "X-PC-CSRF"},
			AllowCredentials: true,
		}
	}
	for _, c := range []struct {
		name string
		edit func(*catalog.CORS) *catalog.CORS
		want []string
	}{
		{"complete", func(c *catalog.CORS) *catalog.CORS { return c }, nil},
		{"no cors", func(*catalog.CORS) *catalog.CORS { return nil }, []string{"has no cors section"}},
		{"origin missing", func(c *catalog.CORS) *catalog.CORS { c.AllowedOrigins = c.AllowedOrigins[:1]; return c },
			[]string{"https://warehouse.example.com exactly"}},
		{"wildcard is not enough", func(c *catalog.CORS) *catalog.CORS {
			c.AllowedOrigins = []string{"https://*.example.com"}
			return c
		}, []string{"allowed_origins"}},
		{"no credentials", func(c *catalog.CORS) *catalog.CORS { c.AllowCredentials = false; return c },
			[]string{"allow_credentials"}},
		{"no csrf header", func(c *catalog.CORS) *catalog.CORS { c.AllowedHeaders = []string{"Authorization"}; return c },
			[]string{"x-pc-csrf"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := spa.APICORSProblems(c.edit(good()))
			if len(got) != len(c.want) {
				t.Fatalf("problems = %q, want %d", got, len(c.want))
			}
			for i, w := range c.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %q lacks %q", got[i], w)
				}
			}
		})
	}
}

// TestUncheckedAccessToken opens the access cookie whatever the origin
// and header, counts nothing, and finds nothing without a cookie that
// opens.
func TestUncheckedAccessToken(t *testing.T) {
	h := offlineAgent(t)
	r := apiCall(t, h)
	r.Header.Set("Origin", "https://evil.example")
	r.Header.Del(CSRFHeader)
	if tok, ok := h.UncheckedAccessToken(r); !ok || tok != "pc_at_9f8e7d6c5b4a39281706f5e4d3c2b1a0ffeeddcc" {
		t.Errorf("UncheckedAccessToken = %q, %v", tok, ok)
	}
	bare, _ := http.NewRequest(http.MethodPost, "https://gw.example.com/bff/warehouse/logout", nil)
	bare.Header.Set("Cookie", h.jar.names[kindAccess]+"=AQJrMQ")
	if _, ok := h.UncheckedAccessToken(bare); ok {
		t.Error("a cookie that does not open gave a token")
	}
}
