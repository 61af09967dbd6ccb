package identity_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/identity"
)

// browser returns a fresh browser's cookie and form token from g.
func browser(t *testing.T, g *identity.CSRF) (*http.Cookie, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	tok := g.Token(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	return onlyCookie(t, rec), tok
}

func TestCSRFTokenSetsCookie(t *testing.T) {
	for _, secure := range []bool{false, true} {
		g := identity.NewCSRF(testKey, secure)
		c, tok := browser(t, g)
		if c.Name != identity.CSRFCookieName || c.Path != "/" || !c.HttpOnly || c.Secure != secure ||
			c.SameSite != http.SameSiteLaxMode || len(c.Value) != 43 {
			t.Errorf("secure=%v: cookie %q, want portcullis_csrf, Path=/, HttpOnly, SameSite=Lax, Secure=%v, 43-char value",
				secure, c.String(), secure)
		}
		if tok == "" || tok == c.Value {
			t.Errorf("token %q must be non-empty and differ from the cookie value", tok)
		}
	}
}

func TestCSRFTokenReusesCookie(t *testing.T) {
	g := identity.NewCSRF(testKey, true)
	c, first := browser(t, g)
	rec := httptest.NewRecorder()
	second := g.Token(rec, requestWith(c))
	if sc := rec.Header()["Set-Cookie"]; len(sc) != 0 {
		t.Errorf("Token set %q although the request had a cookie", sc)
	}
	if second != first {
		t.Errorf("Token = %q for the same cookie, want %q", second, first)
	}
}

func TestCSRFTokenReplacesMalformedCookie(t *testing.T) {
	g := identity.NewCSRF(testKey, true)
	rec := httptest.NewRecorder()
	tok := g.Token(rec, requestWith(&http.Cookie{Name: identity.CSRFCookieName, Value: "planted"}))
	c := onlyCookie(t, rec)
	if c.Value == "planted" {
		t.Fatal("Token kept a malformed cookie")
	}
	if !g.Valid(requestWith(c), tok) {
		t.Error("token does not match the replacement cookie")
	}
}

func TestCSRFValid(t *testing.T) {
	g := identity.NewCSRF(testKey, true)
	cookieA, tokA := browser(t, g)
	cookieB, tokB := browser(t, g)
	other := identity.NewCSRF([]byte("another key, 32 bytes long......"), true)
	tokOther := other.Token(httptest.NewRecorder(), requestWith(cookieA))

	flip := []byte(tokA)
	flip[0] ^= 1

	for _, tc := range []struct {
		name   string
		cookie *http.Cookie
		value  string
		want   bool
	}{
		{"matching", cookieA, tokA, true},
		{"matching other browser", cookieB, tokB, true},
		{"missing cookie", nil, tokA, false},
		{"empty value", cookieA, "", false},
		{"cross cookie", cookieA, tokB, false},
		{"cookie value as token", cookieA, cookieA.Value, false},
		{"one bit off", cookieA, string(flip), false},
		{"padded", cookieA, tokA + "=", false},
		{"truncated", cookieA, tokA[:len(tokA)-1], false},
		{"std base64 alphabet", cookieA, strings.NewReplacer("-", "+", "_", "/").Replace(tokA), tokA == strings.NewReplacer("-", "+", "_", "/").Replace(tokA)},
		{"other key", cookieA, tokOther, false},
		{"planted cookie, unsigned token", &http.Cookie{Name: identity.CSRFCookieName, Value: strings.Repeat("A", 43)}, strings.Repeat("A", 43), false},
		{"malformed cookie", &http.Cookie{Name: identity.CSRFCookieName, Value: "x"}, tokA, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := g.Valid(requestWith(tc.cookie), tc.value); got != tc.want {
				t.Errorf("Valid = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNewCSRFShortKeyPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewCSRF with a 16-byte key did not panic")
		}
	}()
	identity.NewCSRF(make([]byte, 16), true)
}

// FuzzCSRFValid checks that no cookie and form value an attacker chooses
// passes Valid unless it is the token Token would have issued.
func FuzzCSRFValid(f *testing.F) {
	f.Add(strings.Repeat("A", 43), strings.Repeat("A", 43))
	f.Add("", "")
	f.Add("not-base64!!", "x")
	g := identity.NewCSRF(testKey, true)
	f.Fuzz(func(t *testing.T, cookie, value string) {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Header.Set("Cookie", identity.CSRFCookieName+"="+cookie)
		if !g.Valid(r, value) {
			return
		}
		rec := httptest.NewRecorder()
		if want := g.Token(rec, r); value != want {
			t.Fatalf("Valid accepted %q for cookie %q; the issued token is %q", value, cookie, want)
		}
	})
}
