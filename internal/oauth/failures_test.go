package oauth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/portcullis/portcullis/internal/identity"
	"github.com/portcullis/portcullis/internal/store"
)

var errDown = errors.New("database is down")

// failingStore fails the reads named by its switches, and passes every
// other call to the real store.
type failingStore struct {
	Store
	getUser, getConsent, getClient atomic.Bool
}

func (f *failingStore) GetUser(ctx context.Context, id string) (store.User, error) {
	if f.getUser.Load() {
		return store.User{}, errDown
	}
	return f.Store.GetUser(ctx, id)
}

func (f *failingStore) GetConsent(ctx context.Context, subject, clientID string) (store.Consent, error) {
	if f.getConsent.Load() {
		return store.Consent{}, errDown
	}
	return f.Store.GetConsent(ctx, subject, clientID)
}

func (f *failingStore) GetClient(ctx context.Context, id string) (store.Client, error) {
	if f.getClient.Load() {
		return store.Client{}, errDown
	}
	return f.Store.GetClient(ctx, id)
}

// failingSessions fails GetSession while its switch is on.
type failingSessions struct {
	identity.SessionStore
	get atomic.Bool
}

func (f *failingSessions) GetSession(ctx context.Context, digest []byte) (store.Session, error) {
	if f.get.Load() {
		return store.Session{}, errDown
	}
	return f.SessionStore.GetSession(ctx, digest)
}

// failureHarness is a harness whose store and session store can be made
// to fail, with a web client (consent required) and a logged-in user.
type failureHarness struct {
	*harness
	st       *failingStore
	sess     *failingSessions
	cookie   *http.Cookie
	subject  string
	clientID string
}

func newFailureHarness(t *testing.T) *failureHarness {
	fh := &failureHarness{}
	fh.harness = newHarness(t, Config{}, harnessOptions{
		store: func(db *store.DB) Store {
			fh.st = &failingStore{Store: db}
			return fh.st
		},
		sessionStore: func(db *store.DB) identity.SessionStore {
			fh.sess = &failingSessions{SessionStore: db}
			return fh.sess
		},
	})
	fh.clientID = "web"
	fh.client(store.Client{
		ID: fh.clientID, GrantTypes: []string{"authorization_code"},
		RedirectURIs: []string{"https://app.example/cb"}, Scopes: []string{"openid", "read"},
	})
	fh.subject = fh.user("alice")
	fh.cookie = fh.session(fh.subject)
	return fh
}

// authorize sends the browser's authorization request with its session.
func (fh *failureHarness) authorize() *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, authorizeURL(fh.clientID, "openid read", nil), nil)
	r.AddCookie(fh.cookie)
	return fh.do(r)
}

// consentForm is what a browser posts from the consent page of a pending
// request: the sealed request, its CSRF token and cookie, the session.
func (fh *failureHarness) consentForm(t *testing.T) *http.Request {
	t.Helper()
	req := authRequest{
		ClientID: fh.clientID, RedirectURI: "https://app.example/cb", RedirectGiven: true,
		Scopes: []string{"openid", "read"}, State: "st", Challenge: strings.Repeat("c", 43),
		MaxAge: -1, Subject: fh.subject, IssuedAt: fh.srv.now().Unix(), CSRFNonce: "nonce",
	}
	sealed, err := fh.srv.seal(req)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	tok := fh.srv.o.CSRF.Token(rec, httptest.NewRequest(http.MethodGet, "/", nil), req.CSRFNonce)
	form := url.Values{identity.FieldRequest: {sealed}, identity.FieldCSRF: {tok}, identity.FieldDecision: {identity.DecisionAllow}}
	r := httptest.NewRequest(http.MethodPost, harnessIssuer+pathAuthorizeAccept, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.AddCookie(rec.Result().Cookies()[0])
	r.AddCookie(fh.cookie)
	return r
}

// wantLogged checks that a server-side failure was logged once, at error
// level, by the oauth component, with its cause and without the session
// cookie.
func (fh *failureHarness) wantLogged(t *testing.T, what string) {
	t.Helper()
	logs := fh.logs.String()
	var lines []string
	for line := range strings.SplitSeq(logs, "\n") {
		if strings.Contains(line, errDown.Error()) {
			lines = append(lines, line)
		}
	}
	if len(lines) != 1 {
		t.Fatalf("log lines naming the failure: %q, want exactly one; log:\n%s", lines, logs)
	}
	if l := lines[0]; !strings.Contains(l, "level=ERROR") || !strings.Contains(l, "component=oauth") || !strings.Contains(l, what) {
		t.Errorf("log line %q, want level=ERROR, component=oauth and %q", l, what)
	}
	if strings.Contains(logs, fh.cookie.Value) {
		t.Error("the log holds the session cookie")
	}
}

// TestAuthorizeServerFailures: a store failure while the authorization
// endpoint reads the session, its user or the user's consent is logged
// and answered server_error on the client's redirect (RFC 6749
// §4.1.2.1). Before, each was taken for "no session" or "no consent" and
// answered with a login or consent page that could never succeed.
func TestAuthorizeServerFailures(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail func(*failureHarness)
		what string
	}{
		{"session store", func(fh *failureHarness) { fh.sess.get.Store(true) }, "read login session"},
		{"user lookup", func(fh *failureHarness) { fh.st.getUser.Store(true) }, "load session user"},
		{"consent lookup", func(fh *failureHarness) { fh.st.getConsent.Store(true) }, "load consent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fh := newFailureHarness(t)
			// Healthy, the session leads to the consent page.
			if rec := fh.authorize(); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), identity.FieldDecision) {
				t.Fatalf("healthy authorize = %d, want the consent page", rec.Code)
			}
			tc.fail(fh)
			rec := fh.authorize()
			q := redirectQuery(t, rec)
			if q.Get("error") != errServerError || q.Get("state") != "st" || q.Get("iss") != harnessIssuer {
				t.Errorf("authorize with a failing %s = %v, want error=server_error with state and iss", tc.name, q)
			}
			fh.wantLogged(t, tc.what)
		})
	}
}

// TestConsentServerFailures: the same at the consent form. A failing
// session read or user lookup was "Session ended" (403), a failing read
// of earlier consent silently dropped the scopes consented before.
func TestConsentServerFailures(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail func(*failureHarness)
		what string
	}{
		{"session store", func(fh *failureHarness) { fh.sess.get.Store(true) }, "read login session"},
		{"user lookup", func(fh *failureHarness) { fh.st.getUser.Store(true) }, "load session user"},
		{"consent lookup", func(fh *failureHarness) { fh.st.getConsent.Store(true) }, "load consent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fh := newFailureHarness(t)
			tc.fail(fh)
			q := redirectQuery(t, fh.do(fh.consentForm(t)))
			if q.Get("error") != errServerError || q.Get("code") != "" {
				t.Errorf("consent with a failing %s = %v, want error=server_error", tc.name, q)
			}
			fh.wantLogged(t, tc.what)
			if _, err := fh.db.GetConsent(context.Background(), fh.subject, fh.clientID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("consent saved despite the failure: %v", err)
			}
		})
	}
	t.Run("healthy", func(t *testing.T) {
		fh := newFailureHarness(t)
		if q := redirectQuery(t, fh.do(fh.consentForm(t))); q.Get("code") == "" {
			t.Errorf("healthy consent = %v, want a code", q)
		}
	})
}

// TestFormClientLookupFailure: a store failure while a login or consent
// form reads its client is a logged 500, not "Unknown application".
func TestFormClientLookupFailure(t *testing.T) {
	fh := newFailureHarness(t)
	fh.st.getClient.Store(true)
	rec := fh.do(fh.consentForm(t))
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "Unknown application") {
		t.Errorf("form with a failing client lookup = %d, want 500 without 'Unknown application'", rec.Code)
	}
	fh.wantLogged(t, "load client")
}
