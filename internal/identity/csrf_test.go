package identity_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/identity"
)

// Bindings stand for the nonces sealed in two pending authorization
// requests.
const (
	bindingA = "nonce-of-request-A"
	bindingB = "nonce-of-request-B"
)

// browser returns a fresh browser's cookie and form token from g, bound
// to binding.
func browser(t *testing.T, g *identity.CSRF, binding string) (*http.Cookie, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	tok := g.Token(rec, httptest.NewRequest(http.MethodGet, "/", nil), binding)
	return onlyCookie(t, rec), tok
}

func TestCSRFTokenSetsCookie(t *testing.T) {
	for _, tc := range []struct {
		secure   bool
		wantName string
	}{
		// Loopback http: browsers refuse __Host- without Secure.
		{false, "portcullis_csrf"},
		{true, "__Host-portcullis_csrf"},
	} {
		g := identity.NewCSRF(testKey, tc.secure)
		c, tok := browser(t, g, bindingA)
		// __Host- requires Secure, Path=/ and no Domain (RFC 6265bis
		// §4.1.3.2); a browser would drop the cookie otherwise.
		if c.Name != tc.wantName || g.CookieName() != tc.wantName || c.Path != "/" || c.Domain != "" || !c.HttpOnly ||
			c.Secure != tc.secure || c.SameSite != http.SameSiteLaxMode || len(c.Value) != 43 {
			t.Errorf("secure=%v: cookie %q, want %s, Path=/, no Domain, HttpOnly, SameSite=Lax, Secure=%v, 43-char value",
				tc.secure, c.String(), tc.wantName, tc.secure)
		}
		if tok == "" || tok == c.Value {
			t.Errorf("token %q must be non-empty and differ from the cookie value", tok)
		}
		if !g.Valid(requestWith(c), tok, bindingA) {
			t.Errorf("secure=%v: token does not validate with its own cookie", tc.secure)
		}
	}
}

func TestCSRFIgnoresCookieOfOtherName(t *testing.T) {
	// A plain-named cookie (which a sibling subdomain or an http page
	// could plant) is not read by a guard using __Host-.
	plain := identity.NewCSRF(testKey, false)
	c, tok := browser(t, plain, bindingA)
	hostOnly := identity.NewCSRF(testKey, true)
	if hostOnly.Valid(requestWith(c), tok, bindingA) {
		t.Error("a __Host- guard accepted a cookie without the prefix")
	}
}

func TestCSRFTokenReusesCookie(t *testing.T) {
	g := identity.NewCSRF(testKey, true)
	c, first := browser(t, g, bindingA)
	rec := httptest.NewRecorder()
	second := g.Token(rec, requestWith(c), bindingA)
	if sc := rec.Header()["Set-Cookie"]; len(sc) != 0 {
		t.Errorf("Token set %q although the request had a cookie", sc)
	}
	if second != first {
		t.Errorf("Token = %q for the same cookie and binding, want %q", second, first)
	}
}

func TestCSRFTokenReplacesMalformedCookie(t *testing.T) {
	g := identity.NewCSRF(testKey, true)
	rec := httptest.NewRecorder()
	tok := g.Token(rec, requestWith(&http.Cookie{Name: g.CookieName(), Value: "planted"}), bindingA)
	c := onlyCookie(t, rec)
	if c.Value == "planted" {
		t.Fatal("Token kept a malformed cookie")
	}
	if !g.Valid(requestWith(c), tok, bindingA) {
		t.Error("token does not match the replacement cookie")
	}
}

func TestCSRFValid(t *testing.T) {
	g := identity.NewCSRF(testKey, true)
	cookieA, tokA := browser(t, g, bindingA)
	cookieB, tokB := browser(t, g, bindingA)
	other := identity.NewCSRF([]byte("another key, 32 bytes long......"), true)
	tokOther := other.Token(httptest.NewRecorder(), requestWith(cookieA), bindingA)
	// The same browser's token for another pending request.
	tokAForB := g.Token(httptest.NewRecorder(), requestWith(cookieA), bindingB)

	flip := []byte(tokA)
	flip[0] ^= 1

	for _, tc := range []struct {
		name    string
		cookie  *http.Cookie
		value   string
		binding string
		want    bool
	}{
		{"matching", cookieA, tokA, bindingA, true},
		{"matching other browser", cookieB, tokB, bindingA, true},
		{"matching other request", cookieA, tokAForB, bindingB, true},
		// The attack: a (cookie, token) pair obtained for request A,
		// posted with request B.
		{"token of request A with request B", cookieA, tokA, bindingB, false},
		{"token of request B with request A", cookieA, tokAForB, bindingA, false},
		{"empty binding", cookieA, g.Token(httptest.NewRecorder(), requestWith(cookieA), ""), "", false},
		{"over-long binding", cookieA, g.Token(httptest.NewRecorder(), requestWith(cookieA), strings.Repeat("n", 257)), strings.Repeat("n", 257), false},
		{"missing cookie", nil, tokA, bindingA, false},
		{"empty value", cookieA, "", bindingA, false},
		{"cross cookie", cookieA, tokB, bindingA, false},
		{"cookie value as token", cookieA, cookieA.Value, bindingA, false},
		{"one bit off", cookieA, string(flip), bindingA, false},
		{"padded", cookieA, tokA + "=", bindingA, false},
		{"truncated", cookieA, tokA[:len(tokA)-1], bindingA, false},
		{"std base64 alphabet", cookieA, strings.NewReplacer("-", "+", "_", "/").Replace(tokA), bindingA, tokA == strings.NewReplacer("-", "+", "_", "/").Replace(tokA)},
		{"other key", cookieA, tokOther, bindingA, false},
		{"planted cookie, unsigned token", &http.Cookie{Name: g.CookieName(), Value: strings.Repeat("A", 43)}, strings.Repeat("A", 43), bindingA, false},
		{"malformed cookie", &http.Cookie{Name: g.CookieName(), Value: "x"}, tokA, bindingA, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := g.Valid(requestWith(tc.cookie), tc.value, tc.binding); got != tc.want {
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

// FuzzCSRFValid checks that no cookie, form value and binding an attacker
// chooses passes Valid unless it is the token Token would have issued.
func FuzzCSRFValid(f *testing.F) {
	f.Add(strings.Repeat("A", 43), strings.Repeat("A", 43), "n")
	f.Add("", "", "")
	f.Add("not-base64!!", "x", "nonce")
	g := identity.NewCSRF(testKey, true)
	f.Fuzz(func(t *testing.T, cookie, value, binding string) {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Header.Set("Cookie", g.CookieName()+"="+cookie)
		if !g.Valid(r, value, binding) {
			return
		}
		rec := httptest.NewRecorder()
		if want := g.Token(rec, r, binding); value != want {
			t.Fatalf("Valid accepted %q for cookie %q and binding %q; the issued token is %q", value, cookie, binding, want)
		}
	})
}
