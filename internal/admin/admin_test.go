package admin

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/ratelimit"
)

type quotaFunc func(ctx context.Context, clientID string) (any, error)

func (f quotaFunc) ClientQuotas(ctx context.Context, clientID string) (any, error) {
	return f(ctx, clientID)
}

func TestAPI(t *testing.T) {
	token := "q8Zr2vT0xLw5Yb3NcF7mHs1KdJ9pGa4E"
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	blocks := ratelimit.NewMemoryBlocks()
	if err := blocks.Block(t.Context(), ratelimit.Block{Key: "client_id:svc", Until: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	quotas := quotaFunc(func(_ context.Context, id string) (any, error) {
		if id == "down" {
			return nil, errors.New("redis: connection refused")
		}
		return map[string]string{"client_id": id}, nil
	})
	mux := http.NewServeMux()
	New(Options{Token: token, Blocks: blocks, Quotas: quotas, Now: func() time.Time { return now }}).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	tests := []struct {
		name, method, path, token string
		wantStatus                int
		wantBody                  string
		notBody                   string
	}{
		{name: "no token", method: "GET", path: "/admin/v1/blocks", wantStatus: 401},
		{name: "wrong token", method: "GET", path: "/admin/v1/blocks", token: "R5tY8uI1oP4aS7dF0gH3jK6lZ9xC2vB5", wantStatus: 401},
		{name: "token prefix", method: "GET", path: "/admin/v1/blocks", token: token[:MinTokenLen-1], wantStatus: 401},
		{name: "blocks", method: "GET", path: "/admin/v1/blocks", token: token, wantStatus: 200, wantBody: "client_id:svc"},
		{name: "quota", method: "GET", path: "/admin/v1/quotas/svc", token: token, wantStatus: 200, wantBody: `"svc"`},
		{name: "quota failure hides the cause", method: "GET", path: "/admin/v1/quotas/down", token: token, wantStatus: 503, notBody: "redis"},
		{name: "lift", method: "DELETE", path: "/admin/v1/blocks/client_id:svc", token: token, wantStatus: 204},
		{name: "lifted", method: "GET", path: "/admin/v1/blocks", token: token, wantStatus: 200, notBody: "client_id:svc"},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
		if tt.token != "" {
			req.Header.Set("Authorization", "Bearer "+tt.token)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.wantStatus {
			t.Errorf("%s: status %d, want %d (%s)", tt.name, resp.StatusCode, tt.wantStatus, body)
		}
		if tt.wantBody != "" && !strings.Contains(string(body), tt.wantBody) {
			t.Errorf("%s: body %s, want it to contain %s", tt.name, body, tt.wantBody)
		}
		if tt.notBody != "" && strings.Contains(string(body), tt.notBody) {
			t.Errorf("%s: body %s must not contain %s", tt.name, body, tt.notBody)
		}
		if strings.Contains(string(body), token) {
			t.Errorf("%s: body echoes the admin token", tt.name)
		}
	}
}

func TestAPIOffWithShortToken(t *testing.T) {
	mux := http.NewServeMux()
	New(Options{Token: "short"}).Register(mux)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/admin/v1/blocks", nil)
	req.Header.Set("Authorization", "Bearer short")
	mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), TokenEnv) {
		t.Errorf("short token: %d %s, want 403 naming %s", rec.Code, rec.Body, TokenEnv)
	}
}

func TestCheckToken(t *testing.T) {
	tests := []struct {
		name  string
		token string
		ok    bool
	}{
		{"base64 of 32 random bytes", "3q2+7wAAAAAhMmN4b3dFxk9lZ1Jz+Qp8TnVvYmNkZWY=", true},
		{"64 hex digits", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", true},
		{"32 mixed characters", "q8Zr2vT0xLw5Yb3NcF7mHs1KdJ9pGa4E", true},
		{"too short", "q8Zr2vT0xLw5Yb3NcF7m", false},
		{"one character repeated", strings.Repeat("A", 40), false},
		{"a word repeated", strings.Repeat("admin", 10), false},
		{"two characters", strings.Repeat("ab", 32), false},
	}
	for _, tt := range tests {
		err := CheckToken(tt.token)
		if (err == nil) != tt.ok {
			t.Errorf("%s: CheckToken = %v, want ok=%t", tt.name, err, tt.ok)
		}
		if err != nil && (!errors.Is(err, ErrWeakToken) || strings.Contains(err.Error(), tt.token)) {
			t.Errorf("%s: error %q must wrap ErrWeakToken and never quote the token", tt.name, err)
		}
	}
}
