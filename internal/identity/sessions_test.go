package identity_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/identity"
	"github.com/portcullis/portcullis/internal/identity/identitytest"
	"github.com/portcullis/portcullis/internal/logtest"
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
			name: "secure defaults take the __Host- prefix",
			cfg:  identity.SessionConfig{Secure: true},
			want: http.Cookie{Name: "__Host-portcullis_session", Path: "/", MaxAge: 8 * 3600, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode},
		},
		{
			name: "secure on a narrower path keeps the plain name",
			cfg:  identity.SessionConfig{Secure: true, Path: "/auth"},
			want: http.Cookie{Name: "portcullis_session", Path: "/auth", MaxAge: 8 * 3600, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode},
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
			got, ok, err := s.Current(ctx(), requestWith(tc.cookie))
			if err != nil {
				t.Fatalf("Current err = %v, want nil", err)
			}
			if ok != tc.ok {
				t.Fatalf("Current ok = %v, want %v", ok, tc.ok)
			}
			if ok && got.Subject != "user-1" {
				t.Errorf("Current subject = %q, want %q", got.Subject, "user-1")
			}
		})
	}

	// A store failure is an error, not "no session": the caller answers
	// it as the server failure it is instead of a login page.
	t.Run("store down", func(t *testing.T) {
		down := identity.NewSessions(&identitytest.SessionStore{Err: errStoreDown}, identity.SessionConfig{}, clk.Now)
		_, ok, err := down.Current(ctx(), requestWith(good))
		if ok || !errors.Is(err, errStoreDown) {
			t.Errorf("Current = %v, %v while the store fails, want false, %v", ok, err, errStoreDown)
		}
	})
	t.Run("no cookie with the store down", func(t *testing.T) {
		down := identity.NewSessions(&identitytest.SessionStore{Err: errStoreDown}, identity.SessionConfig{}, clk.Now)
		if _, ok, err := down.Current(ctx(), requestWith(nil)); ok || err != nil {
			t.Errorf("Current = %v, %v without a cookie, want false, nil (no lookup)", ok, err)
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
			if _, ok, err := s.Current(ctx(), requestWith(onlyCookie(t, rec))); ok != tc.ok || err != nil {
				t.Errorf("Current = %v, %v, want %v, nil", ok, err, tc.ok)
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
				if _, ok, _ := s.Current(ctx(), requestWith(c)); ok {
					t.Error("ended session is still current")
				}
			}
		})
	}
}

// TestSessionCookieName: a session cookie for an https issuer is
// __Host-portcullis_session, Secure, Path=/ and without Domain, so a
// sibling subdomain cannot plant one; on a plain-http loopback issuer,
// where browsers refuse __Host- without Secure, it keeps the plain name.
// Start, Current and End all use the one name.
func TestSessionCookieName(t *testing.T) {
	for _, tc := range []struct {
		name   string
		secure bool
		want   string
	}{
		{"https issuer", true, identity.SessionHostCookieName},
		{"loopback http issuer", false, identity.SessionCookieName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &identitytest.SessionStore{}
			s := identity.NewSessions(st, identity.SessionConfig{Secure: tc.secure, Path: "/"}, newClock().Now)
			if got := s.CookieName(); got != tc.want {
				t.Errorf("CookieName() = %q, want %q", got, tc.want)
			}
			rec := httptest.NewRecorder()
			if _, err := s.Start(ctx(), rec, "user-1", time.Now()); err != nil {
				t.Fatal(err)
			}
			set := rec.Header().Get("Set-Cookie")
			c := onlyCookie(t, rec)
			if c.Name != tc.want || c.Secure != tc.secure || c.Path != "/" || c.Domain != "" || !c.HttpOnly {
				t.Errorf("Start set %q, want %s with Secure=%v, Path=/, no Domain, HttpOnly", set, tc.want, tc.secure)
			}
			if strings.Contains(strings.ToLower(set), "domain=") {
				t.Errorf("Start set %q, want no Domain attribute", set)
			}
			if _, ok, err := s.Current(ctx(), requestWith(c)); !ok || err != nil {
				t.Errorf("Current with %s = %v, %v, want true, nil", c.Name, ok, err)
			}
			other := &http.Cookie{Name: identity.SessionCookieName, Value: c.Value}
			if tc.secure {
				// The plain name is not read on https: a cookie planted
				// under it (it has no prefix to protect it) is ignored.
				if _, ok, _ := s.Current(ctx(), requestWith(other)); ok {
					t.Error("Current accepted the session under the plain name on https")
				}
			}
			end := httptest.NewRecorder()
			if err := s.End(ctx(), end, requestWith(c)); err != nil {
				t.Fatal(err)
			}
			if cleared := onlyCookie(t, end); cleared.Name != tc.want || cleared.Path != "/" || cleared.Secure != tc.secure {
				t.Errorf("End cleared %q, want %s on /", cleared.String(), tc.want)
			}
		})
	}
}

// deleteFails is a session store whose deletes fail.
type deleteFails struct{ *identitytest.SessionStore }

func (deleteFails) DeleteSession(context.Context, []byte) error { return errStoreDown }

// TestSessionExpiredDeleteFailureLogged: an expired session is refused
// even when its delete fails, and the failure is logged (without the
// cookie), not dropped.
func TestSessionExpiredDeleteFailureLogged(t *testing.T) {
	var logs logtest.Buffer
	st := deleteFails{&identitytest.SessionStore{}}
	clk := newClock()
	s := identity.NewSessions(st, identity.SessionConfig{TTL: time.Hour,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)).With("component", "sessions")}, clk.Now)
	rec := httptest.NewRecorder()
	if _, err := s.Start(ctx(), rec, "user-1", clk.Now()); err != nil {
		t.Fatal(err)
	}
	c := onlyCookie(t, rec)
	clk.Advance(2 * time.Hour)
	if _, ok, err := s.Current(ctx(), requestWith(c)); ok || err != nil {
		t.Errorf("Current of an expired session = %v, %v, want false, nil", ok, err)
	}
	got := logs.String()
	if !strings.Contains(got, "level=WARN") || !strings.Contains(got, "delete expired session") ||
		!strings.Contains(got, "component=sessions") || !strings.Contains(got, errStoreDown.Error()) {
		t.Errorf("log = %q, want a warning naming the failed delete", got)
	}
	if strings.Contains(got, c.Value) {
		t.Errorf("log %q holds the session cookie", got)
	}
}
