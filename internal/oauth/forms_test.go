package oauth

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/identity"
	"github.com/portcullis/portcullis/internal/identity/identitytest"
	"github.com/portcullis/portcullis/internal/keys"
	"github.com/portcullis/portcullis/internal/store"
)

// clientStore answers GetClient for one client; any other Store method
// panics (a test bug).
type clientStore struct {
	Store
	c store.Client
}

func (s clientStore) GetClient(_ context.Context, id string) (store.Client, error) {
	if id != s.c.ID {
		return store.Client{}, store.ErrNotFound
	}
	return s.c, nil
}

var formNow = time.Unix(1_900_000_000, 0)

// newFormServer is a Server with what the login and consent forms use,
// on an https issuer (so the CSRF cookie has the __Host- prefix).
func newFormServer(t *testing.T, th *identity.Throttle) *Server {
	t.Helper()
	master := bytes.Repeat([]byte{7}, 32)
	sealer, err := keys.NewSealer(master, keys.PurposeAuthorizeRequest)
	if err != nil {
		t.Fatal(err)
	}
	pages, err := identity.NewPages(nil)
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return formNow }
	return &Server{
		cfg: Config{Issuer: "https://as.example"},
		o: Options{
			Store:      clientStore{c: store.Client{ID: "app", RedirectURIs: []string{"https://app.example/cb"}}},
			CSRF:       identity.NewCSRF(keys.DeriveKey(master, keys.PurposeCSRF), true),
			Pages:      pages,
			Sealer:     sealer,
			Users:      identity.NewUsers(&identitytest.UserStore{}, identity.NewHasher(1), now),
			Throttle:   th,
			ClientAddr: clientIP,
		},
		now:     now,
		log:     slog.New(slog.DiscardHandler),
		metrics: newMetrics(nil),
	}
}

func pendingRequest(nonce string) authRequest {
	return authRequest{ClientID: "app", RedirectURI: "https://app.example/cb", Scopes: []string{"openid"},
		MaxAge: -1, IssuedAt: formNow.Unix(), CSRFNonce: nonce}
}

// formBrowser is what a browser holds after a login page for req was
// served to it: the CSRF cookie and the page's token.
func formBrowser(t *testing.T, s *Server, req authRequest) (*http.Cookie, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	tok := s.o.CSRF.Token(rec, httptest.NewRequest(http.MethodGet, "/oauth2/authorize", nil), req.CSRFNonce)
	cs := rec.Result().Cookies()
	if len(cs) != 1 || cs[0].Name != "__Host-portcullis_csrf" {
		t.Fatalf("CSRF cookies %v, want one __Host-portcullis_csrf", cs)
	}
	return cs[0], tok
}

func postForm(t *testing.T, s *Server, cookie *http.Cookie, fields url.Values) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/oauth2/authorize/login", strings.NewReader(fields.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.RemoteAddr = "192.0.2.10:4711"
	if cookie != nil {
		r.AddCookie(cookie)
	}
	return r
}

// TestFormCSRFBoundToRequest: a CSRF token is valid only with the sealed
// request it was issued for. An attacker who fetched a login page for a
// request of their own holds a valid (cookie, token) pair; posting it
// with a victim's sealed request must fail.
func TestFormCSRFBoundToRequest(t *testing.T) {
	s := newFormServer(t, identity.NewThrottle(identity.ThrottleConfig{}))
	reqA, reqB := pendingRequest("nonce-A"), pendingRequest("nonce-B")
	cookieA, tokA := formBrowser(t, s, reqA)
	sealedA, err := s.seal(reqA)
	if err != nil {
		t.Fatal(err)
	}
	sealedB, err := s.seal(reqB)
	if err != nil {
		t.Fatal(err)
	}
	noNonce := pendingRequest("")
	sealedNoNonce, err := s.seal(noNonce)
	if err != nil {
		t.Fatal(err)
	}
	tokNoNonce := s.o.CSRF.Token(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil), "")

	tests := []struct {
		name       string
		sealed     string
		token      string
		wantOK     bool
		wantStatus int
	}{
		{"token with its request", sealedA, tokA, true, 0},
		{"token of request A with request B", sealedB, tokA, false, http.StatusForbidden},
		{"request without a nonce", sealedNoNonce, tokNoNonce, false, http.StatusForbidden},
		{"no token", sealedA, "", false, http.StatusForbidden},
		{"altered request", sealedA[:len(sealedA)-2] + "AA", tokA, false, http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			r := postForm(t, s, cookieA, url.Values{identity.FieldRequest: {tc.sealed}, identity.FieldCSRF: {tc.token}})
			got, _, ok := s.formStep(rec, r)
			if ok != tc.wantOK {
				t.Fatalf("formStep ok = %v, want %v (status %d)", ok, tc.wantOK, rec.Code)
			}
			if !ok && rec.Code != tc.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tc.wantStatus)
			}
			if ok && got.CSRFNonce != reqA.CSRFNonce {
				t.Errorf("formStep returned request with nonce %q, want %q", got.CSRFNonce, reqA.CSRFNonce)
			}
		})
	}
}

// TestLoginThrottleInputs: the login form counts checked failures only,
// per account and per client address.
func TestLoginThrottleInputs(t *testing.T) {
	tests := []struct {
		name     string
		password string
		// sameUser posts every attempt under one name; else each
		// attempt uses a fresh name (spraying).
		sameUser   bool
		wantLocked bool
	}{
		// The finding: a password over 1,024 bytes is refused before any
		// hashing, and must not be counted.
		{"over-long password, one name", strings.Repeat("p", identity.MaxPasswordBytes+1), true, false},
		{"over-long password, fresh names", strings.Repeat("p", identity.MaxPasswordBytes+1), false, false},
		{"wrong password, one name", "wrong", true, true},
		{"wrong password, fresh names", "wrong", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			th := identity.NewThrottle(identity.ThrottleConfig{MaxFailures: 3, MaxAddrFailures: 3})
			s := newFormServer(t, th)
			req := pendingRequest("nonce")
			cookie, tok := formBrowser(t, s, req)
			sealed, err := s.seal(req)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				user := "mallory"
				if !tc.sameUser {
					user = fmt.Sprint("user-", i)
				}
				rec := httptest.NewRecorder()
				s.authorizeLogin(rec, postForm(t, s, cookie, url.Values{
					identity.FieldRequest: {sealed}, identity.FieldCSRF: {tok},
					identity.FieldUsername: {user}, identity.FieldPassword: {tc.password},
				}))
				if rec.Code != http.StatusUnauthorized {
					t.Fatalf("attempt %d: status %d, want 401", i+1, rec.Code)
				}
			}
			// The peer address of every attempt; another user.
			d := th.Check("carol", netip.MustParseAddr("192.0.2.10"), formNow)
			if tc.sameUser {
				d = th.Check("mallory", netip.MustParseAddr("192.0.2.99"), formNow)
			}
			if gotLocked := !d.Allowed; gotLocked != tc.wantLocked {
				t.Errorf("after 3 attempts: %+v, want locked %v", d, tc.wantLocked)
			}
		})
	}
}
