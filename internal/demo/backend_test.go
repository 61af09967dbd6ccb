package demo

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemoBackendVerifiesEveryForwardedKind: whatever token the client
// holds, the backend verifies what the gateway forwards (the client's
// at+jwt, or the phantom+jwt of an opaque or split token) and answers.
func TestDemoBackendVerifiesEveryForwardedKind(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	opts := Options{Dir: dir, AuthzAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", GatewayAddr: "127.0.0.1:0", BackendAddr: "127.0.0.1:0"}
	t.Setenv("PORTCULLIS_MASTER_KEY", "ignored by the demo")
	env, _, _ := testEnv()
	r, file, err := Start(t.Context(), opts, env)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { closeRunning(t, r) })
	call := func(tok string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, r.GatewayURL+"/warehouse/items", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, id := range []string{"warehouse-service", "warehouse-service-opaque", "warehouse-service-split"} {
		t.Run(id, func(t *testing.T) {
			c := file.Client(id)
			status, tok := postForm(t, file.Endpoints.Token, c.ClientID, c.ClientSecret,
				url.Values{"grant_type": {"client_credentials"}, "scope": {"list_items"}})
			if status != http.StatusOK {
				t.Fatalf("token: status %d: %v", status, tok)
			}
			access, _ := tok["access_token"].(string)
			if st, body := call(access); st != http.StatusOK || !strings.Contains(body, "crate-01") {
				t.Fatalf("through the gateway to the backend: status %d: %s", st, body)
			}
		})
	}
}

// TestWarehouseBackendRefusesUnverifiedCalls: the warehouse backend
// verifies with pkg/verify, so a call that reaches it around the gateway
// without a token is refused with an RFC 6750 challenge, before any key
// is fetched.
func TestWarehouseBackendRefusesUnverifiedCalls(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	h, err := newWarehouseHandler("http://127.0.0.1:1", logger, logger)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ method, path, auth string }{
		{http.MethodGet, "/items", ""},
		{http.MethodPost, "/orders", "Basic dXNlcjpwYXNz"},
	} {
		req := httptest.NewRequest(tc.method, tc.path, nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") != `Bearer realm="warehouse"` {
			t.Errorf("%s %s: %d %q, want 401 with a Bearer challenge", tc.method, tc.path, w.Code, w.Header().Get("WWW-Authenticate"))
		}
	}
}
