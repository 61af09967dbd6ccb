package e2e

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/identity"
	"github.com/portcullis/portcullis/internal/identity/identitytest"
	"github.com/portcullis/portcullis/internal/keys"
	"github.com/portcullis/portcullis/internal/server"
	"github.com/portcullis/portcullis/internal/server/servertest"
	"github.com/portcullis/portcullis/internal/store"
)

// clock is a settable clock shared by the server and the test, so expiry
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

// env is one running server with its store opened beside it for seeding.
type env struct {
	t          testing.TB
	master     []byte
	gatewayURL string
	adminURL   string
	issuer     string
	db         *store.DB
	secretKey  []byte
	clock      *clock
	users      *identity.Users
}

const warehouseCondition = `user.roles.exists(r, r == "warehouse_admin") && user.attrs.office == "head" && ip.in(request.ip, ["127.0.0.0/8", "::1/128", "10.0.0.0/8"])`

// startOpt adjusts the configuration and environment of a test server.
type startOpt func(cfg *config.Config, environ map[string]string)

func start(t testing.TB, opts ...startOpt) *env {
	t.Helper()
	cfg := servertest.Config(t)
	cfg.Tokens.RefreshReuseGrace = 0
	cfg.Policy.Roles = map[string][]string{
		"warehouse_admin": {"list_items", "order_item"},
		"warehouse_staff": {"list_items"},
	}
	cfg.Policy.Scopes = map[string]config.ScopeRule{
		"order_item": {Description: "Place orders", Condition: warehouseCondition},
		"list_items": {Description: "List items"},
	}
	cfg.Policy.ClaimAttributes = []string{"office"}
	cfg.Log.Level = "error"
	environ := map[string]string{}
	for _, o := range opts {
		o(cfg, environ)
	}
	// The issuer follows the bound address of the :0 listener.
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	master := make([]byte, 32)
	if _, err := rand.Read(master); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string {
		if k == keys.MasterKeyEnv {
			return base64.StdEncoding.EncodeToString(master)
		}
		return environ[k]
	}
	clk := &clock{}
	ctx, cancel := context.WithCancel(context.Background())
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	run, err := server.Start(ctx, cfg, logger, server.WithGetenv(getenv), server.WithClock(clk.Now))
	if err != nil {
		cancel()
		t.Fatalf("start: %v", err)
	}
	db, err := store.Open(ctx, cfg.Store.DSN, logger)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		db.Close()
		cancel()
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		_ = run.Close(cctx)
	})
	e := &env{
		t:          t,
		master:     master,
		gatewayURL: run.GatewayURL,
		adminURL:   run.AdminURL,
		issuer:     run.Issuer,
		db:         db,
		secretKey:  keys.DeriveKey(master, keys.PurposeClientSecrets),
		clock:      clk,
		users:      identity.NewUsers(db, identity.NewHasher(2), clk.Now),
	}
	return e
}

// client registers a client; a non-empty secret is returned for
// confidential ones.
func (e *env) client(c store.Client) string {
	e.t.Helper()
	var secret string
	if c.AuthMethod == "" {
		c.AuthMethod = store.AuthSecretBasic
	}
	if c.AuthMethod == store.AuthSecretBasic || c.AuthMethod == store.AuthSecretPost {
		var err error
		secret, err = clientauth.GenerateSecret()
		if err != nil {
			e.t.Fatal(err)
		}
		c.SecretDigest = clientauth.DigestSecret(e.secretKey, secret)
	}
	if c.AccessTokenFormat == "" {
		c.AccessTokenFormat = store.FormatOpaque
	}
	c.CreatedAt, c.UpdatedAt = time.Now(), time.Now()
	if err := e.db.CreateClient(context.Background(), c); err != nil {
		e.t.Fatalf("create client %s: %v", c.ID, err)
	}
	return secret
}

func (e *env) user(name, password string, roles []string, attrs map[string]string) store.User {
	e.t.Helper()
	u, err := e.users.Create(context.Background(), name, password, roles, attrs)
	if err != nil {
		e.t.Fatalf("create user %s: %v", name, err)
	}
	return u
}

func (e *env) url(path string) string { return e.issuer + path }

// postForm sends a form to the server, with Basic credentials when id is
// non-empty, and decodes a JSON answer.
func (e *env) postForm(path, id, secret string, form url.Values, hdr map[string]string) (int, http.Header, map[string]any) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url(path), strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && len(body) > 0 {
		if err := json.Unmarshal(body, &m); err != nil {
			e.t.Fatalf("decode %s: %v: %s", path, err, body)
		}
	} else {
		m = map[string]any{"_raw": string(body)}
	}
	return resp.StatusCode, resp.Header, m
}

// pkce returns a fresh verifier and its S256 challenge.
func pkce() (verifier, challenge string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	verifier = base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// browser is a user agent with a cookie jar that does not follow
// redirects, so each step of the flow can be inspected.
type browser struct {
	t testing.TB
	c *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{
		Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
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

func (b *browser) post(u string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.c.PostForm(u, form)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// form returns the action and hidden fields of the first form of page.
func form(t testing.TB, page string) (string, url.Values) {
	t.Helper()
	action, hidden, ok := identitytest.Form(page)
	if !ok {
		t.Fatalf("no form in page:\n%s", page)
	}
	return action, hidden
}

// login drives the authorization endpoint through the login (and, when
// shown, consent) pages and returns the final redirect's query.
func (b *browser) login(authURL, username, password string, consent string) url.Values {
	b.t.Helper()
	resp, page := b.get(authURL)
	if resp.StatusCode != http.StatusOK {
		if loc := resp.Header.Get("Location"); loc != "" {
			return query(b.t, loc)
		}
		b.t.Fatalf("authorize: status %d: %s", resp.StatusCode, page)
	}
	action, fields := form(b.t, page)
	fields.Set("username", username)
	fields.Set("password", password)
	resp, page = b.post(action, fields)
	if resp.StatusCode == http.StatusOK && strings.Contains(page, `name="decision"`) {
		action, fields = form(b.t, page)
		fields.Set("decision", consent)
		resp, page = b.post(action, fields)
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		b.t.Fatalf("no redirect after login: status %d: %s", resp.StatusCode, page)
	}
	return query(b.t, loc)
}

func query(t testing.TB, loc string) url.Values {
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("bad redirect %q: %v", loc, err)
	}
	return u.Query()
}
