package identity

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
)

// CSRFCookieName is the name of the per-browser CSRF cookie when the
// issuer is plain http on a loopback address (a developer's machine),
// where browsers refuse the __Host- prefix because the cookie cannot be
// Secure.
const CSRFCookieName = "portcullis_csrf"

// CSRFHostCookieName is the name of the CSRF cookie everywhere else. The
// __Host- prefix (RFC 6265bis §4.1.3.2) makes browsers refuse the cookie
// unless it is Secure, has Path=/ and no Domain, so a sibling subdomain
// or a plain-http page cannot plant or overwrite it.
const CSRFHostCookieName = "__Host-" + CSRFCookieName

// csrfBytes is the entropy of the CSRF cookie value.
const csrfBytes = 32

// maxCSRFBinding bounds what a token may be bound to; a binding is a
// short random nonce, never user content.
const maxCSRFBinding = 256

// csrfKeyInfo separates the CSRF MAC key from every other use of the key
// the caller passes (it may well be the server's one secret key).
const csrfKeyInfo = "portcullis identity csrf v2"

// CSRF protects forms: a random per-browser cookie plus a form field holding
// an HMAC of it and of a binding (signed double-submit), compared in
// constant time.
//
// The HMAC makes the pair unforgeable by an attacker who can plant a cookie
// (from a sibling subdomain, say) but does not hold the key: a plain
// double-submit cookie would accept any planted value (OWASP CSRF
// Prevention Cheat Sheet, "Signed Double-Submit Cookie").
//
// The binding ties a token to the one pending request its form was made
// for: the caller passes a random nonce it keeps where the attacker cannot
// change it (the authorization endpoint seals it inside the authorization
// request). Without it, an attacker could fetch a form for themselves and
// pair their own cookie and token with a victim's sealed request; with
// it, a token is valid only next to the request it was issued with.
type CSRF struct {
	key    []byte
	secure bool
	name   string
}

// NewCSRF returns a CSRF guard keyed with key (32 bytes); secure sets the
// cookie's Secure attribute and, with it, the __Host- name prefix
// (CSRFHostCookieName); without secure the cookie is CSRFCookieName.
//
// A key shorter than 32 bytes is a configuration bug that would make
// tokens guessable, so NewCSRF panics rather than return a weak guard.
// The MAC key is derived from key with HKDF-SHA-256, so the same secret
// can safely key other things too.
func NewCSRF(key []byte, secure bool) *CSRF {
	if len(key) < 32 {
		panic("identity: csrf key must be at least 32 bytes")
	}
	mk, err := hkdf.Key(sha256.New, key, nil, csrfKeyInfo, sha256.Size)
	if err != nil {
		// Unreachable: 32 bytes is far below HKDF-SHA-256's output limit.
		panic("identity: derive csrf key: " + err.Error())
	}
	name := CSRFCookieName
	if secure {
		name = CSRFHostCookieName
	}
	return &CSRF{key: mk, secure: secure, name: name}
}

// CookieName returns the name of the cookie this guard sets and reads.
func (c *CSRF) CookieName() string { return c.name }

// Token returns the value to embed in a form served to r, bound to
// binding (see CSRF), setting the browser cookie on w first when r has
// none. An empty or over-long binding yields a token Valid never accepts.
//
// Call it once per response: without a cookie on r, each call sets a new
// one and only the last token would match.
func (c *CSRF) Token(w http.ResponseWriter, r *http.Request, binding string) string {
	value, ok := c.cookieValue(r)
	if !ok {
		value = randomToken(csrfBytes)
		http.SetCookie(w, &http.Cookie{
			Name:  c.name,
			Value: value,
			Path:  "/",
			// No Max-Age: the cookie lives as long as the browser
			// session, so an open login tab keeps working.
			Secure:   c.secure,
			HttpOnly: true,
			// Lax, not Strict: arriving from the client's site is a
			// cross-site navigation, and Strict would withhold the
			// cookie, replace it and break other open login tabs.
			SameSite: http.SameSiteLaxMode,
		})
	}
	return base64.RawURLEncoding.EncodeToString(c.mac(value, binding))
}

// Valid reports whether the form field value matches r's cookie and
// binding.
//
// A missing or malformed cookie or field, and an empty or over-long
// binding, are invalid.
func (c *CSRF) Valid(r *http.Request, value, binding string) bool {
	if binding == "" || len(binding) > maxCSRFBinding {
		return false
	}
	cookie, ok := c.cookieValue(r)
	if !ok {
		return false
	}
	got, ok := decodeToken(value, sha256.Size)
	if !ok {
		return false
	}
	return hmac.Equal(got, c.mac(cookie, binding))
}

// cookieValue returns r's CSRF cookie if it has the shape Token gives it.
func (c *CSRF) cookieValue(r *http.Request) (string, bool) {
	ck, err := r.Cookie(c.name)
	if err != nil {
		return "", false
	}
	if _, ok := decodeToken(ck.Value, csrfBytes); !ok {
		return "", false
	}
	return ck.Value, true
}

// mac is HMAC(key, cookie || 0x00 || binding). The cookie has a fixed
// length and no NUL, so no two (cookie, binding) pairs share an input.
func (c *CSRF) mac(cookie, binding string) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(cookie))
	m.Write([]byte{0})
	m.Write([]byte(binding))
	return m.Sum(nil)
}
