package gateway

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/catalog"
)

// openAPIExtEnv is the warehouse API, its limits included, plus the
// clinic operations of testdata/openapi_ext.yaml, configured by their
// x-portcullis-* extensions; the upstream answers every call with the
// clinic's patients.
func openAPIExtEnv(t *testing.T) *limitEnv {
	t.Helper()
	le := newLimitEnv(t, func(s *catalog.Snapshot) {
		warehouseLimits(s)
		s.APIs[0].OpenAPI = "openapi_ext.yaml"
	}, func(o *Options) { o.BaseDir = "testdata" })
	le.up.SetHandler(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(clinicPatients))
	})
	return le
}

// TestOpenAPIExtensionsThroughGateway: what an OpenAPI document's
// extensions say is applied to real calls, as if the operation were
// declared: field rules on the answer, a limit of its own, a policy from
// its path item, validation modes over the document's own contract.
func TestOpenAPIExtensionsThroughGateway(t *testing.T) {
	le := openAPIExtEnv(t)
	reader := caller{sub: "dr-lee", clientID: "spa", office: "head", scope: "patients:read"}

	t.Run("response field rules", func(t *testing.T) {
		w := le.serve(request("GET", "/warehouse/patients", le.tokenFor(t, reader)))
		if w.Code != http.StatusOK || strings.Contains(w.Body.String(), "ssn") || !strings.Contains(w.Body.String(), "dr-kim") {
			t.Errorf("GET /patients = %d %s; want both patients without ssn", w.Code, w.Body)
		}
		ssn := reader
		ssn.sub, ssn.scope = "dr-kim", "patients:read ssn:read"
		w = le.serve(request("GET", "/warehouse/patients", le.tokenFor(t, ssn)))
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "111-11-1111") {
			t.Errorf("GET /patients with ssn:read = %d %s; want the ssn kept", w.Code, w.Body)
		}
	})

	t.Run("limits", func(t *testing.T) {
		tok := le.tokenFor(t, reader) // one call made above
		le.clock.Advance(time.Second)
		w := le.serve(request("GET", "/warehouse/patients", tok))
		if w.Code != http.StatusOK || headersOf(w).Policy != `"patient-reads";q=2;w=3600` {
			t.Fatalf("second call: %d, RateLimit-Policy %q; want 200 under patient-reads", w.Code, headersOf(w).Policy)
		}
		calls := len(le.up.Requests())
		w = le.serve(request("GET", "/warehouse/patients", tok))
		if w.Code != http.StatusTooManyRequests {
			t.Fatalf("third call: status %d, want 429", w.Code)
		}
		if n := len(le.up.Requests()); n != calls {
			t.Errorf("the refused call reached the upstream")
		}
		if got := gathered(t, le.env, "portcullis_gateway_ratelimit_rejections_total", `limit="patient-reads"`); got != 1 {
			t.Errorf("rejections{patient-reads} = %v, want 1", got)
		}
		// The declared operations keep their own limits.
		items := reader
		items.scope = "list_items"
		if w := le.serve(request("GET", "/warehouse/items", le.tokenFor(t, items))); w.Code != http.StatusOK || headersOf(w).Policy != "" {
			t.Errorf("GET /items = %d with RateLimit-Policy %q, want 200 and none", w.Code, headersOf(w).Policy)
		}
	})

	writer := caller{sub: "alice", clientID: "spa", office: "head", scope: "patients:write"}
	tests := []struct {
		name, method string
		who          caller
		body         string
		want         int
	}{
		{"document's schema enforced", "POST", writer, `{"text": 7}`, http.StatusBadRequest},
		{"document's schema passed", "POST", writer, `{"text": "ok"}`, http.StatusOK},
		{"path item's policy", "POST", caller{sub: "bob", clientID: "spa", office: "regional", scope: "patients:write"}, `{"text": "ok"}`, http.StatusForbidden},
		// Reported, not refused; the answer, which breaks the document's
		// response schema, is refused.
		{"request report, response enforce", "PUT", writer, `{"text": 7}`, http.StatusBadGateway},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "/warehouse/notes", strings.NewReader(tc.body))
			r.RemoteAddr = "192.0.2.10:40000"
			r.Header.Set("Authorization", "Bearer "+le.tokenFor(t, tc.who))
			r.Header.Set("Content-Type", "application/json")
			if w := le.serve(r); w.Code != tc.want {
				t.Errorf("%s /notes %s: status %d, want %d (body %s)", tc.method, tc.body, w.Code, tc.want, w.Body)
			}
		})
	}
}

// TestOpenAPIExtensionsRefused: a document whose extensions the catalog
// refuses stops the build, naming the document, where in it, and the
// line.
func TestOpenAPIExtensionsRefused(t *testing.T) {
	tests := []struct {
		name, paths string
		want        []string
	}{
		{"limit name taken by a declared limit",
			"  /a:\n    get:\n      x-portcullis-limits: [{name: regional-orders, rate: 1/s, key: [sub]}]\n",
			[]string{`ext.yaml: openapi: paths./a.get.x-portcullis-limits[0].name: "regional-orders" is also the name of apis[0].operations[2].limits[0]`, "(line 6)"}},
		{"unknown extension",
			"  /a:\n    get:\n      x-portcullis-ratelimit: []\n",
			[]string{"ext.yaml: openapi: paths./a.get.x-portcullis-ratelimit: unknown extension", "(line 6)"}},
		{"scopes",
			"  /a:\n    get:\n      x-portcullis-scopes: [admin]\n",
			[]string{"paths./a.get.x-portcullis-scopes: not an extension: scopes come from the operation's security requirement"}},
		{"field rule that does not compile",
			"  /a:\n    get:\n      x-portcullis-response:\n        fields: [{select: $.a, action: remove, when: 'claims.x ==='}]\n",
			[]string{"paths./a.get.x-portcullis-response.fields[0].when: expression line 1", "(line 7)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			doc := "openapi: 3.1.0\ninfo: {title: T, version: v}\npaths:\n" + tc.paths
			if err := os.WriteFile(filepath.Join(dir, "ext.yaml"), []byte(doc), 0o600); err != nil {
				t.Fatal(err)
			}
			le := newLimitEnv(t, warehouseLimits, nil)
			cfg := cloneConfig(le.cfg)
			cfg.APIs[0].OpenAPI = "ext.yaml"
			_, err := New(t.Context(), Options{Catalog: cfg, BaseDir: dir, Getenv: le.getenv, RateLimiter: le.backend})
			if err == nil {
				t.Fatal("New() accepted the document")
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("New() error = %v\nwant it to contain %q", err, want)
				}
			}
			if !strings.HasPrefix(err.Error(), `api "warehouse": ext.yaml: openapi: `) {
				t.Errorf("New() error = %v, want it to name the API and the document", err)
			}
		})
	}
}
