package identity

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
)

// CSRFCookieName is the name of the per-browser CSRF cookie.
const CSRFCookieName = "portcullis_csrf"

// csrfBytes is the entropy of the CSRF cookie value.
const csrfBytes = 32

// csrfKeyInfo separates the CSRF MAC key from every other use of the key
// the caller passes (it may well be the server's one secret key).
const csrfKeyInfo = "portcullis identity csrf v1"

// CSRF protects forms: a random per-browser cookie plus a form field holding
// an HMAC of it (signed double-submit), compared in constant time.
//
// The HMAC makes the pair unforgeable by an attacker who can plant a cookie
// (from a sibling subdomain, say) but does not hold the key: a plain
// double-submit cookie would accept any planted value (OWASP CSRF
// Prevention Cheat Sheet, "Signed Double-Submit Cookie").
type CSRF struct {
	key    []byte
	secure bool
}

// NewCSRF returns a CSRF guard keyed with key (32 bytes); secure sets the
// cookie's Secure attribute.
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
	return &CSRF{key: mk, secure: secure}
}

// Token returns the value to embed in a form served to r, setting the
// browser cookie on w first when r has none.
//
// Call it once per response: without a cookie on r, each call sets a new
// one and only the last token would match.
func (c *CSRF) Token(w http.ResponseWriter, r *http.Request) string {
	value, ok := c.cookieValue(r)
	if !ok {
		value = randomToken(csrfBytes)
		http.SetCookie(w, &http.Cookie{
			Name:  CSRFCookieName,
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
	return base64.RawURLEncoding.EncodeToString(c.mac(value))
}

// Valid reports whether the form field value matches r's cookie.
//
// A missing or malformed cookie or field is invalid.
func (c *CSRF) Valid(r *http.Request, value string) bool {
	cookie, ok := c.cookieValue(r)
	if !ok {
		return false
	}
	got, ok := decodeToken(value, sha256.Size)
	if !ok {
		return false
	}
	return hmac.Equal(got, c.mac(cookie))
}

// cookieValue returns r's CSRF cookie if it has the shape Token gives it.
func (c *CSRF) cookieValue(r *http.Request) (string, bool) {
	ck, err := r.Cookie(CSRFCookieName)
	if err != nil {
		return "", false
	}
	if _, ok := decodeToken(ck.Value, csrfBytes); !ok {
		return "", false
	}
	return ck.Value, true
}

func (c *CSRF) mac(cookie string) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(cookie))
	return m.Sum(nil)
}
