package tokenhandler

import (
	"net/http"
	"testing"
	"time"
)

// offlineAgent is an agent whose issuer is never called: the proxy path
// and the cookie code need none.
func offlineAgent(tb testing.TB) *Handler {
	tb.Helper()
	spa := validSPA()
	h, err := New(spa, Options{
		Getenv: func(k string) string {
			return map[string]string{"WAREHOUSE_SPA_SECRET": "secret", "KEY": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="}[k]
		},
		Now: fixedNow,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// apiCall is a call of the SPA to a fronted API with a session's cookies
// (a 43-character opaque access token, as Portcullis issues) and a few
// cookies of other sites' making.
func apiCall(tb testing.TB, h *Handler) *http.Request {
	tb.Helper()
	exp := testNow.Add(time.Hour)
	csrf := "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5"
	seal := func(k cookieKind, v string) string {
		s, err := h.jar.sealer.Seal(h.jar.names[k], []byte(v), exp)
		if err != nil {
			tb.Fatal(err)
		}
		return h.jar.names[k] + "=" + s
	}
	req, _ := http.NewRequest(http.MethodGet, "https://gw.example.com/warehouse/items", nil)
	req.Header.Set("Origin", "https://warehouse.example.com")
	req.Header.Set(CSRFHeader, csrf)
	req.Header.Set("Cookie", "_ga=GA1.2.3.4; theme=dark; "+
		seal(kindAccess, "pc_at_9f8e7d6c5b4a39281706f5e4d3c2b1a0ffeeddcc")+"; "+
		seal(kindRefresh, "pc_rt_00112233445566778899aabbccddeeff00112233")+"; "+
		seal(kindCSRF, csrf)+"; lang=en")
	return req
}

func TestAccessTokenOffline(t *testing.T) {
	h := offlineAgent(t)
	tok, ok, err := h.AccessToken(apiCall(t, h))
	if err != nil || !ok || tok != "pc_at_9f8e7d6c5b4a39281706f5e4d3c2b1a0ffeeddcc" {
		t.Fatalf("AccessToken = %q, %v, %v", tok, ok, err)
	}
}

// BenchmarkAccessToken is the proxy's cookie → token path: one scan of
// the Cookie header, two AES-GCM opens (CSRF and access cookies), the
// Origin check and the constant-time CSRF compare.
func BenchmarkAccessToken(b *testing.B) {
	h := offlineAgent(b)
	req := apiCall(b, h)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, err := h.AccessToken(req); !ok || err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpen is one cookie's open alone.
func BenchmarkOpen(b *testing.B) {
	h := offlineAgent(b)
	sealed, _ := h.jar.sealer.Seal("n", []byte("pc_at_9f8e7d6c5b4a39281706f5e4d3c2b1a0ffeeddcc"), testNow.Add(time.Hour))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := h.jar.sealer.Open("n", sealed); err != nil {
			b.Fatal(err)
		}
	}
}
