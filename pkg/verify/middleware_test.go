package verify

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fxEcho answers 200 with the verified subject.
var fxEcho = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	c, ok := FromContext(r.Context())
	if !ok {
		http.Error(w, "no claims", http.StatusInternalServerError)
		return
	}
	_, _ = io.WriteString(w, "hello "+c.Subject)
})

func fxServe(t *testing.T, h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestMiddleware(t *testing.T) {
	f := newFxIssuer(t)
	v := f.verifier(nil)
	var logged []error
	h, err := NewMiddleware(v, MiddlewareConfig{
		Realm: "warehouse", Scopes: []string{"list_items"},
		OnError: func(_ *http.Request, err error) { logged = append(logged, err) },
	}, fxEcho)
	if err != nil {
		t.Fatal(err)
	}
	valid := f.mint(nil)
	expired := f.mint(func(c map[string]any) { c["exp"] = f.clock.Now().Unix() - 3600 })
	noScope := f.mint(func(c map[string]any) { c["scope"] = "order_item" })
	tests := []struct {
		name       string
		auth       []string
		wantStatus int
		wantBody   string
		wantWWW    string // the WWW-Authenticate header; "" means absent
	}{
		{"valid", []string{"Bearer " + valid}, 200, "hello alice", ""},
		{"scheme case-insensitive, several spaces", []string{"bearer   " + valid}, 200, "hello alice", ""},
		{"no header", nil, 401, `"error_description":"an access token is required"`, `Bearer realm="warehouse"`},
		{"another scheme", []string{"Basic dXNlcjpwYXNz"}, 401, "", `Bearer realm="warehouse"`},
		{"DPoP scheme while DPoP is off", []string{"DPoP " + valid}, 401, "", `Bearer realm="warehouse"`},
		{"two headers", []string{"Bearer " + valid, "Bearer " + valid}, 400, `"error":"invalid_request"`,
			`Bearer realm="warehouse", error="invalid_request", error_description="the authorization header must appear once and hold one token"`},
		{"scheme only", []string{"Bearer"}, 400, "", `Bearer realm="warehouse", error="invalid_request", error_description="the authorization header must appear once and hold one token"`},
		{"not a token68", []string{"Bearer a b"}, 400, "", `Bearer realm="warehouse", error="invalid_request", error_description="the authorization header must appear once and hold one token"`},
		{"expired", []string{"Bearer " + expired}, 401, `"error":"invalid_token"`,
			`Bearer realm="warehouse", error="invalid_token", error_description="the access token expired"`},
		{"garbage", []string{"Bearer abc.def.ghi"}, 401, "",
			`Bearer realm="warehouse", error="invalid_token", error_description="the access token is invalid"`},
		{"missing scope", []string{"Bearer " + noScope}, 403, `"error":"insufficient_scope"`,
			`Bearer realm="warehouse", error="insufficient_scope", error_description="the access token lacks a required scope", scope="list_items"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logged = nil
			r := httptest.NewRequest(http.MethodGet, "/items", nil)
			for _, a := range tc.auth {
				r.Header.Add("Authorization", a)
			}
			w := fxServe(t, h, r)
			if w.Code != tc.wantStatus {
				t.Errorf("status = %d, want %d", w.Code, tc.wantStatus)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tc.wantWWW {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tc.wantWWW)
			}
			body := w.Body.String()
			if !strings.Contains(body, tc.wantBody) {
				t.Errorf("body = %q, want it to contain %q", body, tc.wantBody)
			}
			if tc.wantStatus != 200 {
				if got := w.Header().Get("Cache-Control"); got != "no-store" {
					t.Errorf("Cache-Control = %q, want no-store", got)
				}
				if len(logged) != 1 {
					t.Errorf("OnError called %d times, want once", len(logged))
				}
			}
			// No part of the token is echoed back or logged.
			for _, a := range tc.auth {
				for _, p := range strings.Split(strings.TrimPrefix(a, "Bearer "), ".") {
					if len(p) < 8 {
						continue
					}
					if strings.Contains(body, p) || strings.Contains(w.Header().Get("WWW-Authenticate"), p) {
						t.Error("the response quotes the token")
					}
					for _, err := range logged {
						if strings.Contains(err.Error(), p) {
							t.Errorf("OnError got an error quoting the token: %v", err)
						}
					}
				}
			}
		})
	}
}

func TestMiddlewareKeysUnavailable(t *testing.T) {
	f := newFxIssuer(t)
	f.set(func(f *fxIssuer) { f.jwksStatus = http.StatusBadGateway })
	h, err := NewMiddleware(f.verifier(nil), MiddlewareConfig{}, fxEcho)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/items", nil)
	r.Header.Set("Authorization", "Bearer "+f.mint(nil))
	w := fxServe(t, h, r)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "10" || w.Header().Get("WWW-Authenticate") != "" {
		t.Errorf("got %d, Retry-After %q, WWW-Authenticate %q; want 503, 10, none", w.Code, w.Header().Get("Retry-After"), w.Header().Get("WWW-Authenticate"))
	}
}

func TestNewMiddlewareRefusesBadConfig(t *testing.T) {
	f := newFxIssuer(t)
	v := f.verifier(nil)
	tests := []struct {
		name string
		v    *Verifier
		cfg  MiddlewareConfig
		next http.Handler
	}{
		{"no verifier", nil, MiddlewareConfig{}, fxEcho},
		{"no next", v, MiddlewareConfig{}, nil},
		{"bad scope", v, MiddlewareConfig{Scopes: []string{"a b"}}, fxEcho},
		{"empty scope", v, MiddlewareConfig{Scopes: []string{""}}, fxEcho},
		{"quote in realm", v, MiddlewareConfig{Realm: `a"b`}, fxEcho},
		{"DPoP HS256", v, MiddlewareConfig{DPoP: &ProofOfPossession{Algorithms: []string{"HS256"}}}, fxEcho},
		{"DPoP negative max age", v, MiddlewareConfig{DPoP: &ProofOfPossession{MaxAge: -1}}, fxEcho},
	}
	for _, tc := range tests {
		if _, err := NewMiddleware(tc.v, tc.cfg, tc.next); err == nil {
			t.Errorf("%s: NewMiddleware succeeded", tc.name)
		}
	}
}

func TestRequireScopes(t *testing.T) {
	f := newFxIssuer(t)
	h, err := NewMiddleware(f.verifier(nil), MiddlewareConfig{Realm: "api"}, http.NewServeMux())
	if err != nil {
		t.Fatal(err)
	}
	mux := h.(*middleware).next.(*http.ServeMux)
	mux.Handle("GET /items", RequireScopes(fxEcho, "list_items"))
	mux.Handle("POST /orders", RequireScopes(fxEcho, "order_item", "admin"))
	tok := f.mint(func(c map[string]any) { c["scope"] = "list_items order_item" })
	tests := []struct {
		method, path string
		wantStatus   int
		wantWWW      string
	}{
		{"GET", "/items", 200, ""},
		{"POST", "/orders", 403, `Bearer realm="api", error="insufficient_scope", error_description="the access token lacks a required scope", scope="order_item admin"`},
	}
	for _, tc := range tests {
		r := httptest.NewRequest(tc.method, tc.path, nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		w := fxServe(t, h, r)
		if w.Code != tc.wantStatus || w.Header().Get("WWW-Authenticate") != tc.wantWWW {
			t.Errorf("%s %s: %d %q; want %d %q", tc.method, tc.path, w.Code, w.Header().Get("WWW-Authenticate"), tc.wantStatus, tc.wantWWW)
		}
	}
	t.Run("without the middleware", func(t *testing.T) {
		w := fxServe(t, RequireScopes(fxEcho, "list_items"), httptest.NewRequest("GET", "/items", nil))
		if w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") != "Bearer" {
			t.Errorf("got %d %q, want 401 Bearer: fail closed", w.Code, w.Header().Get("WWW-Authenticate"))
		}
	})
	t.Run("with NewContext", func(t *testing.T) {
		r := httptest.NewRequest("GET", "/items", nil)
		r = r.WithContext(NewContext(r.Context(), &Claims{Subject: "bob", Scopes: []string{"list_items"}}))
		if w := fxServe(t, RequireScopes(fxEcho, "list_items"), r); w.Code != 200 || w.Body.String() != "hello bob" {
			t.Errorf("got %d %q", w.Code, w.Body.String())
		}
		if w := fxServe(t, RequireScopes(fxEcho, "admin"), r); w.Code != 403 {
			t.Errorf("got %d, want 403", w.Code)
		}
	})
	t.Run("bad scope panics", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Error("RequireScopes with an invalid scope did not panic")
			}
		}()
		RequireScopes(fxEcho, `a"b`)
	})
}

func TestFromContextWithoutClaims(t *testing.T) {
	if c, ok := FromContext(t.Context()); ok || c != nil {
		t.Errorf("FromContext of a bare context = %v, %v", c, ok)
	}
	if _, ok := FromContext(NewContext(t.Context(), nil)); ok {
		t.Error("FromContext of nil claims: ok")
	}
}

func TestCertificateBinding(t *testing.T) {
	f := newFxIssuer(t)
	cert, other := fxCert(t), fxCert(t)
	bound := f.mint(func(c map[string]any) { c["cnf"] = map[string]any{"x5t#S256": CertificateThumbprint(cert)} })
	unbound := f.mint(nil)
	tests := []struct {
		name    string
		binding bool
		tok     string
		tls     *tls.ConnectionState
		want    int
	}{
		{"matching certificate", true, bound, &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}, 200},
		{"another certificate", true, bound, &tls.ConnectionState{PeerCertificates: []*x509.Certificate{other}}, 401},
		{"TLS without a client certificate", true, bound, &tls.ConnectionState{}, 401},
		{"no TLS", true, bound, nil, 401},
		{"unbound token, no TLS", true, unbound, nil, 200},
		{"binding not checked", false, bound, nil, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := NewMiddleware(f.verifier(nil), MiddlewareConfig{CertificateBinding: tc.binding}, fxEcho)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest("GET", "/items", nil)
			r.TLS = tc.tls
			r.Header.Set("Authorization", "Bearer "+tc.tok)
			w := fxServe(t, h, r)
			if w.Code != tc.want {
				t.Fatalf("status = %d, want %d", w.Code, tc.want)
			}
			if tc.want == 401 && !strings.Contains(w.Header().Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Errorf("WWW-Authenticate = %q, want invalid_token (RFC 8705 §3)", w.Header().Get("WWW-Authenticate"))
			}
		})
	}
	var c Confirmation
	if c.MatchesCertificate(cert) || (Confirmation{CertificateThumbprint: "x"}).MatchesCertificate(nil) {
		t.Error("MatchesCertificate matched without a thumbprint or a certificate")
	}
	if err := (&bindingError{description: "d"}); !errors.Is(err, ErrBinding) || err.Error() != "verify: sender constraint not met: d" {
		t.Errorf("bindingError: %v", err)
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{ErrExpired, "the access token expired"},
		{ErrNotYetValid, "the access token is not valid yet"},
		{ErrTooLarge, "the access token is too large"},
		{ErrAudience, "the access token is not meant for this resource"},
		{ErrIssuer, "the access token is from another issuer"},
		{ErrType, "the token is not an access token"},
		{ErrSignature, "the access token is invalid"},
		{ErrUnknownKey, "the access token is invalid"},
		{&bindingError{description: "bound elsewhere"}, "bound elsewhere"},
	}
	for _, tc := range tests {
		if got := describe(tc.err); got != tc.want {
			t.Errorf("describe(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestRequestURLOf(t *testing.T) {
	r := httptest.NewRequest("GET", "https://api.example/items/a%2Fb?x=1", nil)
	if got, want := requestURLOf(r), "https://api.example/items/a%2Fb"; got != want {
		t.Errorf("requestURLOf over TLS = %q, want %q", got, want)
	}
	r = httptest.NewRequest("GET", "/items", nil)
	if got, want := requestURLOf(r), "http://example.com/items"; got != want {
		t.Errorf("requestURLOf = %q, want %q", got, want)
	}
}

// TestDPoPErrorNeverBreaksTheChallenge: a proof error whose text could
// not stand in a quoted-string is replaced, not sent as it is.
func TestDPoPErrorNeverBreaksTheChallenge(t *testing.T) {
	f := newFxIssuer(t)
	h, err := NewMiddleware(f.verifier(nil), MiddlewareConfig{DPoP: &ProofOfPossession{}}, fxEcho)
	if err != nil {
		t.Fatal(err)
	}
	got := h.(*middleware).refusalFor(schemeDPoP, &DPoPError{Code: "invalid_dpop_proof", Description: "bad \"quote\""})
	if got.code != DPoPCodeInvalidProof || got.description != "the DPoP proof is invalid" {
		t.Errorf("refusal = %q %q", got.code, got.description)
	}
}
