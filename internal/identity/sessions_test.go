package identity_test

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/identity"
	"github.com/portcullis/portcullis/internal/identity/identitytest"
	"github.com/portcullis/portcullis/internal/store"
)

// onlyCookie returns the one cookie rec set, failing the test otherwise.
func onlyCookie(t *testing.T, rec *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	cs := rec.Result().Cookies()
	if len(cs) != 1 {
		t.Fatalf("response sets %d cookies, want 1: %v", len(cs), rec.Header()["Set-Cookie"])
	}
	return cs[0]
}

// requestWith returns a request carrying c.
func requestWith(c *http.Cookie) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/oauth2/authorize", nil)
	if c != nil {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	return r
}

func TestSessionStartCookie(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  identity.SessionConfig
		want http.Cookie
	}{
		{
			name: "defaults",
			cfg:  identity.SessionConfig{},
			want: http.Cookie{Name: "portcullis_session", Path: "/", MaxAge: 8 * 3600, HttpOnly: true, SameSite: http.SameSiteLaxMode},
		},
		{
			name: "configured",
			cfg:  identity.SessionConfig{CookieName: "sid", TTL: 30 * time.Minute, Secure: true, Path: "/auth"},
			want: http.Cookie{Name: "sid", Path: "/auth", MaxAge: 1800, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode},
		},
		{
			name: "sub-second ttl rounds up",
			cfg:  identity.SessionConfig{TTL: 1500 * time.Millisecond},
			want: http.Cookie{Name: "portcullis_session", Path: "/", MaxAge: 2, HttpOnly: true, SameSite: http.SameSiteLaxMode},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &identitytest.SessionStore{}
			clk := newClock()
			s := identity.NewSessions(st, tc.cfg, clk.Now)
			rec := httptest.NewRecorder()
			authTime := clk.Now().Add(-time.Second)
			sess, err := s.Start(ctx(), rec, "user-1", authTime)
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			c := onlyCookie(t, rec)
			if len(c.Value) != 43 {
				t.Errorf("cookie value is %d characters, want 43 (32 bytes base64url)", len(c.Value))
			}
			got := http.Cookie{Name: c.Name, Path: c.Path, MaxAge: c.MaxAge, Secure: c.Secure, HttpOnly: c.HttpOnly, SameSite: c.SameSite}
			if got.String() != tc.want.String() {
				t.Errorf("cookie attributes: got %q, want %q", got.String(), tc.want.String())
			}
			ttl := tc.cfg.TTL
			if ttl == 0 {
				ttl = 8 * time.Hour
			}
			digest := sha256.Sum256([]byte(c.Value))
			want := store.Session{Digest: digest[:], Subject: "user-1", AuthTime: authTime, ExpiresAt: clk.Now().Add(ttl)}
			if diff := cmp.Diff(want, sess); diff != "" {
				t.Errorf("Start returned (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]store.Session{want}, st.Sessions()); diff != "" {
				t.Errorf("stored sessions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSessionStartFreshValues(t *testing.T) {
	s := identity.NewSessions(&identitytest.SessionStore{}, identity.SessionConfig{}, nil)
	a, b := httptest.NewRecorder(), httptest.NewRecorder()
	if _, err := s.Start(ctx(), a, "u", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(ctx(), b, "u", time.Now()); err != nil {
		t.Fatal(err)
	}
	if onlyCookie(t, a).Value == onlyCookie(t, b).Value {
		t.Error("two sessions got the same cookie value")
	}
}

func TestSessionStartErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		st      *identitytest.SessionStore
		subject string
		want    error
	}{
		{"no subject", &identitytest.SessionStore{}, "", identity.ErrNoSubject},
		{"store down", &identitytest.SessionStore{Err: errStoreDown}, "u", errStoreDown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := identity.NewSessions(tc.st, identity.SessionConfig{}, nil)
			rec := httptest.NewRecorder()
			if _, err := s.Start(ctx(), rec, tc.subject, time.Now()); !errors.Is(err, tc.want) {
				t.Errorf("Start err = %v, want %v", err, tc.want)
			}
			if sc := rec.Header()["Set-Cookie"]; len(sc) != 0 {
				t.Errorf("failed Start set cookies %q", sc)
			}
		})
	}
}

var errStoreDown = errors.New("store is down")

func TestSessionCurrent(t *testing.T) {
	st := &identitytest.SessionStore{}
	clk := newClock()
	s := identity.NewSessions(st, identity.SessionConfig{TTL: time.Hour}, clk.Now)
	rec := httptest.NewRecorder()
	started, err := s.Start(ctx(), rec, "user-1", clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	good := onlyCookie(t, rec)

	for _, tc := range []struct {
		name   string
		cookie *http.Cookie
		ok     bool
	}{
		{"no cookie", nil, false},
		{"valid", good, true},
		{"other cookie name", &http.Cookie{Name: "other", Value: good.Value}, false},
		{"unknown value", &http.Cookie{Name: good.Name, Value: strings.Repeat("A", 43)}, false},
		{"malformed value", &http.Cookie{Name: good.Name, Value: "not-a-session"}, false},
		{"truncated value", &http.Cookie{Name: good.Name, Value: good.Value[:42]}, false},
		{"the stored digest itself", &http.Cookie{Name: good.Name, Value: base64.RawURLEncoding.EncodeToString(started.Digest)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := s.Current(ctx(), requestWith(tc.cookie))
			if ok != tc.ok {
				t.Fatalf("Current ok = %v, want %v", ok, tc.ok)
			}
			if ok && got.Subject != "user-1" {
				t.Errorf("Current subject = %q, want %q", got.Subject, "user-1")
			}
		})
	}

	t.Run("store down", func(t *testing.T) {
		down := identity.NewSessions(&identitytest.SessionStore{Err: errStoreDown}, identity.SessionConfig{}, clk.Now)
		if _, ok := down.Current(ctx(), requestWith(good)); ok {
			t.Error("Current = true while the store fails, want false")
		}
	})
}

func TestSessionExpiry(t *testing.T) {
	for _, tc := range []struct {
		name      string
		advance   time.Duration
		ok        bool
		wantStore int
	}{
		{"just before expiry", time.Hour - time.Nanosecond, true, 1},
		{"at expiry", time.Hour, false, 0},
		{"long after", 48 * time.Hour, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &identitytest.SessionStore{}
			clk := newClock()
			s := identity.NewSessions(st, identity.SessionConfig{TTL: time.Hour}, clk.Now)
			rec := httptest.NewRecorder()
			if _, err := s.Start(ctx(), rec, "user-1", clk.Now()); err != nil {
				t.Fatal(err)
			}
			clk.Advance(tc.advance)
			if _, ok := s.Current(ctx(), requestWith(onlyCookie(t, rec))); ok != tc.ok {
				t.Errorf("Current ok = %v, want %v", ok, tc.ok)
			}
			if got := st.Len(); got != tc.wantStore {
				t.Errorf("store holds %d sessions, want %d (expired ones are deleted)", got, tc.wantStore)
			}
		})
	}
}

func TestSessionEnd(t *testing.T) {
	for _, tc := range []struct {
		name      string
		withValue bool
		storeErr  error
	}{
		{"live session", true, nil},
		{"no cookie", false, nil},
		{"store down", true, errStoreDown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &identitytest.SessionStore{}
			clk := newClock()
			s := identity.NewSessions(st, identity.SessionConfig{Path: "/auth", Secure: true}, clk.Now)
			start := httptest.NewRecorder()
			if _, err := s.Start(ctx(), start, "user-1", clk.Now()); err != nil {
				t.Fatal(err)
			}
			var c *http.Cookie
			if tc.withValue {
				c = onlyCookie(t, start)
			}
			st.Err = tc.storeErr
			rec := httptest.NewRecorder()
			if err := s.End(ctx(), rec, requestWith(c)); !errors.Is(err, tc.storeErr) {
				t.Fatalf("End err = %v, want %v", err, tc.storeErr)
			}
			cleared := onlyCookie(t, rec)
			if cleared.Name != "portcullis_session" || cleared.Value != "" || cleared.MaxAge >= 0 ||
				cleared.Path != "/auth" || !cleared.Secure || !cleared.HttpOnly {
				t.Errorf("End set cookie %q, want an empty, expired portcullis_session on /auth", cleared.String())
			}
			st.Err = nil
			wantLeft := 1
			if tc.withValue && tc.storeErr == nil {
				wantLeft = 0
			}
			if got := st.Len(); got != wantLeft {
				t.Errorf("store holds %d sessions after End, want %d", got, wantLeft)
			}
			if tc.withValue && tc.storeErr == nil {
				if _, ok := s.Current(ctx(), requestWith(c)); ok {
					t.Error("ended session is still current")
				}
			}
		})
	}
}
