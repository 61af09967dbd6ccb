package server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/admin"
	"github.com/portcullis/portcullis/internal/config"
)

func TestAdminAPI(t *testing.T) {
	t.Parallel()
	token := "q8Zr2vT0xLw5Yb3NcF7mHs1KdJ9pGa4E"
	cfg := testConfig(t)
	cfg.RateLimit = config.RateLimit{
		Plans:       map[string][]config.Limit{"gold": {{Name: "gold-daily", Quota: "2000/day", Key: []string{"client_id"}}}},
		ClientPlans: map[string]string{"svc": "gold"},
	}
	r := startTest(t, cfg, WithGetenv(func(k string) string {
		if k == admin.TokenEnv {
			return token
		}
		return ""
	}))
	call := func(method, path, tok string) (int, string) {
		req, _ := http.NewRequest(method, r.AdminURL+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 4096)
		n, _ := resp.Body.Read(buf)
		b.Write(buf[:n])
		return resp.StatusCode, b.String()
	}
	if st, _ := call("GET", "/admin/v1/blocks", ""); st != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", st)
	}
	if st, _ := call("GET", "/admin/v1/blocks", strings.Repeat("x", 40)); st != http.StatusUnauthorized {
		t.Errorf("wrong token: %d, want 401", st)
	}
	if st, body := call("GET", "/admin/v1/blocks", token); st != http.StatusOK || !strings.Contains(body, `"blocks"`) {
		t.Errorf("blocks: %d %s", st, body)
	}
	if st, body := call("GET", "/admin/v1/quotas/svc", token); st != http.StatusOK || !strings.Contains(body, "gold-daily") {
		t.Errorf("quotas: %d %s", st, body)
	}
	if st, _ := call("DELETE", "/admin/v1/blocks/client_id:svc", token); st != http.StatusNoContent {
		t.Errorf("lift: %d, want 204", st)
	}
}

// Without a break-glass token the admin API still answers the issuer's
// admin tokens, so a request without one is unauthorized, not off.
func TestAdminAPIWithoutBreakGlass(t *testing.T) {
	t.Parallel()
	r := startTest(t, testConfig(t))
	resp, err := http.Get(r.AdminURL + "/admin/v1/blocks")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("status %d, WWW-Authenticate %q; want 401 with a challenge", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}
