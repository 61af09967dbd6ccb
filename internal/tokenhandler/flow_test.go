package tokenhandler_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestAgentFlow runs the whole life of a session against a real
// authorization server: login through the issuer's pages, claims,
// userinfo, refresh, logout, and cookies copied before logout that no
// longer work afterwards.
func TestAgentFlow(t *testing.T) {
	e := startEnv(t)
	b := e.browser()

	if r := b.call(http.MethodGet, "/session", nil, nil); r.status != http.StatusOK || r.body["isLoggedIn"] != false {
		t.Fatalf("session before login: %d %s", r.status, r.raw)
	}
	page := b.authorize(b.startLogin(), "alice", alicePass)
	if !strings.HasPrefix(page, redirectURI+"?") {
		t.Fatalf("issuer sent the browser to %q, want the redirect URI", page)
	}
	r := b.call(http.MethodPost, "/login/end", map[string]string{"pageUrl": page}, nil)
	if r.status != http.StatusOK || r.body["isLoggedIn"] != true || r.body["handled"] != true {
		t.Fatalf("login/end: %d %s", r.status, r.raw)
	}
	b.csrf, _ = r.body["csrf"].(string)
	checkSetCookies(t, r.header, false)
	got := b.cookies()
	for _, k := range []string{"at", "rt", "id", "csrf"} {
		if got["pc-warehouse-"+k] == "" {
			t.Errorf("cookie pc-warehouse-%s not set; have %v", k, keysOf(got))
		}
	}
	if _, ok := got["pc-warehouse-login"]; ok {
		t.Error("the login cookie survived login/end")
	}
	if r.header.Get("Access-Control-Allow-Origin") != spaOrigin || r.header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("CORS headers = %q %q", r.header.Get("Access-Control-Allow-Origin"), r.header.Get("Access-Control-Allow-Credentials"))
	}

	// A reload of the page: not an authorization response, the session
	// and its CSRF value are reported.
	r = b.call(http.MethodPost, "/login/end", map[string]string{"pageUrl": spaOrigin + "/items"}, nil)
	if r.body["handled"] != false || r.body["isLoggedIn"] != true || r.body["csrf"] != b.csrf {
		t.Errorf("login/end on reload = %s", r.raw)
	}
	if r := b.call(http.MethodGet, "/session", nil, nil); r.body["isLoggedIn"] != true || r.body["csrf"] != b.csrf {
		t.Errorf("session = %s", r.raw)
	}

	claims := b.call(http.MethodGet, "/claims", nil, nil)
	if claims.status != http.StatusOK || claims.body["iss"] != e.issuer || claims.body["aud"] != clientID || claims.body["sub"] == nil {
		t.Fatalf("claims: %d %s", claims.status, claims.raw)
	}
	ui := b.call(http.MethodGet, "/userinfo", nil, nil)
	if ui.status != http.StatusOK || ui.body["sub"] != claims.body["sub"] || ui.body["preferred_username"] != "alice" {
		t.Fatalf("userinfo: %d %s", ui.status, ui.raw)
	}

	before := b.cookies()
	r = b.call(http.MethodPost, "/refresh", nil, nil)
	if r.status != http.StatusNoContent {
		t.Fatalf("refresh: %d %s", r.status, r.raw)
	}
	after := b.cookies()
	for _, k := range []string{"at", "rt"} {
		if after["pc-warehouse-"+k] == before["pc-warehouse-"+k] {
			t.Errorf("refresh left cookie %s unchanged", k)
		}
	}
	if after["pc-warehouse-csrf"] != before["pc-warehouse-csrf"] {
		t.Error("refresh changed the csrf cookie; the SPA's value would stop working")
	}
	if ui := b.call(http.MethodGet, "/userinfo", nil, nil); ui.status != http.StatusOK {
		t.Fatalf("userinfo after refresh: %d %s", ui.status, ui.raw)
	}
	if c := b.call(http.MethodGet, "/claims", nil, nil); c.body["sub"] != claims.body["sub"] {
		t.Fatalf("claims after refresh: %s", c.raw)
	}

	copied := b.cookies()
	r = b.call(http.MethodPost, "/logout", nil, nil)
	// The issuer publishes an end_session_endpoint (RP-Initiated
	// Logout); this entry has no post_logout_redirect_uri.
	if want := e.issuer + "/oauth2/logout?client_id=warehouse-spa"; r.status != http.StatusOK || r.body["endSessionUrl"] != want {
		t.Fatalf("logout: %d %q, want endSessionUrl %s", r.status, r.raw, want)
	}
	if left := b.cookies(); len(left) != 0 {
		t.Errorf("cookies left after logout: %v", keysOf(left))
	}
	for _, line := range r.header.Values("Set-Cookie") {
		if !strings.Contains(line, "Max-Age=0") || !strings.Contains(line, "HttpOnly") || !strings.Contains(line, "SameSite=Strict") || !strings.Contains(line, "Path=/") {
			t.Errorf("logout Set-Cookie %q: want Max-Age=0 with the same attributes", line)
		}
	}
	if r := b.call(http.MethodGet, "/session", nil, nil); r.body["isLoggedIn"] != false {
		t.Errorf("session after logout = %s", r.raw)
	}

	// The tokens are revoked: cookies copied before logout, replayed
	// by hand, get nothing.
	r = e.replay(http.MethodGet, "/userinfo", copied, b.csrf)
	wantProblem(t, r, http.StatusUnauthorized, "session-expired")
	r = e.replay(http.MethodPost, "/refresh", copied, b.csrf)
	wantProblem(t, r, http.StatusUnauthorized, "session-expired")
	for _, v := range copied {
		for _, line := range []string{r.raw, e.logs.String()} {
			if strings.Contains(line, v) {
				t.Fatal("a cookie value appears in an answer or the log")
			}
		}
	}

	for _, c := range []struct {
		endpoint, outcome string
		want              float64
	}{
		{"login_start", "ok", 1}, {"login_end", "ok", 2}, {"claims", "ok", 2}, {"userinfo", "ok", 2},
		{"refresh", "ok", 1}, {"logout", "ok", 1}, {"userinfo", "session_expired", 1}, {"refresh", "session_expired", 1},
	} {
		if got := counter(t, e, c.endpoint, c.outcome); got != c.want {
			t.Errorf("requests{endpoint=%s,outcome=%s} = %v, want %v", c.endpoint, c.outcome, got, c.want)
		}
	}
}

// counter reads portcullis_tokenhandler_requests_total for the test app.
func counter(t *testing.T, e *env, endpoint, outcome string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "portcullis_tokenhandler_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["app"] == "warehouse" && labels["endpoint"] == endpoint && labels["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// TestRefreshReplayRevokesFamily: a refresh cookie replayed after the
// rightful refresh is refused, and the issuer revokes the whole family,
// so the session holding the newer tokens ends too (RFC 9700 §4.14.2).
func TestRefreshReplayRevokesFamily(t *testing.T) {
	e := startEnv(t)
	b := e.browser()
	b.login()
	stolen := b.cookies()
	if r := b.call(http.MethodPost, "/refresh", nil, nil); r.status != http.StatusNoContent {
		t.Fatalf("refresh: %d %s", r.status, r.raw)
	}
	r := e.replay(http.MethodPost, "/refresh", stolen, b.csrf)
	wantProblem(t, r, http.StatusUnauthorized, "session-expired")
	if n := len(r.header.Values("Set-Cookie")); n != 4 {
		t.Errorf("a refused refresh sets %d cookies, want the 4 session cookies cleared", n)
	}
	// The rightful session is revoked with the family.
	wantProblem(t, b.call(http.MethodGet, "/userinfo", nil, nil), http.StatusUnauthorized, "session-expired")
	wantProblem(t, b.call(http.MethodPost, "/refresh", nil, nil), http.StatusUnauthorized, "session-expired")
	if left := b.cookies(); len(left) != 0 {
		t.Errorf("cookies left after a refused refresh: %v", keysOf(left))
	}
}

// checkSetCookies checks the attributes of every Set-Cookie of h.
func checkSetCookies(t *testing.T, h http.Header, secure bool) {
	t.Helper()
	lines := h.Values("Set-Cookie")
	if len(lines) == 0 {
		t.Fatal("no Set-Cookie")
	}
	for _, line := range lines {
		for _, attr := range []string{"Path=/", "HttpOnly", "SameSite=Strict"} {
			if !strings.Contains(line, "; "+attr) {
				t.Errorf("Set-Cookie %q lacks %s", line, attr)
			}
		}
		if strings.Contains(line, "; Secure") != secure {
			t.Errorf("Set-Cookie %q: Secure should be %v", line, secure)
		}
		if strings.Contains(strings.ToLower(line), "domain=") {
			t.Errorf("Set-Cookie %q has a Domain", line)
		}
		if len(line) > 4096 {
			t.Errorf("Set-Cookie of %d bytes", len(line))
		}
	}
}

func keysOf(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
