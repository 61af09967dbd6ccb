package tokenhandler

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// pendingLogin is what the temporary login cookie holds between
// login/start and login/end: the values that bind the authorization
// response to this browser (RFC 6749 §10.12, RFC 7636, OpenID Connect
// Core §3.1.2.1 nonce).
type pendingLogin struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
}

// loginStartResponse is POST login/start's answer.
type loginStartResponse struct {
	AuthorizationRequestURL string `json:"authorizationRequestUrl"`
}

// loginStart begins the code flow: fresh state, nonce and PKCE verifier
// (S256, RFC 7636 §4.2) go into the sealed login cookie, and the SPA
// navigates to the authorization request URL it gets back.
func (h *Handler) loginStart(w http.ResponseWriter, r *http.Request) error {
	ic, err := h.disc.get(r.Context())
	if err != nil {
		return fail(problemIssuerUnavailable, err)
	}
	var p pendingLogin
	if p.State, err = randomValue(); err != nil {
		return err
	}
	if p.Nonce, err = randomValue(); err != nil {
		return err
	}
	p.Verifier = oauth2.GenerateVerifier()
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	var sc setCookies
	if err := h.jar.add(&sc, kindLogin, b, h.now().Add(LoginLifetime)); err != nil {
		return err
	}
	sc.write(w)
	u := ic.oauth.AuthCodeURL(p.State, oauth2.S256ChallengeOption(p.Verifier), oidc.Nonce(p.Nonce))
	return writeJSON(w, http.StatusOK, loginStartResponse{AuthorizationRequestURL: u})
}

// loginEndRequest is POST login/end's body: the URL the SPA's page was
// loaded with.
type loginEndRequest struct {
	PageURL string `json:"pageUrl"`
}

// loginEndResponse is POST login/end's answer. CSRF is set whenever a
// session exists: the SPA keeps it in memory for CSRFHeader.
type loginEndResponse struct {
	IsLoggedIn bool   `json:"isLoggedIn"`
	Handled    bool   `json:"handled"`
	CSRF       string `json:"csrf,omitempty"`
}

// loginEnd is called by the SPA on every page load. When the page URL
// is an authorization response for the pending login it finishes the
// flow; otherwise it says whether a session exists.
func (h *Handler) loginEnd(w http.ResponseWriter, r *http.Request) error {
	var req loginEndRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	page, err := url.Parse(req.PageURL)
	if err != nil || !page.IsAbs() {
		return fail(problemBadRequest, errors.New("pageUrl is not an absolute URL"))
	}
	q := page.Query()
	hasCode, hasError := q.Has("code"), q.Has("error")
	if !hasCode && !hasError {
		csrf, ok := h.sessionCSRF(r)
		return writeJSON(w, http.StatusOK, loginEndResponse{IsLoggedIn: ok, Handled: false, CSRF: csrf})
	}
	if hasCode && hasError {
		return fail(problemBadRequest, errors.New("pageUrl carries both code and error"))
	}
	if !h.isRedirectURI(page) {
		return fail(problemNotRedirect, nil)
	}
	// From here on the pending login is used up, whatever the outcome:
	// one authorization response per login/start.
	var sc setCookies
	h.jar.clear(&sc, kindLogin)
	sc.write(w)
	pending, err := h.pendingLogin(r)
	if err != nil {
		return err
	}
	// RFC 6749 §10.12: the response must carry the state this browser
	// sent, or it answers someone else's request (login CSRF).
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(pending.State)) != 1 {
		return fail(problemStateMismatch, nil)
	}
	// RFC 9207 §2.4: an iss parameter must name our issuer (mix-up
	// defence).
	if q.Has("iss") && q.Get("iss") != h.cfg.Issuer {
		return fail(problemIssuerMismatch, nil)
	}
	if hasError {
		code := oauthErrorCode(q.Get("error"))
		return fail(authorizationError(code), fmt.Errorf("authorization response error %s", code))
	}
	return h.finishLogin(w, r, q.Get("code"), pending)
}

// finishLogin redeems the code, verifies the ID token and sets the
// session cookies.
func (h *Handler) finishLogin(w http.ResponseWriter, r *http.Request, code string, pending pendingLogin) error {
	ctx := r.Context()
	ic, err := h.disc.get(ctx)
	if err != nil {
		return fail(problemIssuerUnavailable, err)
	}
	tok, err := h.exchange(ctx, ic, code, pending.Verifier)
	if err != nil {
		return h.tokenFailure(err, problemLoginFailed, false)
	}
	id, err := h.verifyIDToken(ctx, ic, tok)
	if err != nil {
		return fail(problemLoginFailed, err)
	}
	// OpenID Connect Core §3.1.3.7 item 11: the nonce binds the ID
	// token to this login.
	if subtle.ConstantTimeCompare([]byte(id.nonce), []byte(pending.Nonce)) != 1 {
		return fail(problemLoginFailed, errors.New("id token nonce does not match the login"))
	}
	csrf, err := randomValue()
	if err != nil {
		return err
	}
	now := h.now()
	var sc setCookies
	if err := h.sessionCookies(&sc, tok, id.raw, now.Add(h.cfg.SessionLifetime.Duration()), now); err != nil {
		return err
	}
	if err := h.jar.add(&sc, kindCSRF, []byte(csrf), now.Add(h.cfg.SessionLifetime.Duration())); err != nil {
		return tooLarge(err)
	}
	sc.write(w)
	h.log.InfoContext(ctx, "login finished", "sub", id.subject)
	return writeJSON(w, http.StatusOK, loginEndResponse{IsLoggedIn: true, Handled: true, CSRF: csrf})
}

// pendingLogin opens the login cookie.
func (h *Handler) pendingLogin(r *http.Request) (pendingLogin, error) {
	b, _, err := h.jar.open(r, kindLogin)
	if err != nil {
		return pendingLogin{}, fail(problemNoLogin, fmt.Errorf("login cookie: %w", err))
	}
	var p pendingLogin
	if err := json.Unmarshal(b, &p); err != nil || p.State == "" || p.Nonce == "" || p.Verifier == "" {
		return pendingLogin{}, fail(problemNoLogin, errors.New("login cookie holds no pending login"))
	}
	return p, nil
}

// sessionCookies adds the token cookies of a token response. The access
// cookie lives as long as the token (never past AccessCookieLifetime or
// the session); the refresh and ID cookies until sessionEnd. A response
// without a refresh token removes an older one; one without an ID token
// (a refresh may omit it, OpenID Connect Core §12.2) keeps the old.
func (h *Handler) sessionCookies(sc *setCookies, tok *oauth2.Token, idRaw string, sessionEnd, now time.Time) error {
	atExp := now.Add(h.cfg.AccessCookieLifetime.Duration())
	// RFC 6749 §5.1: expires_in counts from the response, on our clock
	// (x/oauth2's Expiry is on time.Now's).
	if tok.ExpiresIn > 0 {
		if e := now.Add(time.Duration(tok.ExpiresIn) * time.Second); e.Before(atExp) {
			atExp = e
		}
	} else if !tok.Expiry.IsZero() && tok.Expiry.Before(atExp) {
		atExp = tok.Expiry
	}
	if sessionEnd.Before(atExp) {
		atExp = sessionEnd
	}
	if err := h.jar.add(sc, kindAccess, []byte(tok.AccessToken), atExp); err != nil {
		return tooLarge(err)
	}
	if tok.RefreshToken != "" {
		if err := h.jar.add(sc, kindRefresh, []byte(tok.RefreshToken), sessionEnd); err != nil {
			return tooLarge(err)
		}
	} else {
		h.jar.clear(sc, kindRefresh)
	}
	if idRaw != "" {
		if err := h.jar.add(sc, kindID, []byte(idRaw), sessionEnd); err != nil {
			return tooLarge(err)
		}
	}
	return nil
}

// tooLarge turns a CookieTooLargeError into its problem; the operator
// reads the cookie and size in the log.
func tooLarge(err error) error {
	if _, ok := errors.AsType[*CookieTooLargeError](err); ok {
		return fail(problemCookieTooLarge, err)
	}
	return err
}

// tokenFailure maps a failed grant: a refusal gets refused (ending the
// session when end is set), an outage gets 502 and keeps the session.
func (h *Handler) tokenFailure(err error, refused *Problem, end bool) error {
	if _, ok := errors.AsType[*errRefused](err); ok {
		if end {
			return failEnd(refused, err)
		}
		return fail(refused, err)
	}
	return fail(problemIssuerUnavailable, err)
}

// isRedirectURI reports whether page is the configured redirect URI,
// compared without its query: the authorization response was sent
// there and nowhere else (RFC 6749 §3.1.2).
func (h *Handler) isRedirectURI(page *url.URL) bool {
	want, err := url.Parse(h.cfg.RedirectURI)
	return err == nil && page.Scheme == want.Scheme && strings.EqualFold(page.Host, want.Host) &&
		page.EscapedPath() == want.EscapedPath()
}

// errorCodeRe is the shape of the OAuth error codes answered back:
// RFC 6749 §4.1.2.1 defines lower-case words joined by "_"; a longer or
// odder value is someone's text, not a code.
var errorCodeRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

func oauthErrorCode(s string) string {
	if errorCodeRe.MatchString(s) {
		return s
	}
	return "invalid_request"
}
