package backendtoken

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// tokenServer is a token endpoint that counts calls and answers with
// tokens numbered in order.
type tokenServer struct {
	*httptest.Server
	calls   atomic.Int64
	mu      sync.Mutex
	forms   []map[string][]string
	answer  func(n int64) (int, any)
	release chan struct{} // when set, each call waits for it
}

func newTokenServer(t *testing.T) *tokenServer {
	ts := &tokenServer{}
	ts.answer = func(n int64) (int, any) {
		return 200, map[string]any{"access_token": fmt.Sprintf("tok-%d", n), "token_type": "Bearer", "expires_in": 300}
	}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := ts.calls.Add(1)
		if id, secret, ok := r.BasicAuth(); !ok || id != "gateway" || secret != "s3cret" {
			w.WriteHeader(401)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client"})
			return
		}
		_ = r.ParseForm()
		ts.mu.Lock()
		ts.forms = append(ts.forms, r.PostForm)
		ts.mu.Unlock()
		if ts.release != nil {
			<-ts.release
		}
		status, body := ts.answer(n)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(ts.Close)
	return ts
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newSource(t *testing.T, ts *tokenServer, mode string, shared Shared, c *clock) *Source {
	t.Helper()
	s, err := New(Config{Mode: mode, TokenEndpoint: ts.URL, ClientID: "gateway", ClientSecret: "s3cret",
		Audience: []string{"https://inventory.internal"}, Scope: []string{"inventory:read"}},
		ts.Client(), shared, bytes.Repeat([]byte{7}, 32), nil, c.now)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestClientCredentialsCachedAndCoalesced(t *testing.T) {
	ts := newTokenServer(t)
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	s := newSource(t, ts, ModeClientCredentials, nil, c)
	ts.release = make(chan struct{})
	var wg sync.WaitGroup
	got := make([]string, 50)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := s.Token(context.Background(), "")
			if err != nil {
				t.Error(err)
			}
			got[i] = tok
		}()
	}
	for ts.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(ts.release)
	wg.Wait()
	for _, g := range got {
		if g != "tok-1" {
			t.Fatalf("token = %q, want tok-1", g)
		}
	}
	if tok, _ := s.Token(context.Background(), ""); tok != "tok-1" {
		t.Fatalf("cached token = %q", tok)
	}
	if n := ts.calls.Load(); n != 1 {
		t.Fatalf("token endpoint calls = %d, want 1", n)
	}
	f := ts.forms[0]
	if f["grant_type"][0] != "client_credentials" || f["resource"][0] != "https://inventory.internal" || f["scope"][0] != "inventory:read" {
		t.Errorf("form = %v", f)
	}
}

func TestRefreshAhead(t *testing.T) {
	ts := newTokenServer(t)
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	s := newSource(t, ts, ModeClientCredentials, nil, c)
	ctx := context.Background()
	if tok, _ := s.Token(ctx, ""); tok != "tok-1" {
		t.Fatalf("first = %q", tok)
	}
	// Inside the refresh window: the held token is served while one
	// background fetch replaces it.
	c.add(300*time.Second - DefaultRefreshBefore + time.Second)
	if tok, _ := s.Token(ctx, ""); tok != "tok-1" {
		t.Fatalf("in the window = %q, want the held token", tok)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		tok, _ := s.Token(ctx, "")
		if tok == "tok-2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the token was not refreshed ahead (calls %d)", ts.calls.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := ts.calls.Load(); n != 2 {
		t.Fatalf("calls = %d, want 2", n)
	}
	// Past expiry the caller waits for a new one.
	c.add(time.Hour)
	if tok, _ := s.Token(ctx, ""); tok != "tok-3" {
		t.Fatalf("after expiry = %q, want tok-3", tok)
	}
}

func TestExchangePerSubject(t *testing.T) {
	ts := newTokenServer(t)
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	s := newSource(t, ts, ModeExchange, nil, c)
	ctx := context.Background()
	a, _ := s.Token(ctx, "pca_alice")
	b, _ := s.Token(ctx, "pca_bob")
	a2, _ := s.Token(ctx, "pca_alice")
	if a == b || a != a2 {
		t.Fatalf("alice %q, bob %q, alice again %q", a, b, a2)
	}
	f := ts.forms[0]
	want := map[string]string{
		"grant_type":           "urn:ietf:params:oauth:grant-type:token-exchange",
		"subject_token":        "pca_alice",
		"subject_token_type":   "urn:ietf:params:oauth:token-type:access_token",
		"requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
		"audience":             "https://inventory.internal",
		"scope":                "inventory:read",
	}
	for k, v := range want {
		if got := f[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s = %v, want %q", k, got, v)
		}
	}
	if _, err := s.Token(ctx, ""); err == nil {
		t.Error("an exchange without a subject was attempted")
	}
}

func TestFailures(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   any
		denied bool // a *RefusedError about the caller
		code   string
	}{
		{name: "policy refuses", status: 400, body: map[string]string{"error": "invalid_target", "error_description": "no"}, denied: true, code: "invalid_target"},
		{name: "subject token invalid", status: 400, body: map[string]string{"error": "invalid_grant"}, denied: true, code: "invalid_grant"},
		{name: "gateway client refused", status: 400, body: map[string]string{"error": "unauthorized_client"}, code: "unauthorized_client"},
		{name: "server error", status: 500, body: "boom"},
		{name: "no access token", status: 200, body: map[string]any{"token_type": "Bearer"}},
		{name: "bound token", status: 200, body: map[string]any{"access_token": "x", "token_type": "DPoP", "expires_in": 60}},
		{name: "not an access token", status: 200, body: map[string]any{"access_token": "x", "token_type": "Bearer", "expires_in": 60,
			"issued_token_type": "urn:ietf:params:oauth:token-type:id_token"}},
		{name: "already expired", status: 200, body: map[string]any{"access_token": "x", "token_type": "Bearer", "expires_in": 0}},
		{name: "too large", status: 200, body: map[string]any{"access_token": strings.Repeat("x", maxTokenResponse), "token_type": "Bearer"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTokenServer(t)
			ts.answer = func(int64) (int, any) { return tc.status, tc.body }
			c := &clock{t: time.Unix(1_800_000_000, 0)}
			s := newSource(t, ts, ModeExchange, nil, c)
			_, err := s.Token(context.Background(), "pca_alice")
			if err == nil {
				t.Fatal("accepted")
			}
			var re *RefusedError
			if tc.code != "" {
				if !errors.As(err, &re) || re.Code != tc.code || re.Denied() != tc.denied {
					t.Fatalf("err = %v, want refusal %s (denied %v)", err, tc.code, tc.denied)
				}
			}
			if strings.Contains(err.Error(), "pca_alice") || strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error %q quotes a credential", err)
			}
			// A failure is not cached: the next request asks again.
			_, _ = s.Token(context.Background(), "pca_alice")
			if n := ts.calls.Load(); n != 2 {
				t.Errorf("calls = %d, want 2", n)
			}
		})
	}
	t.Run("wrong client secret", func(t *testing.T) {
		ts := newTokenServer(t)
		s, _ := New(Config{Mode: ModeClientCredentials, TokenEndpoint: ts.URL, ClientID: "gateway", ClientSecret: "wrong"},
			ts.Client(), nil, nil, nil, nil)
		_, err := s.Token(context.Background(), "")
		var re *RefusedError
		if !errors.As(err, &re) || re.Code != "invalid_client" || re.Denied() {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestNewRefusesIncompleteConfig(t *testing.T) {
	good := Config{Mode: ModeExchange, TokenEndpoint: "https://as.example/token", ClientID: "g", ClientSecret: "s"}
	for name, mut := range map[string]func(*Config){
		"mode":     func(c *Config) { c.Mode = "password" },
		"endpoint": func(c *Config) { c.TokenEndpoint = "" },
		"client":   func(c *Config) { c.ClientID = "" },
		"secret":   func(c *Config) { c.ClientSecret = "" },
	} {
		c := good
		mut(&c)
		if _, err := New(c, nil, nil, nil, nil, nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := New(good, nil, memShared{}, []byte("short"), nil, nil); err == nil {
		t.Error("a shared cache with a short sealing key was accepted")
	}
}

func TestEvictionBound(t *testing.T) {
	ts := newTokenServer(t)
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	s, _ := New(Config{Mode: ModeExchange, TokenEndpoint: ts.URL, ClientID: "gateway", ClientSecret: "s3cret", MaxEntries: 10},
		ts.Client(), nil, nil, nil, c.now)
	for i := range 100 {
		if _, err := s.Token(context.Background(), fmt.Sprintf("pca_%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	s.mu.Lock()
	n := len(s.entries)
	s.mu.Unlock()
	if n > 10 {
		t.Fatalf("entries = %d, want at most 10", n)
	}
}

// memShared is an in-memory Shared, standing for Redis.
type memShared map[string][]byte

func (m memShared) Get(_ context.Context, k string) ([]byte, bool, error) {
	v, ok := m[k]
	return v, ok, nil
}
func (m memShared) Set(_ context.Context, k string, v []byte, _ time.Duration) error {
	m[k] = v
	return nil
}

func TestSharedAcrossNodes(t *testing.T) {
	ts := newTokenServer(t)
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	shared := memShared{}
	one := newSource(t, ts, ModeExchange, shared, c)
	two := newSource(t, ts, ModeExchange, shared, c)
	ctx := context.Background()
	a, _ := one.Token(ctx, "pca_alice")
	b, _ := two.Token(ctx, "pca_alice")
	if a != b || ts.calls.Load() != 1 {
		t.Fatalf("node one %q, node two %q, calls %d: want one fetch shared", a, b, ts.calls.Load())
	}
	for k, v := range shared {
		if bytes.Contains(v, []byte(a)) || strings.Contains(k, "pca_alice") {
			t.Fatal("the shared cache holds a token in clear")
		}
	}
	// An entry moved under another caller's key does not open there.
	keyAlice := one.key("pca_alice")
	keyBob := one.key("pca_bob")
	shared[keyBob] = shared[keyAlice]
	bob, _ := two.Token(ctx, "pca_bob")
	if bob == a {
		t.Fatal("alice's token was served to bob")
	}
	// A tampered entry is refused and fetched again.
	three := newSource(t, ts, ModeExchange, shared, c)
	v := shared[keyAlice]
	v[len(v)-1] ^= 1
	if tok, _ := three.Token(ctx, "pca_alice"); tok == a {
		t.Fatal("a tampered entry was accepted")
	}
}

func TestRedisShared(t *testing.T) {
	addr := os.Getenv("PORTCULLIS_TEST_REDIS")
	if addr == "" {
		t.Skip("set PORTCULLIS_TEST_REDIS=127.0.0.1:6379 to run the Redis shared-cache test")
	}
	rc := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = rc.Close() })
	ctx := context.Background()
	r := NewRedisShared(rc, "pctest:")
	ts := newTokenServer(t)
	c := &clock{t: time.Now()}
	one := newSource(t, ts, ModeClientCredentials, r, c)
	two := newSource(t, ts, ModeClientCredentials, r, c)
	// Another run may have left this configuration's entry: start clean.
	_ = rc.Del(ctx, "pctest:"+one.key("")).Err()
	a, err := one.Token(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := two.Token(ctx, "")
	if err != nil || a != b || ts.calls.Load() != 1 {
		t.Fatalf("two = %q, %v; calls %d", b, err, ts.calls.Load())
	}
	if ttl := rc.TTL(ctx, "pctest:"+one.key("")).Val(); ttl <= 0 || ttl > 300*time.Second {
		t.Errorf("ttl = %v", ttl)
	}
	if _, ok, err := r.Get(ctx, "backendtoken:absent"); ok || err != nil {
		t.Errorf("absent key: %v, %v", ok, err)
	}
	_ = rc.Del(ctx, "pctest:"+one.key("")).Err()
}

func TestDiscoveredEndpoint(t *testing.T) {
	ts := newTokenServer(t)
	var disc *httptest.Server
	disc = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": disc.URL, "token_endpoint": ts.URL + "/token"})
	}))
	t.Cleanup(disc.Close)
	s, err := New(Config{Mode: ModeClientCredentials, Issuer: disc.URL, ClientID: "gateway", ClientSecret: "s3cret"},
		nil, nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok, err := s.Token(context.Background(), ""); err != nil || tok != "tok-1" {
		t.Fatalf("Token = %q, %v", tok, err)
	}
	// An issuer whose document names another issuer is refused (mix-up).
	bad, _ := New(Config{Mode: ModeClientCredentials, Issuer: disc.URL + "/other", ClientID: "gateway", ClientSecret: "s3cret"},
		nil, nil, nil, nil, nil)
	if _, err := bad.Token(context.Background(), ""); err == nil {
		t.Fatal("a discovery document of another issuer was trusted")
	}
}
