package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/gateway/gatewaytest"
	"github.com/portcullis/portcullis/internal/logtest"
)

// env is a gateway in front of a recording upstream, trusting a fake
// issuer.
type env struct {
	is   *gatewaytest.Issuer
	up   *gatewaytest.Upstream
	gw   *Gateway
	cfg  catalog.Snapshot
	logs *syncBuffer
	reg  *prometheus.Registry
}

// syncBuffer is the log sink the code under test and the test share.
type syncBuffer = logtest.Buffer

const testSecretEnv = "PORTCULLIS_TEST_GATEWAY_SECRET"

// warehouseConfig is the warehouse API of DESIGN, plus the routes the
// tests need.
func warehouseConfig(is *gatewaytest.Issuer, up *gatewaytest.Upstream) catalog.Snapshot {
	return catalog.Snapshot{
		Issuers: []catalog.Issuer{{
			Issuer:          is.URL(),
			ClientID:        is.ClientID,
			ClientSecretEnv: testSecretEnv,
		}},
		APIs: []catalog.API{{
			Name:      "warehouse",
			BasePath:  "/warehouse",
			Upstream:  up.URL() + "/backend",
			Audiences: []string{"warehouse"},
			Operations: []catalog.Operation{
				{Method: "GET", Path: "/items", Scopes: []string{"list_items"}},
				{Method: "GET", Path: "/items/{id}", Scopes: []string{"list_items"}},
				{Method: "POST", Path: "/orders", Scopes: []string{"order_item"}},
				{Method: "GET", Path: "/orgs/{org}/items", Scopes: []string{"list_items"},
					Policy: `has(claims.org) && claims.org == request.params.org`},
				{Method: "GET", Path: "/health", Public: true},
				{Method: "GET", Path: "/files/{path...}", Scopes: []string{"list_items"}},
			},
			CORS: &catalog.CORS{
				AllowedOrigins:   []string{"https://app.example", "https://*.example.com"},
				AllowCredentials: true,
				ExposedHeaders:   []string{"X-Request-Id"},
			},
		}},
	}
}

func newEnv(t testing.TB, edit func(*catalog.Snapshot)) *env {
	t.Helper()
	return newEnvWith(t, edit, nil)
}

// newEnvWith is newEnv with the gateway's options edited too (a clock,
// a block list).
func newEnvWith(t testing.TB, edit func(*catalog.Snapshot), opts func(*Options)) *env {
	t.Helper()
	e := &env{
		is:   gatewaytest.NewIssuer(t),
		up:   gatewaytest.NewUpstream(t),
		logs: &syncBuffer{},
		reg:  prometheus.NewRegistry(),
	}
	e.cfg = warehouseConfig(e.is, e.up)
	if edit != nil {
		edit(&e.cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	o := Options{
		Catalog:     e.cfg,
		SplitSource: e.is.SplitSource(),
		Getenv:      e.getenv,
		Logger:      slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Metrics:     e.reg,
	}
	if opts != nil {
		opts(&o)
	}
	gw, err := New(ctx, o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.gw = gw
	return e
}

func (e *env) getenv(name string) string {
	if name == testSecretEnv {
		return e.is.ClientSecret
	}
	return ""
}

// token mints a token of kind for the warehouse audience.
func (e *env) token(t testing.TB, kind, scope string) string {
	t.Helper()
	c := gatewaytest.Claims{Subject: "alice", ClientID: "spa", Scope: scope, Audience: []string{"warehouse"},
		Extra: map[string]any{"org": "acme"}}
	switch kind {
	case "jwt":
		return e.is.JWT(t, c)
	case "opaque":
		return e.is.Opaque(t, c)
	case "split":
		return e.is.Split(t, c)
	}
	t.Fatalf("unknown token kind %q", kind)
	return ""
}

// request is a test request from 192.0.2.10, with a bearer token when
// tok is not empty.
func request(method, target, tok string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.RemoteAddr = "192.0.2.10:40000"
	if tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	return r
}

// serve runs r through the gateway.
func (e *env) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	e.gw.ServeHTTP(w, r)
	return w
}

// problemBody is an RFC 9457 body as the gateway writes it.
type problemBody struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	RequestID string `json:"request_id"`
}

func readProblem(t testing.TB, w *httptest.ResponseRecorder) problemBody {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json (body %q)", ct, w.Body.String())
	}
	var p problemBody
	dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("problem body %q: %v", w.Body.String(), err)
	}
	if p.Status != w.Code {
		t.Errorf("problem status = %d, response status %d", p.Status, w.Code)
	}
	if p.RequestID == "" || p.RequestID != w.Header().Get("X-Request-Id") {
		t.Errorf("problem request_id = %q, X-Request-Id %q", p.RequestID, w.Header().Get("X-Request-Id"))
	}
	return p
}

func readAll(t testing.TB, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// lines returns the JSON log lines whose msg is msg.
func (e *env) logLines(t testing.TB, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// httptestServe runs r through h.
func httptestServe(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}
