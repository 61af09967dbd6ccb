package gateway

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/gateway/gatewaytest"
	"github.com/portcullis/portcullis/internal/token"
)

// forwardedTyp returns the typ header of the JWT the upstream last
// received.
func forwardedTyp(t *testing.T, e *env) (jwt, typ string) {
	t.Helper()
	r, ok := e.up.Last()
	if !ok {
		t.Fatal("nothing reached the upstream")
	}
	jwt = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	sig, err := jose.ParseSignedCompact(jwt, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("forwarded token: %v", err)
	}
	typ, _ = sig.Signatures[0].Protected.ExtraHeaders[jose.HeaderType].(string)
	return jwt, typ
}

// TestPhantomTokensStayInside: the JWT the gateway forwards for an opaque
// or a split token is typed phantom+jwt, and a client presenting that
// very JWT is refused with invalid_token, even while the gateway's own
// caches hold it as verified; the opaque and split tokens themselves
// keep working.
func TestPhantomTokensStayInside(t *testing.T) {
	for _, kind := range []string{"opaque", "split"} {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, nil)
			tok := e.token(t, kind, "list_items")
			if w := e.serve(request("GET", "/warehouse/items", tok)); w.Code != http.StatusOK {
				t.Fatalf("%s token: status = %d, want 200; body %s", kind, w.Code, w.Body)
			}
			fwd, typ := forwardedTyp(t, e)
			if typ != token.TypePhantomJWT {
				t.Errorf("forwarded typ = %q, want %q", typ, token.TypePhantomJWT)
			}
			inside := e.is.Phantom(tok)
			if kind == "split" {
				inside = e.is.SplitJWT(tok)
			}
			if inside != fwd {
				t.Fatalf("the forwarded JWT is not the issuer's phantom token")
			}
			e.up.Reset()
			w := e.serve(request("GET", "/warehouse/items", fwd))
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("phantom JWT from a client: status = %d, want 401", w.Code)
			}
			if h := w.Header().Get("Www-Authenticate"); h != `Bearer realm="warehouse", error="invalid_token"` {
				t.Errorf("WWW-Authenticate = %q, want invalid_token", h)
			}
			if _, ok := e.up.Last(); ok {
				t.Error("a phantom JWT presented by a client reached the upstream")
			}
			if !strings.Contains(e.logs.String(), `"reason":"wrong type"`) {
				t.Error(`the access log does not say "wrong type" for the refused phantom JWT`)
			}
			// The token the client holds still works.
			if w := e.serve(request("GET", "/warehouse/items", tok)); w.Code != http.StatusOK {
				t.Errorf("%s token after the refusal: status = %d, want 200", kind, w.Code)
			}
		})
	}
}

// TestPhantomTokensTypedAsAccessTokens: an authorization server whose
// phantom tokens are typed at+jwt (and split tokens minted before
// phantom+jwt) still resolve: what the resolvers accept comes from the
// introspection endpoint or the token store, never from the client.
func TestPhantomTokensTypedAsAccessTokens(t *testing.T) {
	e := newEnv(t, nil)
	e.is.PhantomType = token.TypeAccessJWT
	for _, kind := range []string{"opaque", "split"} {
		if w := e.serve(request("GET", "/warehouse/items", e.token(t, kind, "list_items"))); w.Code != http.StatusOK {
			t.Errorf("%s token with an at+jwt phantom: status = %d, want 200; body %s", kind, w.Code, w.Body)
		}
	}
	// Anything else is not an access token, from wherever it comes.
	e.is.PhantomType = "JWT"
	for _, kind := range []string{"opaque", "split"} {
		if w := e.serve(request("GET", "/warehouse/items", e.token(t, kind, "list_items"))); w.Code != http.StatusUnauthorized {
			t.Errorf("%s token with a JWT-typed phantom: status = %d, want 401", kind, w.Code)
		}
	}
}

// TestAudienceOfAnotherAPI: a token issued for one API is refused by
// another of the same issuer with invalid_token and a description
// naming the audience, whatever kind of token carries it.
func TestAudienceOfAnotherAPI(t *testing.T) {
	e := newEnv(t, func(s *catalog.Snapshot) {
		s.APIs = append(s.APIs, catalog.API{
			Name: "billing", BasePath: "/billing", Upstream: s.APIs[0].Upstream,
			Audiences:  []string{"billing"},
			Operations: []catalog.Operation{{Method: "GET", Path: "/invoices", Scopes: []string{"list_items"}}},
		})
	})
	const want = `Bearer realm="billing", error="invalid_token", ` +
		`error_description="the token is not meant for this API: its audience (aud) is none of those the API accepts"`
	for _, kind := range []string{"jwt", "opaque", "split"} {
		t.Run(kind, func(t *testing.T) {
			tok := e.token(t, kind, "list_items") // for the warehouse API
			if w := e.serve(request("GET", "/warehouse/items", tok)); w.Code != http.StatusOK {
				t.Fatalf("at its own API: status = %d, want 200", w.Code)
			}
			e.up.Reset()
			w := e.serve(request("GET", "/billing/invoices", tok))
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("at another API: status = %d, want 401", w.Code)
			}
			if got := w.Header().Values("Www-Authenticate"); len(got) != 1 || got[0] != want {
				t.Errorf("WWW-Authenticate = %q, want %q", got, want)
			}
			if p := readProblem(t, w); p.Type != "urn:portcullis:problem:invalid-token" {
				t.Errorf("problem type = %q", p.Type)
			}
			if _, ok := e.up.Last(); ok {
				t.Error("a token for another API reached the upstream")
			}
		})
	}
}

// TestAnyAudience: an API that opts out of the audience check takes any
// token of its issuer, and the gateway warns about it when it loads.
func TestAnyAudience(t *testing.T) {
	e := newEnv(t, func(s *catalog.Snapshot) {
		s.APIs[0].Audiences, s.APIs[0].AnyAudience = nil, true
	})
	tok := e.is.JWT(t, gatewaytest.Claims{Subject: "alice", Scope: "list_items", Audience: []string{"billing"}})
	if w := e.serve(request("GET", "/warehouse/items", tok)); w.Code != http.StatusOK {
		t.Errorf("token for another audience with any_audience: status = %d, want 200", w.Code)
	}
	if logs := e.logs.String(); !strings.Contains(logs, `"level":"WARN"`) ||
		!strings.Contains(logs, "any_audience") || !strings.Contains(logs, `"api":"warehouse"`) {
		t.Errorf("no warning about any_audience in the logs:\n%s", logs)
	}
}

// TestOpaqueFormat: by default only tokens shaped like Portcullis's are
// introspected; with opaque_format: any, a third-party authorization
// server's own format is, as long as it is a bounded RFC 6750 b64token.
func TestOpaqueFormat(t *testing.T) {
	claims := gatewaytest.Claims{Subject: "alice", Scope: "list_items", Audience: []string{"warehouse"}}
	const (
		foreign = "2YotnFZFEjr1zCsicMWpAA"          // RFC 6749 §4.1.4's example
		dotted  = "v2.local.QAxIpVe-ECVNI1z4xQbm_w" // a format of dots, shaped like a JWT
	)
	tests := []struct {
		name   string
		format string
		tokens []string // API's accepted kinds; nil means all
		raw    string
		status int
		calls  int64
	}{
		{"foreign, default format", "", nil, foreign, 401, 0},
		{"foreign, portcullis", catalog.OpaqueFormatPortcullis, nil, foreign, 401, 0},
		{"foreign, any", catalog.OpaqueFormatAny, nil, foreign, 200, 1},
		{"foreign, any, opaque only", catalog.OpaqueFormatAny, []string{"opaque"}, foreign, 200, 1},
		{"dotted, any, opaque only", catalog.OpaqueFormatAny, []string{"opaque"}, dotted, 200, 1},
		{"dotted, any, jwt accepted", catalog.OpaqueFormatAny, []string{"jwt", "opaque"}, dotted, 401, 0},
		{"unknown foreign, any", catalog.OpaqueFormatAny, nil, "unknown-token", 401, 1},
		{"not a b64token, any", catalog.OpaqueFormatAny, nil, "a=b", 401, 0},
		{"past the bound, any", catalog.OpaqueFormatAny, nil, strings.Repeat("a", token.MaxForeignOpaque+1), 401, 0},
		{"ours, any", catalog.OpaqueFormatAny, nil, "ours", 200, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(s *catalog.Snapshot) {
				s.Issuers[0].OpaqueFormat = tc.format
				s.APIs[0].Tokens = tc.tokens
			})
			raw := tc.raw
			if raw == "ours" {
				raw = e.token(t, "opaque", "list_items")
			}
			e.is.OpaqueAs(t, foreign, claims)
			e.is.OpaqueAs(t, dotted, claims)
			w := e.serve(request("GET", "/warehouse/items", raw))
			if w.Code != tc.status {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tc.status, w.Body)
			}
			if got := e.is.Introspections(); got != tc.calls {
				t.Errorf("introspections = %d, want %d", got, tc.calls)
			}
		})
	}
}

// TestOpaqueFormatAnyCapped: accepting a foreign format widens what may
// be introspected, not how much: distinct junk tokens of that format
// still meet the cap of introspections in flight and get 503 past it.
func TestOpaqueFormatAnyCapped(t *testing.T) {
	const (
		flood = 200
		limit = 2
	)
	e := newEnv(t, func(s *catalog.Snapshot) {
		s.Issuers[0].OpaqueFormat = catalog.OpaqueFormatAny
		s.Issuers[0].MaxIntrospections = limit
	})
	gate := make(chan struct{})
	e.is.HoldIntrospections(gate)
	var (
		wg                 sync.WaitGroup
		done, busy, others atomic.Int64
	)
	for i := range flood {
		wg.Go(func() {
			w := e.serve(request("GET", "/warehouse/items", "foreign~junk~"+strings.Repeat("x", i)))
			switch w.Code {
			case http.StatusServiceUnavailable:
				busy.Add(1)
			case http.StatusUnauthorized:
			default:
				others.Add(1)
			}
			done.Add(1)
		})
	}
	for done.Load()+e.is.IntrospectionsInFlight() < flood {
		time.Sleep(time.Millisecond)
	}
	if got := e.is.MaxIntrospectionsInFlight(); got > limit {
		t.Errorf("concurrent introspections = %d, want at most %d", got, limit)
	}
	close(gate)
	wg.Wait()
	if got := e.is.Introspections(); got > limit {
		t.Errorf("introspections = %d, want at most %d", got, limit)
	}
	if got, want := busy.Load(), flood-e.is.Introspections(); got != want {
		t.Errorf("503 answers = %d, want %d", got, want)
	}
	if others.Load() != 0 {
		t.Errorf("%d answers were neither 401 nor 503", others.Load())
	}
}
