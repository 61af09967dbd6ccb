package gateway

import (
	"net/http"
	"testing"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/gateway/gatewaytest"
)

// newRewriteEnv is the warehouse env whose item and file reads are
// rewritten to an upstream of another shape.
func newRewriteEnv(t *testing.T) *env {
	t.Helper()
	return newEnv(t, func(s *catalog.Snapshot) {
		for i := range s.APIs[0].Operations {
			op := &s.APIs[0].Operations[i]
			switch op.Path {
			case "/items/{id}":
				op.Rewrite = &catalog.Rewrite{
					Path:            "/v2/things/{id}",
					RequestHeaders:  catalog.HeaderEdits{Remove: []string{"Cookie"}, Rename: map[string]string{"X-Old": "X-New"}, Set: map[string]string{"X-Api": "v2"}},
					Query:           catalog.HeaderEdits{Remove: []string{"debug"}, Rename: map[string]string{"q": "search"}, Set: map[string]string{"v": "2"}},
					ResponseHeaders: catalog.HeaderEdits{Remove: []string{"X-Backend"}, Set: map[string]string{"X-Api-Version": "2"}},
					ClaimHeaders:    map[string]string{"X-Org": "org", "X-Subject": "sub"},
				}
			case "/files/{path...}":
				op.Rewrite = &catalog.Rewrite{Path: "/blobs/{path...}"}
			}
		}
	})
}

func TestRewrite(t *testing.T) {
	e := newRewriteEnv(t)
	e.up.SetHandler(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", "node-7")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	})
	tok := e.token(t, "jwt", "list_items")

	t.Run("path, headers, query and response", func(t *testing.T) {
		r := request("GET", "/warehouse/items/a%20b?q=bolts&debug=1&v=9", tok)
		r.Header.Set("Cookie", "session=x")
		r.Header.Set("X-Old", "moved")
		r.Header.Set("X-Org", "evil") // the client's value never goes upstream
		w := e.serve(r)
		if w.Code != http.StatusOK {
			t.Fatalf("status = %d (body %s)", w.Code, w.Body)
		}
		got, _ := e.up.Last()
		if got.Path != "/backend/v2/things/a b" || (got.RawPath != "" && got.RawPath != "/backend/v2/things/a%20b") {
			t.Errorf("upstream path = %q (raw %q), want /backend/v2/things/a b", got.Path, got.RawPath)
		}
		if got.Query != "search=bolts&v=2" {
			t.Errorf("upstream query = %q, want search=bolts&v=2", got.Query)
		}
		for h, want := range map[string]string{"Cookie": "", "X-Old": "", "X-New": "moved", "X-Api": "v2", "X-Org": "acme", "X-Subject": "alice"} {
			if v := got.Header.Get(h); v != want {
				t.Errorf("upstream %s = %q, want %q", h, v, want)
			}
		}
		for h, want := range map[string]string{"X-Backend": "", "X-Api-Version": "2"} {
			if v := w.Header().Get(h); v != want {
				t.Errorf("response %s = %q, want %q", h, v, want)
			}
		}
	})

	t.Run("a parameter never adds a segment", func(t *testing.T) {
		w := e.serve(request("GET", "/warehouse/items/..%3Fx", tok))
		if w.Code != http.StatusOK {
			t.Fatalf("status = %d (body %s)", w.Code, w.Body)
		}
		got, _ := e.up.Last()
		if got.Path != "/backend/v2/things/..?x" || got.Query != "v=2" {
			t.Errorf("upstream path = %q query %q, want the value as one segment", got.Path, got.Query)
		}
	})

	t.Run("absent claim, absent header", func(t *testing.T) {
		tok := e.is.JWT(t, gatewaytest.Claims{Subject: "bob", ClientID: "spa", Scope: "list_items", Audience: []string{"warehouse"}})
		r := request("GET", "/warehouse/items/1", tok)
		r.Header.Set("X-Org", "acme")
		if w := e.serve(r); w.Code != http.StatusOK {
			t.Fatalf("status = %d (body %s)", w.Code, w.Body)
		}
		got, _ := e.up.Last()
		if v, ok := got.Header["X-Org"]; ok {
			t.Errorf("upstream X-Org = %q from a token without the claim", v)
		}
	})

	t.Run("rest parameter", func(t *testing.T) {
		if w := e.serve(request("GET", "/warehouse/files/docs/a.txt", tok)); w.Code != http.StatusOK {
			t.Fatalf("status = %d (body %s)", w.Code, w.Body)
		}
		got, _ := e.up.Last()
		if got.Path != "/backend/blobs/docs/a.txt" {
			t.Errorf("upstream path = %q, want /backend/blobs/docs/a.txt", got.Path)
		}
	})

	t.Run("operations without a rewrite are untouched", func(t *testing.T) {
		r := request("GET", "/warehouse/items?q=x", tok)
		r.Header.Set("X-Old", "kept")
		if w := e.serve(r); w.Code != http.StatusOK || w.Header().Get("X-Backend") != "node-7" {
			t.Fatalf("status = %d, X-Backend = %q", w.Code, w.Header().Get("X-Backend"))
		}
		got, _ := e.up.Last()
		if got.Path != "/backend/items" || got.Query != "q=x" || got.Header.Get("X-Old") != "kept" {
			t.Errorf("upstream got %q ?%q X-Old=%q", got.Path, got.Query, got.Header.Get("X-Old"))
		}
	})

}
