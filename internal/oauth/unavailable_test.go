package oauth

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"syscall"
	"testing"

	"github.com/portcullis/portcullis/internal/store"
)

// unreachableStore fails CreateToken and GetClient as a database that
// went away does.
type unreachableStore struct {
	Store
	down bool
	// consentDown fails GetConsent alone, for a step after the login.
	consentDown bool
}

func (u *unreachableStore) GetConsent(ctx context.Context, subject, clientID string) (store.Consent, error) {
	if u.consentDown {
		return store.Consent{}, fmt.Errorf("get consent: %w", errUnreachable)
	}
	return u.Store.GetConsent(ctx, subject, clientID)
}

// errUnreachable is what a dial to a stopped database returns.
var errUnreachable = &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}

func (u *unreachableStore) CreateToken(ctx context.Context, t store.Token) error {
	if u.down {
		return fmt.Errorf("create token: %w", errUnreachable)
	}
	return u.Store.CreateToken(ctx, t)
}

func (u *unreachableStore) GetClient(ctx context.Context, id string) (store.Client, error) {
	if u.down {
		return store.Client{}, fmt.Errorf("get client: %w", errUnreachable)
	}
	return u.Store.GetClient(ctx, id)
}

// newUnreachableHarness is a harness whose store can be made unreachable.
func newUnreachableHarness(t *testing.T) (*harness, *unreachableStore) {
	t.Helper()
	var us *unreachableStore
	h := newHarness(t, Config{}, harnessOptions{store: func(db *store.DB) Store {
		us = &unreachableStore{Store: db}
		return us
	}})
	return h, us
}

// TestTokenEndpointStoreUnavailable: with the database unreachable the
// token endpoint answers 503 temporarily_unavailable with Retry-After,
// never 500 server_error (e2e/cluster's PostgreSQL outage), and logs a
// warning, not an error; a failure that is not an outage stays a 500.
func TestTokenEndpointStoreUnavailable(t *testing.T) {
	t.Parallel()
	h, us := newUnreachableHarness(t)
	secret := h.client(store.Client{ID: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	form := url.Values{"grant_type": {"client_credentials"}}
	if code, m := h.token("svc", secret, form); code != http.StatusOK {
		t.Fatalf("healthy token request = %d %v", code, m)
	}
	us.down = true
	r := tokenRequest("svc", secret, form)
	rec := h.do(r)
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"temporarily_unavailable"`) {
		t.Errorf("token request with the store down = %d %s, want 503 temporarily_unavailable", rec.Code, rec.Body)
	}
	if got := rec.Header().Get("Retry-After"); got != unavailableRetryAfter {
		t.Errorf("Retry-After = %q, want %q", got, unavailableRetryAfter)
	}
	if got := rec.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	logs := h.logs.String()
	if !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "store unavailable") || strings.Contains(logs, "level=ERROR") {
		t.Errorf("log, want one warning naming the store and no error:\n%s", logs)
	}
	// Other failures are bugs, and stay server_error.
	if e := h.srv.clientError(t.Context(), errDown); e.Status != http.StatusInternalServerError || e.Code != errServerError {
		t.Errorf("clientError(%v) = %+v, want 500 server_error", errDown, e)
	}
}

// TestAuthorizePageStoreUnavailable: the browser's pages answer an outage
// with a 503 page and Retry-After ("try again in a moment"), logged as a
// warning, not with a 500 "something went wrong".
func TestAuthorizePageStoreUnavailable(t *testing.T) {
	t.Parallel()
	h, us := newUnreachableHarness(t)
	h.client(store.Client{ID: "spa", AuthMethod: store.AuthNone, GrantTypes: []string{"authorization_code"},
		RedirectURIs: []string{"https://app.example/cb"}, Scopes: []string{"read"}})
	get := func() *httptest.ResponseRecorder {
		r, _ := http.NewRequest(http.MethodGet, authorizeURL("spa", "read", nil), nil)
		return h.do(r)
	}
	if rec := get(); rec.Code != http.StatusOK {
		t.Fatalf("healthy authorization request = %d", rec.Code)
	}
	us.down = true
	rec := get()
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != unavailableRetryAfter {
		t.Errorf("authorization request with the store down = %d, Retry-After %q; want 503 with Retry-After",
			rec.Code, rec.Header().Get("Retry-After"))
	}
	if body := rec.Body.String(); !strings.Contains(body, "Temporarily unavailable") || strings.Contains(body, "connection refused") {
		t.Errorf("page, want a plain 'Temporarily unavailable' without the cause:\n%s", body)
	}
	if logs := h.logs.String(); !strings.Contains(logs, "load client: store unavailable") || strings.Contains(logs, "level=ERROR") {
		t.Errorf("log, want a warning and no error:\n%s", logs)
	}
}

// TestAuthorizeRedirectStoreUnavailable: once the client and its
// redirect URI are known, an outage is told to the client as RFC 6749
// §4.1.2.1's temporarily_unavailable, with the state, not as
// server_error.
func TestAuthorizeRedirectStoreUnavailable(t *testing.T) {
	t.Parallel()
	h, us := newUnreachableHarness(t)
	h.client(store.Client{ID: "spa", AuthMethod: store.AuthNone, GrantTypes: []string{"authorization_code"},
		RedirectURIs: []string{"https://app.example/cb"}, Scopes: []string{"read"}})
	cookie := h.session(h.user("alice"))
	us.consentDown = true
	r, _ := http.NewRequest(http.MethodGet, authorizeURL("spa", "read", nil), nil)
	r.AddCookie(cookie)
	rec := h.do(r)
	loc, err := url.Parse(rec.Header().Get("Location"))
	if rec.Code/100 != 3 || err != nil {
		t.Fatalf("authorization request with the consent store down = %d %q, want a redirect", rec.Code, rec.Header().Get("Location"))
	}
	if q := loc.Query(); q.Get("error") != "temporarily_unavailable" || q.Get("state") != "st" || loc.Host != "app.example" {
		t.Errorf("redirect %s, want app.example with error=temporarily_unavailable and the state", loc)
	}
	if logs := h.logs.String(); !strings.Contains(logs, "load consent: store unavailable") || strings.Contains(logs, "level=ERROR") {
		t.Errorf("log, want a warning and no error:\n%s", logs)
	}
}

func tokenRequest(id, secret string, form url.Values) *http.Request {
	r, _ := http.NewRequest(http.MethodPost, harnessIssuer+pathToken, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return r
}
