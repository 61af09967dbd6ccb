package console

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// Cookie names. With Secure the __Host- prefix pins them to this origin
// and path / (RFC 6265bis §4.1.3.2), so no sibling host can plant one.
const (
	sessionCookie = "portcullis-console"
	loginCookie   = "portcullis-console-login"
	hostPrefix    = "__Host-"
)

// loginTTL bounds a sign-in from the redirect to the issuer to the
// callback.
const loginTTL = 10 * time.Minute

// The sealed cookies are bound to their use, so one cannot stand in for
// the other.
var (
	sessionAAD = []byte("portcullis console session v1")
	loginAAD   = []byte("portcullis console login v1")
)

// session is what the session cookie holds, sealed: the access token
// never reaches the browser in the clear.
type session struct {
	AccessToken string    `json:"at"`
	Subject     string    `json:"sub"`
	Username    string    `json:"name,omitempty"`
	CSRF        string    `json:"csrf"`
	Expires     time.Time `json:"exp"`
}

// pendingLogin is a sign-in under way (RFC 6749 §10.12 state, OIDC nonce,
// RFC 7636 verifier), sealed in the login cookie.
type pendingLogin struct {
	State    string    `json:"state"`
	Nonce    string    `json:"nonce"`
	Verifier string    `json:"verifier"`
	Expires  time.Time `json:"exp"`
}

func (c *Console) cookieName(base string) string {
	if c.o.Secure {
		return hostPrefix + base
	}
	return base
}

func (c *Console) cookiePath() string {
	if c.o.Secure {
		return "/" // required by the __Host- prefix
	}
	return Path
}

// setSealed seals v into cookie name. sameSite is Strict for the session;
// the login cookie is Lax, as it must come back on the issuer's redirect
// to the callback, a cross-site navigation when the issuer is elsewhere.
func (c *Console) setSealed(w http.ResponseWriter, name string, aad []byte, v any, maxAge time.Duration, sameSite http.SameSite) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	sealed, err := c.o.Sealer.Seal(b, aad)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: c.cookieName(name), Value: base64.RawURLEncoding.EncodeToString(sealed),
		Path: c.cookiePath(), MaxAge: int(maxAge.Seconds()),
		HttpOnly: true, Secure: c.o.Secure, SameSite: sameSite,
	})
	return nil
}

func (c *Console) clearCookie(w http.ResponseWriter, name string, sameSite http.SameSite) {
	http.SetCookie(w, &http.Cookie{
		Name: c.cookieName(name), Value: "", Path: c.cookiePath(), MaxAge: -1,
		HttpOnly: true, Secure: c.o.Secure, SameSite: sameSite,
	})
}

var errNoCookie = errors.New("console: no cookie")

// openSealed reads cookie name into v; an absent, tampered, foreign or
// expired cookie is an error.
func (c *Console) openSealed(r *http.Request, name string, aad []byte, v any) error {
	ck, err := r.Cookie(c.cookieName(name))
	if err != nil || ck.Value == "" {
		return errNoCookie
	}
	if len(ck.Value) > 4096 {
		return errors.New("console: cookie too long")
	}
	sealed, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil {
		return err
	}
	b, err := c.o.Sealer.Open(sealed, aad)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// readSession returns the caller's session, or an error when there is no
// valid, unexpired one.
func (c *Console) readSession(r *http.Request) (session, error) {
	var s session
	if err := c.openSealed(r, sessionCookie, sessionAAD, &s); err != nil {
		return session{}, err
	}
	if !c.o.Now().Before(s.Expires) || s.AccessToken == "" || s.CSRF == "" {
		return session{}, errors.New("console: session expired")
	}
	return s, nil
}

// randomString is 256 bits from crypto/rand, as base32 text.
func randomString() string {
	return rand.Text() + rand.Text()
}
