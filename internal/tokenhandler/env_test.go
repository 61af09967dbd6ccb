package tokenhandler_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/identity/identitytest"
	"github.com/portcullis/portcullis/internal/keys"
	"github.com/portcullis/portcullis/internal/logtest"
	"github.com/portcullis/portcullis/internal/registry"
	"github.com/portcullis/portcullis/internal/server"
	"github.com/portcullis/portcullis/internal/server/servertest"
	"github.com/portcullis/portcullis/internal/tokenhandler"
)

// The SPA of the tests: served from a loopback origin on plain http, so
// the agent runs in development mode and Go's cookie jar (which keeps
// Secure cookies for https only) can hold its cookies.
const (
	spaOrigin   = "http://127.0.0.1:5173"
	otherOrigin = "http://127.0.0.1:6666"
	redirectURI = spaOrigin + "/callback"
	clientID    = "warehouse-spa"
	alicePass   = "correct horse battery staple"
	secretEnv   = "SPA_CLIENT_SECRET"
	keyEnv      = "SPA_COOKIE_KEY"
	apiPath     = "/warehouse"
)

// clock is shared by the authorization server and the agent, so expiry
// is tested without sleeping.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// env is a real Portcullis authorization server with a confidential
// client for the agent, and the agent served on its own loopback port
// (standing in for the gateway listener).
type env struct {
	t        *testing.T
	issuer   string
	secret   string
	cookieKy string
	agent    *tokenhandler.Handler
	agentURL string
	prefix   string
	reg      *prometheus.Registry
	logs     *logtest.Buffer
	clock    *clock
}

// startEnv starts a real authorization server (the authz role only) with
// alice and the agent's client, and the agent in front of it; adjust
// changes the agent's configuration.
func startEnv(t *testing.T, adjust ...func(*tokenhandler.SPA)) *env {
	t.Helper()
	cfg := servertest.Config(t)
	// Any reuse of a rotated refresh token revokes its family.
	cfg.Tokens.RefreshReuseGrace = 0
	cfg.Log.Level = "error"
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	master := randomKey(t)
	clk := &clock{}
	var secret string
	ctx, cancel := context.WithCancel(context.Background())
	run, err := server.Start(ctx, cfg, slog.New(slog.DiscardHandler),
		server.WithRoles(server.RoleAuthz),
		server.WithClock(clk.Now),
		server.WithGetenv(func(k string) string {
			if k == keys.MasterKeyEnv {
				return master
			}
			return ""
		}),
		server.WithBeforeServe(func(ctx context.Context, s server.Services) error {
			if _, err := s.Users.Create(ctx, "alice", alicePass, nil, nil); err != nil {
				return err
			}
			var err error
			_, secret, err = s.Clients.Create(ctx, registry.ClientSpec{
				ID:           clientID,
				Name:         "Warehouse SPA agent",
				GrantTypes:   []string{registry.GrantAuthorizationCode, registry.GrantRefreshToken},
				RedirectURIs: []string{redirectURI},
				Scopes:       []string{"openid profile"},
				SkipConsent:  true,
			})
			return err
		}))
	if err != nil {
		cancel()
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		_ = run.Close(cctx)
	})
	e := &env{t: t, issuer: run.Issuer, secret: secret, cookieKy: randomKey(t), clock: clk,
		reg: prometheus.NewRegistry(), logs: &logtest.Buffer{}}
	spa := e.spa()
	for _, a := range adjust {
		a(&spa)
	}
	e.agent = e.newAgent(spa)
	e.prefix = spa.PathPrefix
	srv := httptest.NewServer(e.agent)
	t.Cleanup(srv.Close)
	e.agentURL = srv.URL
	return e
}

// spa is the agent's configuration with defaults applied.
func (e *env) spa() tokenhandler.SPA {
	spa := tokenhandler.SPA{
		Name:            "warehouse",
		PathPrefix:      "/bff/warehouse",
		AllowedOrigins:  []string{spaOrigin},
		Issuer:          e.issuer,
		ClientID:        clientID,
		ClientSecretEnv: secretEnv,
		RedirectURI:     redirectURI,
		Scopes:          []string{"openid", "profile"},
		CookieKeys:      []tokenhandler.CookieKey{{ID: "k1", Env: keyEnv}},
		APIPaths:        []string{apiPath},
	}
	spa.ApplyDefaults()
	return spa
}

func (e *env) getenv(k string) string {
	switch k {
	case secretEnv:
		return e.secret
	case keyEnv:
		return e.cookieKy
	}
	return ""
}

func (e *env) newAgent(spa tokenhandler.SPA) *tokenhandler.Handler {
	e.t.Helper()
	h, err := tokenhandler.New(spa, tokenhandler.Options{
		Logger:     slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registerer: e.reg,
		Getenv:     e.getenv,
		Now:        e.clock.Now,
	})
	if err != nil {
		e.t.Fatalf("new agent: %v", err)
	}
	return h
}

func randomKey(t testing.TB) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// browser is the SPA's user agent: one cookie jar for the issuer's login
// pages and the agent, no redirects followed so that each step is seen.
type browser struct {
	e    *env
	t    *testing.T
	c    *http.Client
	jar  *cookiejar.Jar
	csrf string
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, t: e.t, jar: jar, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// reply is an answer of the agent.
type reply struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

// call sends a request from the SPA's page: its Origin and, once known,
// its CSRF value. hdr overrides (an empty value removes the header).
func (b *browser) call(method, path string, body any, hdr map[string]string) reply {
	b.t.Helper()
	var rd io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, b.e.agentURL+b.e.prefix+path, rd)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Origin", spaOrigin)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if b.csrf != "" {
		req.Header.Set(tokenhandler.CSRFHeader, b.csrf)
	}
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			b.t.Fatalf("%s %s: answer is not a JSON object: %v: %s", method, path, err, raw)
		}
	}
	return r
}

// startLogin calls login/start and returns the authorization request URL.
func (b *browser) startLogin() string {
	b.t.Helper()
	r := b.call(http.MethodPost, "/login/start", nil, nil)
	if r.status != http.StatusOK {
		b.t.Fatalf("login/start: status %d: %s", r.status, r.raw)
	}
	u, _ := r.body["authorizationRequestUrl"].(string)
	if u == "" {
		b.t.Fatalf("login/start: no authorizationRequestUrl: %s", r.raw)
	}
	return u
}

// authorize drives the issuer's login page as a user would and returns
// the URL the browser is sent back to (the SPA's page).
func (b *browser) authorize(authURL, username, password string) string {
	b.t.Helper()
	resp, page := b.get(authURL)
	if resp.StatusCode != http.StatusOK {
		b.t.Fatalf("authorize: status %d: %s", resp.StatusCode, page)
	}
	action, fields := form(b.t, page)
	fields.Set("username", username)
	fields.Set("password", password)
	resp, page = b.post(action, fields)
	if resp.StatusCode == http.StatusOK && strings.Contains(page, `name="decision"`) {
		action, fields = form(b.t, page)
		fields.Set("decision", "allow")
		resp, page = b.post(action, fields)
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		b.t.Fatalf("no redirect after login: status %d: %s", resp.StatusCode, page)
	}
	return loc
}

// login runs the whole flow and keeps the CSRF value, as the SPA does.
func (b *browser) login() reply {
	b.t.Helper()
	page := b.authorize(b.startLogin(), "alice", alicePass)
	r := b.call(http.MethodPost, "/login/end", map[string]string{"pageUrl": page}, nil)
	if r.status != http.StatusOK || r.body["isLoggedIn"] != true || r.body["handled"] != true {
		b.t.Fatalf("login/end: status %d: %s", r.status, r.raw)
	}
	b.csrf, _ = r.body["csrf"].(string)
	if b.csrf == "" {
		b.t.Fatalf("login/end: no csrf: %s", r.raw)
	}
	return r
}

func (b *browser) get(u string) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.c.Get(u)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func (b *browser) post(u string, f url.Values) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.c.PostForm(u, f)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// cookies returns the agent's cookies in the jar, by name.
func (b *browser) cookies() map[string]string {
	u, _ := url.Parse(b.e.agentURL)
	out := map[string]string{}
	for _, c := range b.jar.Cookies(u) {
		if strings.HasPrefix(c.Name, "pc-warehouse-") {
			out[c.Name] = c.Value
		}
	}
	return out
}

// replay sends a request by hand with the given agent cookies (as an
// attacker who copied them would), the SPA's Origin and CSRF value.
func (e *env) replay(method, path string, cookies map[string]string, csrf string) reply {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.agentURL+e.prefix+path, nil)
	req.Header.Set("Origin", spaOrigin)
	req.Header.Set(tokenhandler.CSRFHeader, csrf)
	for n, v := range cookies {
		req.AddCookie(&http.Cookie{Name: n, Value: v})
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &r.body)
	}
	return r
}

// form returns the action and hidden fields of the first form of page
// (copied from e2e/env_test.go).
func form(t testing.TB, page string) (string, url.Values) {
	t.Helper()
	action, hidden, ok := identitytest.Form(page)
	if !ok {
		t.Fatalf("no form in page:\n%s", page)
	}
	return action, hidden
}

// wantProblem checks a problem answer's status and type.
func wantProblem(t *testing.T, r reply, status int, slug string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status = %d, want %d: %s", r.status, status, r.raw)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", ct)
	}
	if got, want := r.body["type"], tokenhandler.ProblemTypePrefix+slug; got != want {
		t.Errorf("type = %v, want %s", got, want)
	}
}
