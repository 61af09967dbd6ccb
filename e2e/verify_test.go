package e2e

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/token"
	"github.com/portcullis/portcullis/pkg/verify"
)

// TestVerifyPackageWithRealIssuer: pkg/verify, the package backends use,
// verifies what the real gateway forwards for every kind of token a
// client may hold, with keys found through the real authorization
// server's discovery document, and its middleware admits the request as
// a backend would. The package shares no code with the server: this is
// the check that the two agree on the wire.
func TestVerifyPackageWithRealIssuer(t *testing.T) {
	g := startGateway(t)
	v, err := verify.New(verify.Config{Issuer: g.issuer, Audience: apiAudience, Now: g.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	backend, err := verify.NewMiddleware(v, verify.MiddlewareConfig{Scopes: []string{"list_items"}},
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, _ := verify.FromContext(r.Context())
			_, _ = io.WriteString(w, c.ClientID)
		}))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{store.FormatJWT, store.FormatOpaque, store.FormatSplit} {
		t.Run(f, func(t *testing.T) {
			tok := g.serviceToken(t, f, "list_items")
			if resp := g.call(t, "GET", "/warehouse/items", tok, nil); resp.StatusCode != http.StatusOK {
				t.Fatalf("through the gateway: status %d", resp.StatusCode)
			}
			r, _ := g.up.lastRequest()
			fwd := r.Header.Get("Authorization")
			c, err := v.Verify(t.Context(), strings.TrimPrefix(fwd, "Bearer "))
			if err != nil {
				t.Fatalf("Verify of the forwarded token: %v", err)
			}
			wantType := verify.TypePhantomToken
			if f == store.FormatJWT {
				wantType = verify.TypeAccessToken
			}
			if c.Type != wantType || c.ClientID != "service-"+f || c.Issuer != g.issuer || !c.HasScope("list_items") || c.ExpiresAt.IsZero() {
				t.Errorf("claims: typ %q client_id %q iss %q scopes %q exp %v", c.Type, c.ClientID, c.Issuer, c.Scopes, c.ExpiresAt)
			}
			req := httptest.NewRequest(http.MethodGet, "/items", nil)
			req.Header.Set("Authorization", fwd)
			w := httptest.NewRecorder()
			backend.ServeHTTP(w, req)
			if w.Code != http.StatusOK || w.Body.String() != "service-"+f {
				t.Errorf("middleware: %d %q, want 200 service-%s", w.Code, w.Body.String(), f)
			}
		})
	}
	t.Run("phantom token from introspection", func(t *testing.T) {
		tok := g.serviceToken(t, store.FormatOpaque, "list_items")
		st, m := g.introspect(g.secrets, tok, "application/jwt")
		phantom, _ := m["_raw"].(string)
		if st != http.StatusOK || !token.LooksLikeJWT(phantom) {
			t.Fatalf("introspection with Accept: application/jwt = %d %v", st, m)
		}
		c, err := v.Verify(t.Context(), phantom)
		if err != nil || c.Type != verify.TypePhantomToken || c.ClientID != "service-opaque" {
			t.Fatalf("Verify of the phantom token: %v %+v", err, c)
		}
		// The opaque token the client holds is no JWT for a backend.
		if _, err := v.Verify(t.Context(), tok); !errors.Is(err, verify.ErrMalformed) {
			t.Errorf("Verify of the opaque token: %v, want ErrMalformed", err)
		}
	})
	t.Run("another audience", func(t *testing.T) {
		other, err := verify.New(verify.Config{Issuer: g.issuer, Audience: "urn:portcullis:api:other", Now: g.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := other.Verify(t.Context(), g.serviceToken(t, store.FormatJWT, "list_items")); !errors.Is(err, verify.ErrAudience) {
			t.Errorf("Verify for another audience: %v, want ErrAudience", err)
		}
	})
}
