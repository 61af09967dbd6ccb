package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/identity"
	"github.com/portcullis/portcullis/internal/keys"
	"github.com/portcullis/portcullis/internal/store"
)

const (
	logoutClient   = "app"
	logoutRedirect = "https://app.example/signed-out"
)

// logoutHarness is a server with one client that registered
// logoutRedirect, and a user alice who is signed in.
type logoutHarness struct {
	*harness
	alice  string
	cookie *http.Cookie
	sess   store.Session
}

func newLogoutHarness(t *testing.T) *logoutHarness {
	t.Helper()
	h := newHarness(t, Config{}, harnessOptions{})
	h.client(store.Client{
		ID: logoutClient, Name: "The App", GrantTypes: []string{"authorization_code"},
		RedirectURIs:           []string{"https://app.example/cb"},
		PostLogoutRedirectURIs: []string{logoutRedirect},
		Scopes:                 []string{"openid"},
	})
	h.client(store.Client{
		ID: "other", GrantTypes: []string{"authorization_code"}, RedirectURIs: []string{"https://other.example/cb"},
		PostLogoutRedirectURIs: []string{"https://other.example/bye"}, Scopes: []string{"openid"},
	})
	lh := &logoutHarness{harness: h, alice: h.user("alice")}
	lh.signIn()
	return lh
}

// signIn starts a new login session of alice; a harness serves many
// cases, each with a session of its own (building one costs seconds of
// key generation).
func (h *logoutHarness) signIn() {
	h.t.Helper()
	h.cookie = h.session(h.alice)
	sess, ok := h.current(h.cookie)
	if !ok {
		h.t.Fatal("the new session is not current")
	}
	h.sess = sess
}

// current returns the live session the cookie names, if any.
func (h *logoutHarness) current(c *http.Cookie) (store.Session, bool) {
	h.t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(c)
	sess, ok, err := h.sessions.Current(context.Background(), r)
	if err != nil {
		h.t.Fatal(err)
	}
	return sess, ok
}

// idToken signs claims with the server's ID-token key, as idToken does;
// claims override the defaults for alice, the app, this session.
func (h *logoutHarness) idToken(claims map[string]any) string {
	h.t.Helper()
	return h.sign(keys.UseID, claims)
}

func (h *logoutHarness) sign(use keys.Use, claims map[string]any) string {
	h.t.Helper()
	now := time.Now().Unix()
	c := map[string]any{
		"iss": harnessIssuer, "sub": h.alice, "aud": logoutClient, "azp": logoutClient,
		"iat": now, "exp": now + 3600, "auth_time": h.sess.AuthTime.Unix(),
	}
	for k, v := range claims {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	b, err := json.Marshal(c)
	if err != nil {
		h.t.Fatal(err)
	}
	jws, err := h.srv.o.Keys.Sign(use, "JWT", b)
	if err != nil {
		h.t.Fatal(err)
	}
	return jws
}

// logout sends an end-session request by GET with the session cookie.
func (h *logoutHarness) logout(q url.Values, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	h.t.Helper()
	r := httptest.NewRequest(http.MethodGet, harnessIssuer+pathEndSession+"?"+q.Encode(), nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	return h.do(r)
}

// foreignToken is an ID token for alice signed by a key that is not ours,
// with the kid of our active ID-token key.
func (h *logoutHarness) foreignToken() string {
	h.t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		h.t.Fatal(err)
	}
	kid := h.srv.o.Keys.KeySetFor(keys.UseID).Keys[0].KeyID
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: priv, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		h.t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"iss": harnessIssuer, "sub": h.alice, "aud": logoutClient,
		"auth_time": h.sess.AuthTime.Unix()})
	jws, err := sig.Sign(b)
	if err != nil {
		h.t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// sessionCleared reports whether rec clears the session cookie.
func sessionCleared(rec *httptest.ResponseRecorder, name string) bool {
	for _, c := range rec.Result().Cookies() {
		if c.Name == name && c.Value == "" && c.MaxAge < 0 {
			return true
		}
	}
	return false
}

func TestEndSessionRequests(t *testing.T) {
	type want struct {
		status int
		// location is the redirect, "" for a page.
		location string
		// page is a snippet of the page shown.
		page string
		// ended says the session is gone afterwards.
		ended bool
	}
	signedOut := want{status: http.StatusOK, page: "You are signed out", ended: true}
	refused := func(snippet string) want {
		return want{status: http.StatusBadRequest, page: snippet}
	}
	confirm := want{status: http.StatusOK, page: `action="` + harnessIssuer + pathEndSessionConfirm + `"`}
	tests := []struct {
		name string
		// query builds the request's parameters.
		query func(h *logoutHarness) url.Values
		want  want
	}{
		{
			name: "hint of this session: ended and redirected with state",
			query: func(h *logoutHarness) url.Values {
				return url.Values{"id_token_hint": {h.idToken(nil)}, "post_logout_redirect_uri": {logoutRedirect}, "state": {"s t&1"}}
			},
			want: want{status: http.StatusFound, location: logoutRedirect + "?state=s+t%261", ended: true},
		},
		{
			name: "hint and the client_id it was issued to",
			query: func(h *logoutHarness) url.Values {
				return url.Values{"id_token_hint": {h.idToken(nil)}, "client_id": {logoutClient}, "post_logout_redirect_uri": {logoutRedirect}}
			},
			want: want{status: http.StatusFound, location: logoutRedirect, ended: true},
		},
		{
			name: "expired hint is still a hint",
			query: func(h *logoutHarness) url.Values {
				old := time.Now().Add(-48 * time.Hour).Unix()
				return url.Values{"id_token_hint": {h.idToken(map[string]any{"iat": old, "exp": old + 3600})}, "post_logout_redirect_uri": {logoutRedirect}}
			},
			want: want{status: http.StatusFound, location: logoutRedirect, ended: true},
		},
		{
			name: "hint without a redirect: the signed-out page",
			query: func(h *logoutHarness) url.Values {
				return url.Values{"id_token_hint": {h.idToken(nil)}, "state": {"x"}}
			},
			want: signedOut,
		},
		{
			name: "unregistered post_logout_redirect_uri: signed out, no redirect",
			query: func(h *logoutHarness) url.Values {
				return url.Values{"id_token_hint": {h.idToken(nil)}, "post_logout_redirect_uri": {"https://evil.example/"}, "state": {"x"}}
			},
			want: signedOut,
		},
		{
			name: "another client's registered URI: no redirect",
			query: func(h *logoutHarness) url.Values {
				return url.Values{"id_token_hint": {h.idToken(nil)}, "post_logout_redirect_uri": {"https://other.example/bye"}}
			},
			want: signedOut,
		},
		{
			name: "registered URI differing in case: no redirect",
			query: func(h *logoutHarness) url.Values {
				return url.Values{"id_token_hint": {h.idToken(nil)}, "post_logout_redirect_uri": {strings.ToUpper(logoutRedirect)}}
			},
			want: signedOut,
		},
		{
			name: "hint of another issuer",
			query: func(h *logoutHarness) url.Values {
				return url.Values{"id_token_hint": {h.idToken(map[string]any{"iss": "https://other-issuer.example"})}, "post_logout_redirect_uri": {logoutRedirect}}
			},
			want: refused("Invalid sign-out request"),
		},
		{
			name: "hint with a bad signature",
			query: func(h *logoutHarness) url.Values {
				tok := h.idToken(nil)
				return url.Values{"id_token_hint": {tok[:len(tok)-4] + "AAAA"}, "post_logout_redirect_uri": {logoutRedirect}}
			},
			want: refused("Invalid sign-out request"),
		},
		{
			name:  "hint signed by a key that is not ours",
			query: func(h *logoutHarness) url.Values { return url.Values{"id_token_hint": {h.foreignToken()}} },
			want:  refused("Invalid sign-out request"),
		},
		{
			name: "hint signed by our access-token key",
			query: func(h *logoutHarness) url.Values {
				return url.Values{"id_token_hint": {h.sign(keys.UseAccess, nil)}}
			},
			want: refused("Invalid sign-out request"),
		},
		{
			name:  "hint that is not a JWT",
			query: func(h *logoutHarness) url.Values { return url.Values{"id_token_hint": {"not-a-token"}} },
			want:  refused("Invalid sign-out request"),
		},
		{
			name: "hint for a client that does not exist",
			query: func(h *logoutHarness) url.Values {
				return url.Values{"id_token_hint": {h.idToken(map[string]any{"aud": "gone", "azp": "gone"})}}
			},
			want: refused("Unknown application"),
		},
		{
			name: "client_id disagrees with the hint's aud",
			query: func(h *logoutHarness) url.Values {
				return url.Values{"id_token_hint": {h.idToken(nil)}, "client_id": {"other"}, "post_logout_redirect_uri": {"https://other.example/bye"}}
			},
			want: refused("not the one its ID token was issued to"),
		},
		{
			name: "parameter repeated",
			query: func(h *logoutHarness) url.Values {
				return url.Values{"client_id": {logoutClient, "other"}}
			},
			want: refused("Invalid sign-out request"),
		},
		{
			name:  "unknown client_id",
			query: func(h *logoutHarness) url.Values { return url.Values{"client_id": {"nobody"}} },
			want:  refused("Unknown application"),
		},
		{
			name: "no hint: asked first",
			query: func(h *logoutHarness) url.Values {
				return url.Values{"client_id": {logoutClient}, "post_logout_redirect_uri": {logoutRedirect}, "state": {"x"}}
			},
			want: confirm,
		},
		{
			name:  "no parameters at all: asked first",
			query: func(h *logoutHarness) url.Values { return url.Values{} },
			want:  confirm,
		},
		{
			name: "hint of another user: asked first",
			query: func(h *logoutHarness) url.Values {
				return url.Values{"id_token_hint": {h.idToken(map[string]any{"sub": "someone-else"})}}
			},
			want: confirm,
		},
		{
			name: "hint of an earlier login of the same user: asked first",
			query: func(h *logoutHarness) url.Values {
				return url.Values{"id_token_hint": {h.idToken(map[string]any{"auth_time": h.sess.AuthTime.Add(-time.Hour).Unix()})}}
			},
			want: confirm,
		},
		{
			name: "hint without auth_time: asked first",
			query: func(h *logoutHarness) url.Values {
				return url.Values{"id_token_hint": {h.idToken(map[string]any{"auth_time": nil})}}
			},
			want: confirm,
		},
	}
	h := newLogoutHarness(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h.signIn()
			rec := h.logout(tc.query(h), h.cookie)
			if rec.Code != tc.want.status {
				t.Fatalf("status = %d, want %d: %s", rec.Code, tc.want.status, rec.Body)
			}
			if got := rec.Header().Get("Location"); got != tc.want.location {
				t.Errorf("Location = %q, want %q", got, tc.want.location)
			}
			if tc.want.page != "" && !strings.Contains(html.UnescapeString(rec.Body.String()), tc.want.page) {
				t.Errorf("page lacks %q:\n%s", tc.want.page, rec.Body)
			}
			_, live := h.current(h.cookie)
			if live == tc.want.ended {
				t.Errorf("session live = %v after the request, want %v", live, !tc.want.ended)
			}
			if got := sessionCleared(rec, h.sessions.CookieName()); got != tc.want.ended {
				t.Errorf("session cookie cleared = %v, want %v", got, tc.want.ended)
			}
			if got := rec.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", got)
			}
		})
	}
}

// Without a login session there is nothing to end or confirm: a
// validated redirect is still followed, so the RP sees the same logout.
func TestEndSessionWithoutSession(t *testing.T) {
	h := newLogoutHarness(t)
	rec := h.logout(url.Values{"client_id": {logoutClient}, "post_logout_redirect_uri": {logoutRedirect}, "state": {"abc"}})
	if rec.Code != http.StatusFound || rec.Header().Get("Location") != logoutRedirect+"?state=abc" {
		t.Errorf("got %d to %q, want 302 to %s?state=abc", rec.Code, rec.Header().Get("Location"), logoutRedirect)
	}
	rec = h.logout(url.Values{})
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "You are signed out") {
		t.Errorf("got %d, want the signed-out page: %s", rec.Code, rec.Body)
	}
}

var hiddenFieldRE = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// confirmForm returns the hidden fields of a confirmation page and the
// CSRF cookie set with it.
func confirmForm(t *testing.T, rec *httptest.ResponseRecorder) (url.Values, *http.Cookie) {
	t.Helper()
	fields := url.Values{}
	for _, m := range hiddenFieldRE.FindAllStringSubmatch(rec.Body.String(), -1) {
		fields.Set(m[1], html.UnescapeString(m[2]))
	}
	if fields.Get(identity.FieldRequest) == "" || fields.Get(identity.FieldCSRF) == "" {
		t.Fatalf("no confirmation form in:\n%s", rec.Body)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == identity.CSRFHostCookieName {
			return fields, c
		}
	}
	t.Fatalf("no CSRF cookie with the confirmation page")
	return nil, nil
}

func (h *logoutHarness) confirm(fields url.Values, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	h.t.Helper()
	r := httptest.NewRequest(http.MethodPost, harnessIssuer+pathEndSessionConfirm, strings.NewReader(fields.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range cookies {
		r.AddCookie(c)
	}
	return h.do(r)
}

// A logout without a hint ends nothing until the user confirms it on a
// CSRF-protected form; the confirmation then ends the session and
// redirects with state.
func TestEndSessionConfirmation(t *testing.T) {
	h := newLogoutHarness(t)
	rec := h.logout(url.Values{"client_id": {logoutClient}, "post_logout_redirect_uri": {logoutRedirect}, "state": {"st-1"}}, h.cookie)
	if rec.Code != http.StatusOK {
		t.Fatalf("logout: %d %s", rec.Code, rec.Body)
	}
	for _, s := range []string{"Sign out?", "<strong>The App</strong> asks to sign you out", "Signed in as <strong>alice</strong>"} {
		if !strings.Contains(rec.Body.String(), s) {
			t.Errorf("confirmation page lacks %q", s)
		}
	}
	if _, live := h.current(h.cookie); !live {
		t.Fatal("the GET ended the session before any confirmation")
	}
	fields, csrf := confirmForm(t, rec)

	refusals := []struct {
		name    string
		fields  url.Values
		cookies []*http.Cookie
		status  int
	}{
		{"no CSRF token", url.Values{identity.FieldRequest: {fields.Get(identity.FieldRequest)}}, []*http.Cookie{h.cookie, csrf}, http.StatusForbidden},
		{"wrong CSRF token", url.Values{identity.FieldRequest: {fields.Get(identity.FieldRequest)}, identity.FieldCSRF: {"AAAA" + fields.Get(identity.FieldCSRF)[4:]}},
			[]*http.Cookie{h.cookie, csrf}, http.StatusForbidden},
		{"no CSRF cookie (a cross-site post)", fields, []*http.Cookie{h.cookie}, http.StatusForbidden},
		{"altered request", url.Values{identity.FieldRequest: {fields.Get(identity.FieldRequest) + "A"}, identity.FieldCSRF: {fields.Get(identity.FieldCSRF)}},
			[]*http.Cookie{h.cookie, csrf}, http.StatusBadRequest},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			rec := h.confirm(tc.fields, tc.cookies...)
			if rec.Code != tc.status || rec.Header().Get("Location") != "" {
				t.Errorf("status %d Location %q, want %d and no redirect", rec.Code, rec.Header().Get("Location"), tc.status)
			}
			if _, live := h.current(h.cookie); !live {
				t.Error("a refused confirmation ended the session")
			}
		})
	}

	rec = h.confirm(fields, h.cookie, csrf)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != logoutRedirect+"?state=st-1" {
		t.Fatalf("confirm: %d to %q, want 303 to %s?state=st-1", rec.Code, rec.Header().Get("Location"), logoutRedirect)
	}
	if _, live := h.current(h.cookie); live {
		t.Error("the session is still live after the confirmed logout")
	}
	if !sessionCleared(rec, h.sessions.CookieName()) {
		t.Error("the confirmed logout did not clear the session cookie")
	}
}

// The confirmation ends the session it was shown for, not one that
// replaced it meanwhile; and a sealed authorization request is no logout
// request.
func TestEndSessionConfirmationBinding(t *testing.T) {
	h := newLogoutHarness(t)
	rec := h.logout(url.Values{}, h.cookie)
	fields, csrf := confirmForm(t, rec)

	bob := h.session(h.user("bob"))
	if rec := h.confirm(fields, bob, csrf); rec.Code != http.StatusForbidden {
		t.Errorf("confirmation with another user's session: %d, want 403", rec.Code)
	}
	if _, live := h.current(bob); !live {
		t.Error("bob's session ended by alice's confirmation")
	}

	nonce := "n-" + strings.Repeat("x", 20)
	sealed, err := h.srv.seal(authRequest{ClientID: logoutClient, IssuedAt: time.Now().Unix(), CSRFNonce: nonce})
	if err != nil {
		t.Fatal(err)
	}
	tok := h.srv.o.CSRF.Token(httptest.NewRecorder(), func() *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.AddCookie(csrf)
		return r
	}(), nonce)
	rec = h.confirm(url.Values{identity.FieldRequest: {sealed}, identity.FieldCSRF: {tok}}, h.cookie, csrf)
	if rec.Code != http.StatusBadRequest {
		t.Errorf("authorization request posted as a logout: %d, want 400", rec.Code)
	}
	if _, live := h.current(h.cookie); !live {
		t.Error("the session ended")
	}

	// The confirmation without a redirect ends on the signed-out page.
	rec = h.confirm(fields, h.cookie, csrf)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "You are signed out") {
		t.Errorf("confirm without redirect: %d %s", rec.Code, rec.Body)
	}
	if _, live := h.current(h.cookie); live {
		t.Error("session still live")
	}
}

func TestEndSessionByPostAndMethods(t *testing.T) {
	h := newLogoutHarness(t)
	form := url.Values{"id_token_hint": {h.idToken(nil)}, "post_logout_redirect_uri": {logoutRedirect}, "state": {"p"}}
	r := httptest.NewRequest(http.MethodPost, harnessIssuer+pathEndSession, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.AddCookie(h.cookie)
	rec := h.do(r)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != logoutRedirect+"?state=p" {
		t.Errorf("POST: %d to %q, want 303 to %s?state=p", rec.Code, rec.Header().Get("Location"), logoutRedirect)
	}
	rec = h.do(httptest.NewRequest(http.MethodPut, harnessIssuer+pathEndSession, nil))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, POST" {
		t.Errorf("PUT: %d Allow %q, want 405 with Allow: GET, POST", rec.Code, rec.Header().Get("Allow"))
	}
	rec = h.do(httptest.NewRequest(http.MethodGet, harnessIssuer+pathEndSessionConfirm, nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET of the confirmation: %d, want 405", rec.Code)
	}
}

func TestDiscoveryAdvertisesEndSession(t *testing.T) {
	h := newHarness(t, Config{}, harnessOptions{})
	rec := h.do(httptest.NewRequest(http.MethodGet, harnessIssuer+"/.well-known/openid-configuration", nil))
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if got, want := doc["end_session_endpoint"], harnessIssuer+pathEndSession; got != want {
		t.Errorf("end_session_endpoint = %v, want %s", got, want)
	}
}

func TestHintClient(t *testing.T) {
	for _, tc := range []struct {
		aud, azp string
		want     string
	}{
		{`"app"`, "", "app"},
		{`["app"]`, "", "app"},
		{`["app","api"]`, "app", "app"},
		{`["app","api"]`, "", ""},
		{`["app","api"]`, "other", ""},
		{`[]`, "", ""},
		{`""`, "", ""},
		{`[""]`, "", ""},
		{`42`, "", ""},
		{``, "", ""},
	} {
		got, err := hintClient(json.RawMessage(tc.aud), tc.azp)
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("hintClient(%s, %q) = %q, %v; want %q", tc.aud, tc.azp, got, err, tc.want)
		}
	}
}
