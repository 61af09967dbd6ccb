package cli

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestProbe(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			_, _ = w.Write([]byte("ok\n"))
		case "/moved":
			http.Redirect(w, r, "/healthz", http.StatusFound)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status":"not_ready"}` + "\n"))
		}
	}))
	defer srv.Close()
	tests := []struct {
		url     string
		wantErr string
	}{
		{srv.URL + "/healthz", ""},
		{srv.URL + "/readyz", `503 Service Unavailable: {"status":"not_ready"}`},
		{srv.URL + "/moved", "302 Found"},
		{"ftp://example.com/", "want an http:// or https:// URL"},
		{"http://127.0.0.1:1/healthz", "connect"},
	}
	for _, tt := range tests {
		rt, _, _ := testRuntime("", nil)
		err := Execute(t.Context(), []string{"probe", tt.url}, rt)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("probe %s: %v", tt.url, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("probe %s: err = %v, want it to mention %q", tt.url, err, tt.wantErr)
		}
	}
}
