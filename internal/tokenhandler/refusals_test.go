package tokenhandler_test

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/tokenhandler"
)

// TestAgentRefusals checks every endpoint's refusals: origin, CSRF,
// the login cookie, state, tampered cookies, methods, paths. None of the
// answers holds a cookie value, and refused origins get no CORS header.
func TestAgentRefusals(t *testing.T) {
	e := startEnv(t)
	b := e.browser()
	b.login()
	session := b.cookies()

	// A pending login of its own for the login/end cases.
	lb := e.browser()
	authURL := lb.startLogin()
	au, _ := url.Parse(authURL)
	state := au.Query().Get("state")

	tamper := func(v string) string {
		raw, _ := base64.RawURLEncoding.DecodeString(v)
		raw[len(raw)-20] ^= 1
		return base64.RawURLEncoding.EncodeToString(raw)
	}
	without := func(m map[string]string, names ...string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			out[k] = v
		}
		for _, n := range names {
			delete(out, "pc-warehouse-"+n)
		}
		return out
	}
	with := func(m map[string]string, name, v string) map[string]string {
		out := without(m)
		out["pc-warehouse-"+name] = v
		return out
	}
	page := func(q string) map[string]string { return map[string]string{"pageUrl": redirectURI + "?" + q} }

	cases := []struct {
		name    string
		b       *browser
		method  string
		path    string
		body    any
		hdr     map[string]string
		cookies map[string]string // replaces the browser's jar when set
		status  int
		slug    string
	}{
		{"login/start from another origin", lb, http.MethodPost, "/login/start", nil, map[string]string{"Origin": otherOrigin}, nil, 403, "origin-not-allowed"},
		{"login/start without origin", lb, http.MethodPost, "/login/start", nil, map[string]string{"Origin": ""}, nil, 403, "origin-not-allowed"},
		{"login/end from another origin", lb, http.MethodPost, "/login/end", page("code=x&state={state}"), map[string]string{"Origin": otherOrigin}, nil, 403, "origin-not-allowed"},
		{"refresh from another origin", b, http.MethodPost, "/refresh", nil, map[string]string{"Origin": otherOrigin}, nil, 403, "origin-not-allowed"},
		{"logout without origin", b, http.MethodPost, "/logout", nil, map[string]string{"Origin": ""}, nil, 403, "origin-not-allowed"},
		{"session read from another origin", b, http.MethodGet, "/session", nil, map[string]string{"Origin": otherOrigin}, nil, 403, "origin-not-allowed"},
		{"refresh without csrf header", b, http.MethodPost, "/refresh", nil, map[string]string{tokenhandler.CSRFHeader: ""}, nil, 403, "csrf-check-failed"},
		{"refresh with a wrong csrf header", b, http.MethodPost, "/refresh", nil, map[string]string{tokenhandler.CSRFHeader: "AAAA" + b.csrf[4:]}, nil, 403, "csrf-check-failed"},
		{"logout with a wrong csrf header", b, http.MethodPost, "/logout", nil, map[string]string{tokenhandler.CSRFHeader: "x"}, nil, 403, "csrf-check-failed"},
		{"refresh without csrf cookie", b, http.MethodPost, "/refresh", nil, nil, without(session, "csrf"), 401, "session-expired"},
		{"refresh with a tampered csrf cookie", b, http.MethodPost, "/refresh", nil, nil, with(session, "csrf", tamper(session["pc-warehouse-csrf"])), 401, "session-expired"},
		{"refresh with a tampered refresh cookie", b, http.MethodPost, "/refresh", nil, nil, with(session, "rt", tamper(session["pc-warehouse-rt"])), 401, "session-expired"},
		{"refresh cookie presented as the access cookie", b, http.MethodGet, "/userinfo", nil, nil, with(session, "at", session["pc-warehouse-rt"]), 401, "session-expired"},
		{"userinfo with a tampered access cookie", b, http.MethodGet, "/userinfo", nil, nil, with(session, "at", tamper(session["pc-warehouse-at"])), 401, "session-expired"},
		{"userinfo without access cookie", b, http.MethodGet, "/userinfo", nil, nil, without(session, "at"), 401, "session-expired"},
		{"claims without id cookie", b, http.MethodGet, "/claims", nil, nil, without(session, "id"), 401, "session-expired"},
		{"login/end without login cookie", b, http.MethodPost, "/login/end", page("code=x&state={state}"), nil, nil, 400, "login-not-started"},
		{"login/end with a tampered login cookie", lb, http.MethodPost, "/login/end", page("code=x&state={state}"), nil, map[string]string{}, 400, "login-not-started"},
		{"login/end with another state", lb, http.MethodPost, "/login/end", page("code=x&state=not-{state}"), nil, nil, 400, "state-mismatch"},
		{"login/end from another issuer", lb, http.MethodPost, "/login/end", page("code=x&iss=https%3A%2F%2Fevil.example&state={state}"), nil, nil, 400, "issuer-mismatch"},
		{"login/end with an error", lb, http.MethodPost, "/login/end", page("error=access_denied&error_description=no+way&state={state}"), nil, nil, 401, "authorization-error"},
		{"login/end with a code the issuer never issued", lb, http.MethodPost, "/login/end", page("code=forged&state={state}"), nil, nil, 401, "login-failed"},
		{"login/end for another page", lb, http.MethodPost, "/login/end", map[string]string{"pageUrl": spaOrigin + "/other?code=x&state={state}"}, nil, nil, 400, "bad-request"},
		{"login/end with code and error", lb, http.MethodPost, "/login/end", page("code=x&error=y&state={state}"), nil, nil, 400, "bad-request"},
		{"login/end without JSON", lb, http.MethodPost, "/login/end", page("code=x"), map[string]string{"Content-Type": "text/plain"}, nil, 415, "unsupported-media-type"},
		{"login/end with a relative pageUrl", lb, http.MethodPost, "/login/end", map[string]string{"pageUrl": "/callback?code=x"}, nil, nil, 400, "bad-request"},
		{"unknown endpoint", b, http.MethodGet, "/tokens", nil, nil, nil, 404, "not-found"},
		{"wrong method", b, http.MethodGet, "/refresh", nil, nil, nil, 405, "method-not-allowed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := c.body
			if m, ok := body.(map[string]string); ok {
				body = map[string]string{"pageUrl": strings.ReplaceAll(m["pageUrl"], "{state}", state)}
			}
			var r reply
			switch {
			case c.name == "login/end with a tampered login cookie":
				// The pending login's cookie, altered by a byte.
				ck := lb.cookies()["pc-warehouse-login"]
				r = lb.callWithCookies(c.method, c.path, body, map[string]string{"pc-warehouse-login": tamper(ck)})
			case c.cookies != nil:
				r = c.b.callWithCookies(c.method, c.path, body, c.cookies)
			default:
				r = c.b.call(c.method, c.path, body, c.hdr)
			}
			wantProblem(t, r, c.status, c.slug)
			for n, v := range session {
				if strings.Contains(r.raw, v) {
					t.Errorf("the answer holds the value of cookie %s", n)
				}
			}
			if c.slug == "origin-not-allowed" && r.header.Get("Access-Control-Allow-Origin") != "" {
				t.Error("a refused origin got CORS headers")
			}
			if c.slug == "authorization-error" && (r.body["error"] != "access_denied" || strings.Contains(r.raw, "no way")) {
				t.Errorf("answer %s: want the error code access_denied and not the description", r.raw)
			}
			if c.slug == "method-not-allowed" && r.header.Get("Allow") != "POST, OPTIONS" {
				t.Errorf("Allow = %q", r.header.Get("Allow"))
			}
			if c.status == 401 && c.path == "/refresh" && len(r.header.Values("Set-Cookie")) == 0 {
				t.Error("a refresh that ends the session clears no cookie")
			}
		})
		// The pending login is used up by every authorization
		// response: start a fresh one for the next case.
		if c.b == lb && c.path == "/login/end" {
			au, _ := url.Parse(lb.startLogin())
			state = au.Query().Get("state")
		}
	}

	// The session survives refusals that did not end it.
	if r := b.call(http.MethodGet, "/userinfo", nil, nil); r.status != http.StatusOK {
		t.Errorf("userinfo after the refusals: %d %s", r.status, r.raw)
	}
}

// callWithCookies sends a request from the SPA's origin with its CSRF
// value, carrying exactly cookies instead of the jar's.
func (b *browser) callWithCookies(method, path string, body any, cookies map[string]string) reply {
	b.t.Helper()
	saved := b.c.Jar
	b.c.Jar = nil
	defer func() { b.c.Jar = saved }()
	var parts []string
	for n, v := range cookies {
		parts = append(parts, n+"="+v)
	}
	hdr := map[string]string{}
	if len(parts) > 0 {
		hdr["Cookie"] = strings.Join(parts, "; ")
	}
	return b.call(method, path, body, hdr)
}

// TestCORS checks preflights and the headers of other origins.
func TestCORS(t *testing.T) {
	e := startEnv(t)
	preflight := func(origin, path string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, e.agentURL+e.prefix+path, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type, x-pc-csrf")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := preflight(spaOrigin, "/refresh")
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("preflight: status %d", resp.StatusCode)
	}
	for h, want := range map[string]string{
		"Access-Control-Allow-Origin":      spaOrigin,
		"Access-Control-Allow-Credentials": "true",
		"Access-Control-Allow-Methods":     "POST",
		"Access-Control-Allow-Headers":     "Content-Type, x-pc-csrf",
		"Vary":                             "Origin",
	} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	resp = preflight(otherOrigin, "/refresh")
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "" ||
		resp.Header.Get("Access-Control-Allow-Credentials") != "" || resp.Header.Get("Vary") != "Origin" {
		t.Errorf("preflight from another origin: %d %v", resp.StatusCode, resp.Header)
	}
	// A GET without Origin (same-origin) is answered, without CORS.
	b := e.browser()
	r := b.call(http.MethodGet, "/session", nil, map[string]string{"Origin": ""})
	if r.status != http.StatusOK || r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("same-origin session: %d %v", r.status, r.header)
	}
}

// TestSecureCookies: outside development mode every cookie is Secure
// and __Host- prefixed.
func TestSecureCookies(t *testing.T) {
	e := startEnv(t)
	spa := e.spa()
	spa.AllowedOrigins = []string{"https://app.example.com"}
	spa.RedirectURI = "https://app.example.com/callback"
	spa.CookiePrefix = ""
	spa.ApplyDefaults()
	if spa.CookiePrefix != "__Host-pc-warehouse-" {
		t.Fatalf("default prefix = %q", spa.CookiePrefix)
	}
	h := e.newAgent(spa)
	req, _ := http.NewRequest(http.MethodPost, "/bff/warehouse/login/start", bytes.NewReader(nil))
	req.Header.Set("Origin", "https://app.example.com")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		t.Fatalf("login/start: %d %s", w.Code, w.Body)
	}
	checkSetCookies(t, w.Header(), true)
	if c := w.Header().Get("Set-Cookie"); !strings.HasPrefix(c, "__Host-pc-warehouse-login=") {
		t.Errorf("Set-Cookie = %q", c)
	}
}
