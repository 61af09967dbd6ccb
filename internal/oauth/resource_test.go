package oauth

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/store"
)

const (
	apiResource   = "https://api.example/warehouse"
	otherResource = "urn:example:api:billing"
	defaultAud    = "urn:example:api:default"
)

// resourceHarness is a server with two configured resource servers and a
// default audience, a service client without audiences of its own and
// one with a registered audience.
func resourceHarness(t *testing.T) (*harness, map[string]string) {
	h := newHarness(t, Config{Resources: []string{apiResource, otherResource}, DefaultAudience: defaultAud}, harnessOptions{})
	secrets := map[string]string{
		"svc": h.client(store.Client{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}}),
		"bound": h.client(store.Client{ID: "bound", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"},
			Audience: []string{"https://own.example"}}),
	}
	return h, secrets
}

// TestClientCredentialsResourceAllowList: a client without audiences of
// its own may name only the server's resource servers (RFC 8707 §2
// invalid_target otherwise); one with registered audiences only those.
// Before the allow-list, resource=https://evil.example was issued.
func TestClientCredentialsResourceAllowList(t *testing.T) {
	h, secrets := resourceHarness(t)
	for _, tc := range []struct {
		name      string
		client    string
		resources []string
		wantAud   []string // nil: refused with invalid_target
	}{
		{"no resource: the default audience", "svc", nil, []string{defaultAud}},
		{"a configured resource server", "svc", []string{apiResource}, []string{apiResource}},
		{"two configured resource servers", "svc", []string{apiResource, otherResource}, []string{apiResource, otherResource}},
		{"the default audience named", "svc", []string{defaultAud}, []string{defaultAud}},
		{"a repeated resource is one audience", "svc", []string{apiResource, apiResource}, []string{apiResource}},
		{"an unknown resource", "svc", []string{"https://evil.example"}, nil},
		{"an unknown resource beside a known one", "svc", []string{apiResource, "https://evil.example"}, nil},
		{"a near miss of a known one", "svc", []string{apiResource + "/"}, nil},
		{"the issuer, not the default audience", "svc", []string{harnessIssuer}, nil},
		{"a relative URI", "svc", []string{"/warehouse"}, nil},
		{"a fragment", "svc", []string{apiResource + "#x"}, nil},
		{"registered audiences: its own", "bound", []string{"https://own.example"}, []string{"https://own.example"}},
		{"registered audiences: no resource", "bound", nil, []string{"https://own.example"}},
		{"registered audiences: a server resource is not its own", "bound", []string{apiResource}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}
			if tc.resources != nil {
				form["resource"] = tc.resources
			}
			status, m := h.token(tc.client, secrets[tc.client], form)
			if tc.wantAud == nil {
				if status != http.StatusBadRequest || m["error"] != errInvalidTarget {
					t.Fatalf("token = %d %v, want 400 invalid_target", status, m)
				}
				return
			}
			if status != http.StatusOK {
				t.Fatalf("token = %d %v, want 200", status, m)
			}
			if diff := cmp.Diff(tc.wantAud, h.audienceOf(m["access_token"])); diff != "" {
				t.Errorf("audience (-want +got):\n%s", diff)
			}
		})
	}
}

// TestResourceCap: one request may name at most maxResources resources;
// the 2,000-resource request that once minted a 30 KB token is refused
// before any of them is looked at.
func TestResourceCap(t *testing.T) {
	h := newHarness(t, Config{}, harnessOptions{})
	secret := h.client(store.Client{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	many := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("urn:r:%d", i)
		}
		return out
	}
	// Allow every one of them, so only the cap can refuse.
	h.srv.resources = map[string]bool{}
	for _, r := range many(2000) {
		h.srv.resources[r] = true
	}
	for _, tc := range []struct {
		n    int
		want int
	}{
		{maxResources, http.StatusOK},
		{maxResources + 1, http.StatusBadRequest},
		{2000, http.StatusBadRequest},
	} {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			status, m := h.token("svc", secret, url.Values{
				"grant_type": {"client_credentials"}, "scope": {"read"}, "resource": many(tc.n),
			})
			if status != tc.want {
				t.Fatalf("token with %d resources = %d %v, want %d", tc.n, status, m, tc.want)
			}
			if status == http.StatusOK {
				if got := len(h.audienceOf(m["access_token"])); got != tc.n {
					t.Errorf("token has %d audiences, want %d", got, tc.n)
				}
				return
			}
			if m["error"] != errInvalidTarget || !strings.Contains(fmt.Sprint(m["error_description"]), "at most 10") {
				t.Errorf("token with %d resources = %v, want invalid_target naming the cap", tc.n, m)
			}
		})
	}
}

// TestAuthorizationCodeResourceAllowList: the authorization request's
// resource fixes the audience of every token of the grant (the code, then
// each refresh), so the allow-list is applied there: an unknown resource
// is redirected as invalid_target; an allowed one reaches the tokens, and
// a resource sent later at the token endpoint does not change them.
func TestAuthorizationCodeResourceAllowList(t *testing.T) {
	h := newHarness(t, Config{Resources: []string{apiResource}, DefaultAudience: defaultAud}, harnessOptions{})
	secret := h.client(store.Client{
		ID: "web", GrantTypes: []string{"authorization_code", "refresh_token"},
		RedirectURIs: []string{"https://app.example/cb"}, Scopes: []string{"openid", "read"}, SkipConsent: true,
	})
	cookie := h.session(h.user("alice"))
	authorize := func(resources ...string) url.Values {
		t.Helper()
		r, _ := http.NewRequest(http.MethodGet, authorizeURL("web", "openid read", url.Values{"resource": resources}), nil)
		r.AddCookie(cookie)
		return redirectQuery(t, h.do(r))
	}

	for _, res := range [][]string{{"https://evil.example"}, {apiResource, "https://evil.example"}, make([]string, maxResources+1)} {
		if q := authorize(res...); q.Get("error") != errInvalidTarget || q.Get("code") != "" || q.Get("state") != "st" {
			t.Errorf("authorize with resource %q = %v, want error=invalid_target with state", res, q)
		}
	}

	q := authorize(apiResource)
	if q.Get("code") == "" {
		t.Fatalf("authorize with an allowed resource = %v, want a code", q)
	}
	verifier, _ := pkcePair()
	status, m := h.token("web", secret, url.Values{
		"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "code_verifier": {verifier},
		"redirect_uri": {"https://app.example/cb"}, "resource": {"https://evil.example"},
	})
	if status != http.StatusOK {
		t.Fatalf("code exchange = %d %v", status, m)
	}
	if diff := cmp.Diff([]string{apiResource}, h.audienceOf(m["access_token"])); diff != "" {
		t.Errorf("code exchange audience (-want +got):\n%s", diff)
	}
	status, m = h.token("web", secret, url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {m["refresh_token"].(string)}, "resource": {"https://evil.example"},
	})
	if status != http.StatusOK {
		t.Fatalf("refresh = %d %v", status, m)
	}
	if diff := cmp.Diff([]string{apiResource}, h.audienceOf(m["access_token"])); diff != "" {
		t.Errorf("refreshed audience (-want +got):\n%s", diff)
	}
}
