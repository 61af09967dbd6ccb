package gateway

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/gateway/gatewaytest"
	"github.com/portcullis/portcullis/internal/httpsig"
	pubsig "github.com/portcullis/portcullis/pkg/httpsig"
)

// signingClients is a ClientKeys of registered clients' JWK Sets; err,
// when set, is every answer (the store is down).
type signingClients struct {
	mu   sync.Mutex
	sets map[string]*jose.JSONWebKeySet
	err  error
}

func (c *signingClients) ClientKeys(_ context.Context, clientID string) (*jose.JSONWebKeySet, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return nil, c.err
	}
	if s, ok := c.sets[clientID]; ok {
		return s, nil
	}
	return nil, ErrNoClientKeys
}

func (c *signingClients) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.err = err
}

// reqSigEnv is the warehouse gateway, on a real listener, requiring
// signed requests of every operation but GET /items/{id} (turned off)
// and the public GET /health. Client "spa" registered an Ed25519 key
// (and an encryption key under the same kid), client "svc" a P-256 one.
type reqSigEnv struct {
	*env
	srv     *httptest.Server
	clients *signingClients
	spaKey  ed25519.PrivateKey
	svcKey  *ecdsa.PrivateKey
}

func newReqSigEnv(t *testing.T, edit func(*catalog.API)) *reqSigEnv {
	t.Helper()
	_, spaKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	svcKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	encKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	re := &reqSigEnv{spaKey: spaKey, svcKey: svcKey, clients: &signingClients{sets: map[string]*jose.JSONWebKeySet{
		"spa": {Keys: []jose.JSONWebKey{
			{Key: encKey.Public(), KeyID: "spa-1", Use: "enc", Algorithm: "ECDH-ES"},
			{Key: spaKey.Public(), KeyID: "spa-1", Use: "sig"},
		}},
		"svc":      {Keys: []jose.JSONWebKey{{Key: svcKey.Public(), KeyID: "svc-1", Algorithm: "ES256"}}},
		"enc-only": {Keys: []jose.JSONWebKey{{Key: encKey.Public(), KeyID: "enc-1", Use: "enc"}}},
	}}}
	re.env = newEnvWith(t, func(c *catalog.Snapshot) {
		a := &c.APIs[0]
		a.RequestSignatures = &catalog.RequestSignatures{}
		a.Operations[1].RequestSignatures = &catalog.RequestSignatures{Mode: catalog.RequestSignaturesOff}
		a.Operations = append(a.Operations, catalog.Operation{Method: "*", Path: "/carts", Scopes: []string{"order_item"}})
		if edit != nil {
			edit(a)
		}
	}, func(o *Options) { o.ClientKeys = re.clients })
	re.srv = httptest.NewServer(re.gw)
	t.Cleanup(re.srv.Close)
	return re
}

// tokenFor mints a JWT of client with scopes.
func (re *reqSigEnv) tokenFor(t *testing.T, client, scope string) string {
	t.Helper()
	return re.is.JWT(t, gatewaytest.Claims{Subject: "alice", ClientID: client, Scope: scope, Audience: []string{"warehouse"}})
}

// order is a signed POST /warehouse/orders of client spa with its key.
func (re *reqSigEnv) order(t *testing.T, body string, key crypto.Signer, kid string, opts *pubsig.SignOptions) *http.Request {
	t.Helper()
	req, _ := http.NewRequest("POST", re.srv.URL+"/warehouse/orders?dry_run=1", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+re.tokenFor(t, "spa", "order_item"))
	req.Header.Set("Content-Type", "application/json")
	if key != nil {
		if err := pubsig.SignRequest(req, key, kid, opts); err != nil {
			t.Fatal(err)
		}
	}
	return req
}

func (re *reqSigEnv) do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := re.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestSignedRequests: a request signed with the key of the client the
// token was issued to reaches the upstream, body and all; one that is
// unsigned, tampered with, too old or signed by another client is
// refused with 401 and Accept-Signature, and reaches nothing.
func TestSignedRequests(t *testing.T) {
	re := newReqSigEnv(t, nil)

	t.Run("signed", func(t *testing.T) {
		re.up.Reset()
		resp, body := re.do(t, re.order(t, `{"item":"hammer"}`, re.spaKey, "spa-1", nil))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		got, ok := re.up.Last()
		if !ok || string(got.Body) != `{"item":"hammer"}` || got.Path != "/backend/orders" || got.Query != "dry_run=1" {
			t.Errorf("upstream got %+v", got)
		}
	})
	t.Run("signed, chunked", func(t *testing.T) {
		req, _ := http.NewRequest("POST", re.srv.URL+"/warehouse/orders", io.MultiReader(strings.NewReader(`{"item":`), strings.NewReader(`"saw"}`)))
		req.Header.Set("Authorization", "Bearer "+re.tokenFor(t, "spa", "order_item"))
		client := &http.Client{Transport: &pubsig.Transport{Base: re.srv.Client().Transport, Key: re.spaKey, KeyID: "spa-1"}}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("signed GET, another algorithm", func(t *testing.T) {
		req, _ := http.NewRequest("GET", re.srv.URL+"/warehouse/items?page=2", nil)
		req.Header.Set("Authorization", "Bearer "+re.tokenFor(t, "svc", "list_items"))
		if err := pubsig.SignRequest(req, re.svcKey, "svc-1", nil); err != nil {
			t.Fatal(err)
		}
		if resp, body := re.do(t, req); resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
	})
	t.Run("forwarding headers of an untrusted peer are ignored", func(t *testing.T) {
		req := re.order(t, `{}`, re.spaKey, "spa-1", nil)
		req.Header.Set("X-Forwarded-Host", "other.example")
		req.Header.Set("X-Forwarded-Proto", "https")
		if resp, body := re.do(t, req); resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
	})

	otherToken := re.tokenFor(t, "spa", "order_item list_items")
	refused := []struct {
		name   string
		req    func(t *testing.T) *http.Request
		reason string // in the access log, after "signature: "
		typ    string // the problem type, after urn:portcullis:problem:
	}{
		{"unsigned", func(t *testing.T) *http.Request { return re.order(t, `{"item":"hammer"}`, nil, "", nil) }, "unsigned", "signature-required"},
		{"body changed", func(t *testing.T) *http.Request {
			req := re.order(t, `{"item":"hammer"}`, re.spaKey, "spa-1", nil)
			req.Body, req.ContentLength = io.NopCloser(strings.NewReader(`{"item":"anvil!"}`)), 17
			return req
		}, "digest_mismatch", "invalid-signature"},
		{"body and digest changed", func(t *testing.T) *http.Request {
			req := re.order(t, `{"item":"hammer"}`, re.spaKey, "spa-1", nil)
			req.Body, req.ContentLength = io.NopCloser(strings.NewReader(`{"item":"anvil!"}`)), 17
			req.Header.Set("Content-Digest", "sha-256=:"+"oFFPqTHfkC6BCWRuB/SnHh7ZNRGJbDwVPIUrtkV3ikI="+":")
			return req
		}, "bad_signature", "invalid-signature"},
		{"method changed", func(t *testing.T) *http.Request {
			req := re.order(t, `{}`, re.spaKey, "spa-1", nil)
			req.URL.Path = "/warehouse/carts"
			if err := pubsig.SignRequest(req, re.spaKey, "spa-1", nil); err != nil {
				t.Fatal(err)
			}
			req.Method = "PUT" // the operation takes any method
			return req
		}, "bad_signature", "invalid-signature"},
		{"query changed", func(t *testing.T) *http.Request {
			req := re.order(t, `{}`, re.spaKey, "spa-1", nil)
			req.URL.RawQuery = "dry_run=0"
			return req
		}, "bad_signature", "invalid-signature"},
		{"path changed", func(t *testing.T) *http.Request {
			req, _ := http.NewRequest("GET", re.srv.URL+"/warehouse/files/a.txt", nil)
			req.Header.Set("Authorization", "Bearer "+otherToken)
			if err := pubsig.SignRequest(req, re.spaKey, "spa-1", nil); err != nil {
				t.Fatal(err)
			}
			req.URL.Path = "/warehouse/files/b.txt"
			return req
		}, "bad_signature", "invalid-signature"},
		{"header changed: another token", func(t *testing.T) *http.Request {
			req := re.order(t, `{}`, re.spaKey, "spa-1", nil)
			req.Header.Set("Authorization", "Bearer "+otherToken)
			return req
		}, "bad_signature", "invalid-signature"},
		{"expired", func(t *testing.T) *http.Request {
			return re.order(t, `{}`, re.spaKey, "spa-1", &pubsig.SignOptions{Now: func() time.Time { return time.Now().Add(-2 * time.Minute) }})
		}, "expired", "invalid-signature"},
		{"created in the future", func(t *testing.T) *http.Request {
			return re.order(t, `{}`, re.spaKey, "spa-1", &pubsig.SignOptions{Now: func() time.Time { return time.Now().Add(time.Minute) }})
		}, "not_yet_valid", "invalid-signature"},
		{"another client's key", func(t *testing.T) *http.Request { return re.order(t, `{}`, re.svcKey, "svc-1", nil) }, "unknown_key", "invalid-signature"},
		{"another client's key under our kid", func(t *testing.T) *http.Request { return re.order(t, `{}`, re.svcKey, "spa-1", nil) }, "unknown_key", "invalid-signature"},
		{"another key under our kid, our algorithm", func(t *testing.T) *http.Request {
			_, k, _ := ed25519.GenerateKey(rand.Reader)
			return re.order(t, `{}`, k, "spa-1", nil)
		}, "bad_signature", "invalid-signature"},
		{"token not covered", func(t *testing.T) *http.Request {
			return re.order(t, `{}`, re.spaKey, "spa-1", &pubsig.SignOptions{Components: []string{"@method", "@target-uri"}})
		}, "uncovered", "invalid-signature"},
		{"malformed", func(t *testing.T) *http.Request {
			req := re.order(t, `{}`, re.spaKey, "spa-1", nil)
			req.Header.Set("Signature-Input", "sig=(((")
			return req
		}, "malformed", "invalid-signature"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			re.up.Reset()
			resp, body := re.do(t, tt.req(t))
			if _, ok := re.up.Last(); ok {
				t.Error("the request reached the upstream")
			}
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `"type":"urn:portcullis:problem:`+tt.typ+`"`) {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			want := `sig=("@method" "@target-uri" "authorization" "content-digest");created`
			if r := resp.Request; r.Method == "GET" {
				want = `sig=("@method" "@target-uri" "authorization");created`
			}
			if got := resp.Header.Get("Accept-Signature"); got != want {
				t.Errorf("Accept-Signature = %s, want %s", got, want)
			}
			if got := resp.Header.Get("Www-Authenticate"); got != `Signature realm="warehouse"` {
				t.Errorf("WWW-Authenticate = %s", got)
			}
			if strings.Contains(body, "spa-1") || strings.Contains(body, "svc-1") || strings.Contains(body, "sig=") {
				t.Errorf("the body echoes the signature or key: %s", body)
			}
			lines := re.logLines(t, "request")
			if got := lines[len(lines)-1]["reason"]; got != "signature: "+tt.reason {
				t.Errorf("access log reason %q, want %q", got, "signature: "+tt.reason)
			}
		})
	}

	if got := gathered(t, re.env, "portcullis_gateway_request_signatures_total",
		`api="warehouse",operation="POST /orders",reason="",result="verified",version="v1"`); got != 3 {
		t.Errorf("verified = %v, want 3", got)
	}
	if got := gathered(t, re.env, "portcullis_gateway_request_signatures_total",
		`api="warehouse",operation="POST /orders",reason="unknown_key",result="refused",version="v1"`); got != 2 {
		t.Errorf("refused unknown_key = %v, want 2", got)
	}
}

func TestSignedRequestsWithoutBody(t *testing.T) {
	re := newReqSigEnv(t, nil)
	req, _ := http.NewRequest("GET", re.srv.URL+"/warehouse/items", nil)
	req.Header.Set("Authorization", "Bearer "+re.tokenFor(t, "spa", "list_items"))
	resp, _ := re.do(t, req)
	// No content, so no content-digest is asked for.
	if want := `sig=("@method" "@target-uri" "authorization");created`; resp.StatusCode != 401 || resp.Header.Get("Accept-Signature") != want {
		t.Errorf("status %d, Accept-Signature %s", resp.StatusCode, resp.Header.Get("Accept-Signature"))
	}
	// Turned off for one operation; public operations are never asked.
	for _, path := range []string{"/warehouse/items/7", "/warehouse/health"} {
		req, _ := http.NewRequest("GET", re.srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+re.tokenFor(t, "spa", "list_items"))
		if resp, body := re.do(t, req); resp.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d: %s", path, resp.StatusCode, body)
		}
	}
}

func TestSignedRequestsClientKeys(t *testing.T) {
	re := newReqSigEnv(t, nil)
	get := func(t *testing.T, client string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", re.srv.URL+"/warehouse/items", nil)
		req.Header.Set("Authorization", "Bearer "+re.tokenFor(t, client, "list_items"))
		if err := pubsig.SignRequest(req, re.spaKey, "spa-1", nil); err != nil {
			t.Fatal(err)
		}
		return re.do(t, req)
	}
	for _, client := range []string{"enc-only", "unregistered"} {
		if resp, body := get(t, client); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: status %d: %s", client, resp.StatusCode, body)
		}
	}

	// Fail closed when the keys cannot be read: 503, and nothing passes.
	re.up.Reset()
	re.clients.fail(errors.New("database is locked"))
	resp, body := get(t, "spa")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("status %d: %s", resp.StatusCode, body)
	}
	if _, ok := re.up.Last(); ok {
		t.Error("the request reached the upstream")
	}
	if lines := re.logLines(t, "request signatures: client keys unavailable"); len(lines) != 1 || lines[0]["client_id"] != "spa" {
		t.Errorf("log lines %v", lines)
	}
}

func TestSignedRequestsBodyLimit(t *testing.T) {
	re := newReqSigEnv(t, func(a *catalog.API) { a.MaxBodyBytes = 64 })
	big := `{"item":"` + strings.Repeat("x", 100) + `"}`
	req := re.order(t, big, re.spaKey, "spa-1", nil)
	if resp, body := re.do(t, req); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("declared length: status %d: %s", resp.StatusCode, body)
	}
	// Chunked: the read is cut at the limit.
	req, _ = http.NewRequest("POST", re.srv.URL+"/warehouse/orders", io.MultiReader(strings.NewReader(big)))
	req.Header.Set("Authorization", "Bearer "+re.tokenFor(t, "spa", "order_item"))
	if err := pubsig.SignRequest(req, re.spaKey, "spa-1", nil); err != nil {
		t.Fatal(err)
	}
	req.Body, req.ContentLength = io.NopCloser(io.MultiReader(strings.NewReader(big))), -1
	if resp, body := re.do(t, req); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked: status %d: %s", resp.StatusCode, body)
	}
}

func TestRequestSignaturesBuild(t *testing.T) {
	// No source of client keys: the gateway refuses to start.
	e := newEnv(t, nil)
	cfg := e.cfg
	cfg.APIs = append([]catalog.API(nil), cfg.APIs...)
	cfg.APIs[0].RequestSignatures = &catalog.RequestSignatures{}
	_, err := New(t.Context(), Options{Catalog: cfg, Getenv: e.getenv, SplitSource: e.is.SplitSource()})
	if err == nil || !strings.Contains(err.Error(), "request_signatures: signed requests are required") {
		t.Errorf("New without ClientKeys: %v", err)
	}

	// An operation without request signatures pays nothing.
	next := http.NotFoundHandler()
	for name, sc := range map[string]*stepConfig{
		"none":   {apiCfg: &catalog.API{}, op: &operation{}},
		"off":    {apiCfg: &catalog.API{RequestSignatures: &catalog.RequestSignatures{Mode: "off"}}, op: &operation{}},
		"public": {apiCfg: &catalog.API{RequestSignatures: &catalog.RequestSignatures{}}, op: &operation{public: true}},
	} {
		h, err := newRequestSignatures(sc, next)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := h.(http.HandlerFunc); !ok {
			t.Errorf("%s: the step is %T, want next itself", name, h)
		}
	}
}

func TestAcceptSignatures(t *testing.T) {
	comps := func(names ...string) []httpsig.Component {
		var cs []httpsig.Component
		for _, n := range names {
			c, err := httpsig.ParseComponent(n)
			if err != nil {
				t.Fatal(err)
			}
			cs = append(cs, c)
		}
		return cs
	}
	tests := []struct {
		label          string
		required       []httpsig.Component
		empty, content string
	}{
		{"", comps("@method", "content-digest", "@path"), `sig=("@method" "@path");created`, `sig=("@method" "content-digest" "@path");created`},
		{"client", comps("@authority", `@query-param;name="id"`), `client=("@authority" "@query-param";name="id");created`,
			`client=("@authority" "@query-param";name="id" "content-digest");created`},
		{"", nil, `sig=();created`, `sig=("content-digest");created`},
	}
	for _, tt := range tests {
		empty, content, err := acceptSignatures(tt.label, tt.required)
		if err != nil {
			t.Fatal(err)
		}
		if empty[0] != tt.empty || content[0] != tt.content {
			t.Errorf("acceptSignatures(%q, %v) = %s | %s, want %s | %s", tt.label, tt.required, empty[0], content[0], tt.empty, tt.content)
		}
	}
}
