package tokenhandler_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/tokenhandler"
)

// TestSealedExpiry: the expiry sealed in the cookies holds even when a
// cookie is replayed by hand after its Max-Age. The access cookie ends
// with the token (the SPA refreshes); the session ends SessionLifetime
// after login, refreshes or not.
func TestSealedExpiry(t *testing.T) {
	e := startEnv(t)
	b := e.browser()
	b.login()
	apiCall := func() (string, error) {
		req, _ := http.NewRequest(http.MethodGet, "http://gateway.test"+apiPath+"/items", nil)
		req.Header.Set("Origin", spaOrigin)
		req.Header.Set(tokenhandler.CSRFHeader, b.csrf)
		for n, v := range b.cookies() {
			req.AddCookie(&http.Cookie{Name: n, Value: v})
		}
		tok, _, err := e.agent.AccessToken(req)
		return tok, err
	}
	first, err := apiCall()
	if err != nil {
		t.Fatal(err)
	}

	// Past the access token's 15 minutes: the proxy answers
	// session-expired, the SPA refreshes, and calls work again.
	e.clock.Advance(16 * time.Minute)
	if _, err := apiCall(); !tokenhandler.IsSessionExpired(err) {
		t.Fatalf("expired access cookie: %v, want session-expired", err)
	}
	if r := b.call(http.MethodPost, "/refresh", nil, nil); r.status != http.StatusNoContent {
		t.Fatalf("refresh: %d %s", r.status, r.raw)
	}
	second, err := apiCall()
	if err != nil || second == first {
		t.Fatalf("after refresh: same token %v, err %v", second == first, err)
	}

	// Past the session's 8 hours from login: nothing works, not even a
	// refresh, although the issuer's refresh token lives 30 days.
	e.clock.Advance(8 * time.Hour)
	r := b.call(http.MethodPost, "/refresh", nil, nil)
	wantProblem(t, r, http.StatusUnauthorized, "session-expired")
	if r := b.call(http.MethodGet, "/session", nil, nil); r.body["isLoggedIn"] != false {
		t.Errorf("session after its lifetime: %s", r.raw)
	}
}

// TestIssuerUnavailable: the agent fails closed (502) while the issuer
// cannot be discovered, asks again only after a pause, and the pending
// SPA call does not hang.
func TestIssuerUnavailable(t *testing.T) {
	var hits atomic.Int32
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer dead.Close()
	e := offlineEnv(t)
	spa := e.spa()
	spa.Issuer = dead.URL
	e.agent = e.newAgent(spa)
	srv := httptest.NewServer(e.agent)
	defer srv.Close()
	e.agentURL = srv.URL
	b := e.browser()

	wantProblem(t, b.call(http.MethodPost, "/login/start", nil, nil), http.StatusBadGateway, "issuer-unavailable")
	n := hits.Load()
	if n == 0 {
		t.Fatal("the issuer was not asked")
	}
	wantProblem(t, b.call(http.MethodPost, "/login/start", nil, nil), http.StatusBadGateway, "issuer-unavailable")
	if hits.Load() != n {
		t.Errorf("the issuer was asked again at once (%d requests, then %d)", n, hits.Load())
	}
	e.clock.Advance(6 * time.Second)
	wantProblem(t, b.call(http.MethodPost, "/login/start", nil, nil), http.StatusBadGateway, "issuer-unavailable")
	if hits.Load() == n {
		t.Error("the issuer was not asked again after the pause")
	}
}
