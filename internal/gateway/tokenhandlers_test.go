package gateway

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/tokenhandler"
)

// The single-page app of these tests: served over https, so its cookies
// carry the __Host- prefix, fronting the warehouse API.
const (
	spaOrigin    = "https://app.example"
	spaPrefix    = "/bff/warehouse"
	spaCookie    = "__Host-pc-warehouse-"
	spaSecretEnv = "SPA_CLIENT_SECRET"
	spaKeyEnv    = "SPA_COOKIE_KEY"
	spaCSRF      = "c3BhLWNzcmYtdmFsdWUtb2YtdGhlLXRlc3Qtc2Vzc2lvbg"
)

// spaEnv is the gateway of env with the warehouse app's agent, and the
// sealer that makes the cookies a finished login would have set.
type spaEnv struct {
	*env
	agent  *tokenhandler.Handler
	sealer *tokenhandler.Sealer
}

func newSPAEnv(t testing.TB, edit func(*catalog.Snapshot)) *spaEnv {
	t.Helper()
	key := make([]byte, tokenhandler.KeySize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	s := &spaEnv{}
	e := newEnvWith(t, func(c *catalog.Snapshot) {
		// What the configuration's validation asks of a fronted API.
		c.APIs[0].CORS.AllowedHeaders = []string{"Authorization", "Content-Type", tokenhandler.CSRFHeader}
		// An API the app does not front: it must not see the cookies
		// either.
		c.APIs = append(c.APIs, catalog.API{Name: "status", BasePath: "/status", Upstream: c.APIs[0].Upstream, Public: true,
			Operations: []catalog.Operation{{Method: "GET", Path: "/"}}})
		if edit != nil {
			edit(c)
		}
	}, func(o *Options) {
		// No test here logs in; logout finds no issuer listening, and
		// answers all the same.
		spa := tokenhandler.SPA{
			Name:            "warehouse",
			PathPrefix:      spaPrefix,
			AllowedOrigins:  []string{spaOrigin},
			Issuer:          "http://127.0.0.1:1",
			ClientID:        "warehouse-bff",
			ClientSecretEnv: spaSecretEnv,
			RedirectURI:     spaOrigin + "/",
			CookieKeys:      []tokenhandler.CookieKey{{ID: "k1", Env: spaKeyEnv}},
			APIPaths:        []string{"/warehouse"},
		}
		spa.ApplyDefaults()
		h, err := tokenhandler.New(spa, tokenhandler.Options{
			Getenv: func(k string) string {
				return map[string]string{spaSecretEnv: "secret", spaKeyEnv: base64.StdEncoding.EncodeToString(key)}[k]
			},
			Registerer: o.Metrics,
		})
		if err != nil {
			t.Fatal(err)
		}
		s.agent = h
		o.TokenHandlers = []*tokenhandler.Handler{h}
	})
	sealer, err := tokenhandler.NewSealer([]tokenhandler.Key{{ID: "k1", Secret: key}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.env, s.sealer = e, sealer
	return s
}

// cookie is "name=sealed value" for the app's cookie of kind ("at",
// "csrf", ...), valid for an hour.
func (s *spaEnv) cookie(t testing.TB, kind, value string) string {
	t.Helper()
	v, err := s.sealer.Seal(spaCookie+kind, []byte(value), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return spaCookie + kind + "=" + v
}

// spaRequest is a call of the SPA's script: its origin, the CSRF header
// and the session's cookies with a token, beside a cookie of the site's
// own.
func (s *spaEnv) spaRequest(t testing.TB, method, target, tok string) *http.Request {
	t.Helper()
	r := request(method, target, "")
	r.Header.Set("Origin", spaOrigin)
	r.Header.Set(tokenhandler.CSRFHeader, spaCSRF)
	r.Header.Set("Cookie", "theme=dark; "+s.cookie(t, "at", tok)+"; "+s.cookie(t, "csrf", spaCSRF)+"; "+s.cookie(t, "rt", "rt-value"))
	return r
}

// checkNoSession fails when the upstream's last request carried any of
// the agent's cookies or the CSRF header.
func checkNoSession(t *testing.T, s *spaEnv) {
	t.Helper()
	last, ok := s.up.Last()
	if !ok {
		t.Fatal("the upstream got no request")
	}
	if got := last.Header.Get(tokenhandler.CSRFHeader); got != "" {
		t.Errorf("upstream got %s: %q", tokenhandler.CSRFHeader, got)
	}
	for _, c := range last.Header.Values("Cookie") {
		if strings.Contains(c, "pc-warehouse-") {
			t.Errorf("upstream got an agent cookie: %q", c)
		}
	}
	if got := last.Header.Get("Cookie"); got != "theme=dark" {
		t.Errorf("upstream Cookie = %q, want the site's own cookie only", got)
	}
}

// TestSessionCookieIsABearerToken: the access token of the app's cookies
// is resolved exactly as a bearer token (the phantom JWT goes upstream),
// and nothing of the session goes with it.
func TestSessionCookieIsABearerToken(t *testing.T) {
	s := newSPAEnv(t, nil)
	tok := s.token(t, "opaque", "list_items")
	w := s.serve(s.spaRequest(t, "GET", "/warehouse/items", tok))
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", w.Code, w.Body)
	}
	if got := w.Header().Get("Access-Control-Allow-Origin"); got != spaOrigin {
		t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, spaOrigin)
	}
	if got := w.Header().Get("Access-Control-Allow-Credentials"); got != "true" {
		t.Errorf("Access-Control-Allow-Credentials = %q, want true", got)
	}
	last, _ := s.up.Last()
	if got, want := last.Header.Get("Authorization"), "Bearer "+s.is.Phantom(tok); got != want {
		t.Errorf("upstream Authorization is not the phantom JWT of the cookie's token")
	}
	checkNoSession(t, s)
	lines := s.logLines(t, "request")
	if len(lines) != 1 || lines[0]["sub"] != "alice" || lines[0]["decision"] != "allow" {
		t.Errorf("access log = %v, want one allowed line for alice", lines)
	}
	if strings.Contains(s.logs.String(), tok) || strings.Contains(s.logs.String(), "pc-warehouse-at=") {
		t.Error("the log holds the token or the cookie")
	}
}

// TestSessionCookieRefusals: what the agent refuses is answered as the
// SPA expects it, decided and logged like the gateway's own refusals, and
// scopes still apply to a cookie's token.
func TestSessionCookieRefusals(t *testing.T) {
	s := newSPAEnv(t, nil)
	tok := s.token(t, "opaque", "list_items")
	for _, c := range []struct {
		name     string
		edit     func(r *http.Request)
		target   string
		status   int
		typ      string
		decision string
	}{
		{"both cookie and authorization", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) },
			"/warehouse/items", 400, "ambiguous-credentials", "bad_request"},
		{"foreign origin", func(r *http.Request) { r.Header.Set("Origin", "https://evil.example") },
			"/warehouse/items", 403, "origin-not-allowed", "deny_csrf"},
		{"no origin", func(r *http.Request) { r.Header.Del("Origin") },
			"/warehouse/items", 403, "origin-not-allowed", "deny_csrf"},
		{"no csrf header", func(r *http.Request) { r.Header.Del(tokenhandler.CSRFHeader) },
			"/warehouse/items", 403, "csrf-check-failed", "deny_csrf"},
		{"wrong csrf header", func(r *http.Request) { r.Header.Set(tokenhandler.CSRFHeader, "x"+spaCSRF) },
			"/warehouse/items", 403, "csrf-check-failed", "deny_csrf"},
		{"access cookie that does not open", func(r *http.Request) {
			r.Header.Set("Cookie", spaCookie+"at=AQJrMQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA; "+s.cookie(t, "csrf", spaCSRF))
		}, "/warehouse/items", 401, "session-expired", "deny_token"},
		{"no access cookie", func(r *http.Request) { r.Header.Set("Cookie", s.cookie(t, "csrf", spaCSRF)) },
			"/warehouse/items", 401, "session-expired", "deny_token"},
		{"scope still checked", nil, "/warehouse/orders", 403, "insufficient-scope", "deny_scope"},
	} {
		t.Run(c.name, func(t *testing.T) {
			logged := len(s.logLines(t, "request"))
			s.up.Reset()
			method := "GET"
			if c.target == "/warehouse/orders" {
				method = "POST"
			}
			r := s.spaRequest(t, method, c.target, tok)
			if c.edit != nil {
				c.edit(r)
			}
			w := s.serve(r)
			if w.Code != c.status {
				t.Fatalf("status = %d, want %d; body %s", w.Code, c.status, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type = %q", ct)
			}
			var p struct{ Type string }
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Type != "urn:portcullis:problem:"+c.typ {
				t.Errorf("problem = %s (%v), want type %s", w.Body, err, c.typ)
			}
			if w.Header().Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id on the refusal")
			}
			if c.status == http.StatusUnauthorized && w.Header().Get("Www-Authenticate") == "" {
				t.Error("a 401 without a challenge")
			}
			if _, ok := s.up.Last(); ok {
				t.Error("a refused call reached the upstream")
			}
			lines := s.logLines(t, "request")[logged:]
			if len(lines) != 1 || lines[0]["decision"] != c.decision {
				t.Errorf("access log = %v, want decision %s", lines, c.decision)
			}
		})
	}
}

// TestBearerBesideTheTokenHandler: a fronted API still takes bearer
// tokens, and neither it, its public operations nor another API ever
// receive the agent's cookies.
func TestBearerBesideTheTokenHandler(t *testing.T) {
	s := newSPAEnv(t, nil)
	tok := s.token(t, "jwt", "list_items")
	for _, c := range []struct{ name, target, tok string }{
		{"bearer on a fronted API", "/warehouse/items", tok},
		{"public operation of a fronted API", "/warehouse/health", ""},
		{"another API", "/status/", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			s.up.Reset()
			r := request("GET", c.target, c.tok)
			// A stale login cookie and a CSRF header, but no session.
			r.Header.Set("Cookie", "theme=dark; "+s.cookie(t, "login", "pending"))
			r.Header.Set(tokenhandler.CSRFHeader, spaCSRF)
			if w := s.serve(r); w.Code != http.StatusOK {
				t.Fatalf("status = %d, want 200; body %s", w.Code, w.Body)
			}
			checkNoSession(t, s)
		})
	}
	// Session cookies sent to an API the app does not front are not
	// looked at, and not passed on.
	s.up.Reset()
	if w := s.serve(s.spaRequest(t, "GET", "/status/", tok)); w.Code != http.StatusOK {
		t.Fatalf("another API with the session's cookies: status = %d", w.Code)
	}
	checkNoSession(t, s)
}

// TestAgentOnTheGatewayListener: the agent answers under its prefix,
// before any API, through the gateway's exchange (request id, access
// log, metrics); SetTokenHandlers(nil) takes it away.
func TestAgentOnTheGatewayListener(t *testing.T) {
	s := newSPAEnv(t, func(c *catalog.Snapshot) {
		// An API at the root would match the agent's paths otherwise.
		c.APIs = append(c.APIs, catalog.API{Name: "root", BasePath: "/", Upstream: c.APIs[0].Upstream, Public: true,
			Operations: []catalog.Operation{{Method: "*", Path: "/{rest...}"}}})
	})
	r := request("GET", spaPrefix+"/session", "")
	r.Header.Set("Origin", spaOrigin)
	w := s.serve(r)
	if w.Code != http.StatusOK || strings.TrimSpace(w.Body.String()) != `{"isLoggedIn":false}` {
		t.Fatalf("session: %d %s", w.Code, w.Body)
	}
	if w.Header().Get("X-Request-Id") == "" || w.Header().Get("Access-Control-Allow-Origin") != spaOrigin {
		t.Errorf("headers = %v", w.Header())
	}
	if _, ok := s.up.Last(); ok {
		t.Error("an agent call reached an upstream")
	}
	lines := s.logLines(t, "request")
	if len(lines) != 1 || lines[0]["operation"] != "token_handler warehouse" || lines[0]["decision"] != "token_handler" {
		t.Errorf("access log = %v", lines)
	}
	if got := counterValue(t, s.gw.metrics.requests.WithLabelValues("", "", "token_handler warehouse", "200", "token_handler")); got != 1 {
		t.Errorf("agent calls counted = %v, want 1", got)
	}
	post := request("POST", spaPrefix+"/logout", "")
	post.Header.Set("Origin", "https://evil.example")
	if w := s.serve(post); w.Code != http.StatusForbidden {
		t.Errorf("logout from a foreign origin: %d %s", w.Code, w.Body)
	}

	if err := s.gw.SetTokenHandlers(nil); err != nil {
		t.Fatal(err)
	}
	s.up.Reset()
	if w := s.serve(request("GET", spaPrefix+"/session", "")); w.Code != http.StatusOK {
		t.Fatalf("without the agent: status %d, want the root API's 200", w.Code)
	}
	if _, ok := s.up.Last(); !ok {
		t.Error("without the agent, its path did not reach the root API")
	}
	// The cookies are nobody's now: the call needs a bearer token.
	if w := s.serve(s.spaRequest(t, "GET", "/warehouse/items", s.token(t, "opaque", "list_items"))); w.Code != http.StatusUnauthorized {
		t.Errorf("cookies without the agent: status %d, want 401", w.Code)
	}
}

// TestLogoutForgetsTheToken: once the agent has answered a logout, this
// gateway drops the session's access token from its cache, so a copy of
// the cookie stops working at once (the issuer revoked it); a logout the
// agent refuses changes nothing.
func TestLogoutForgetsTheToken(t *testing.T) {
	s := newSPAEnv(t, nil)
	tok := s.token(t, "opaque", "list_items")
	call := func() int {
		t.Helper()
		return s.serve(s.spaRequest(t, "GET", "/warehouse/items", tok)).Code
	}
	if got := call(); got != http.StatusOK {
		t.Fatalf("status = %d, want 200", got)
	}
	s.is.Revoke(tok)
	if got := call(); got != http.StatusOK {
		t.Fatalf("revoked but cached: status = %d, want 200 (the cache's bound)", got)
	}
	logout := func(csrf string) int {
		r := s.spaRequest(t, "POST", spaPrefix+"/logout", tok)
		r.Header.Set(tokenhandler.CSRFHeader, csrf)
		return s.serve(r).Code
	}
	if got := logout("wrong"); got != http.StatusForbidden {
		t.Fatalf("logout with a wrong CSRF value: %d, want 403", got)
	}
	if got := call(); got != http.StatusOK {
		t.Fatalf("after a refused logout: status = %d, want the cached 200", got)
	}
	if got := logout(spaCSRF); got != http.StatusOK {
		t.Fatalf("logout: %d, want 200", got)
	}
	if got := call(); got != http.StatusUnauthorized {
		t.Errorf("the logged-out session's cookie: status = %d, want 401 at once", got)
	}
}

// TestTokenHandlerPreflight: the fronted API's own CORS answers the SPA's
// preflight for a call with the CSRF header.
func TestTokenHandlerPreflight(t *testing.T) {
	s := newSPAEnv(t, nil)
	r := request("OPTIONS", "/warehouse/orders", "")
	r.Header.Set("Origin", spaOrigin)
	r.Header.Set("Access-Control-Request-Method", "POST")
	r.Header.Set("Access-Control-Request-Headers", "content-type, "+tokenhandler.CSRFHeader)
	w := s.serve(r)
	if w.Code != http.StatusNoContent || w.Header().Get("Access-Control-Allow-Credentials") != "true" ||
		w.Header().Get("Access-Control-Allow-Origin") != spaOrigin {
		t.Fatalf("preflight: %d %v", w.Code, w.Header())
	}
}

func TestSetTokenHandlersRefusesOverlaps(t *testing.T) {
	s := newSPAEnv(t, nil)
	if err := s.gw.SetTokenHandlers([]*tokenhandler.Handler{s.agent, s.agent}); err == nil {
		t.Fatal("the same agent twice was accepted")
	}
	// The refused set did not replace the current one.
	if w := s.serve(request("GET", spaPrefix+"/session", "")); w.Code != http.StatusOK {
		t.Errorf("after a refused swap: status %d", w.Code)
	}
}
