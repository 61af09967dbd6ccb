package oauth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/identity"
	"github.com/portcullis/portcullis/internal/loopback"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/token"
)

// authRequest is a validated authorization request (RFC 6749 §4.1.1). It
// travels through the login and consent forms sealed with the master key,
// so a browser can carry it but not read or alter it.
type authRequest struct {
	ClientID string `json:"c"`
	// RedirectURI is where the response goes; RedirectGiven records
	// whether the request named it, which decides whether the token request
	// must repeat it (RFC 6749 §4.1.3).
	RedirectURI   string   `json:"r"`
	RedirectGiven bool     `json:"rg,omitempty"`
	Scopes        []string `json:"s"`
	State         string   `json:"st,omitempty"`
	Nonce         string   `json:"n,omitempty"`
	Challenge     string   `json:"cc"`
	Audience      []string `json:"a,omitempty"`
	Prompt        []string `json:"p,omitempty"`
	// MaxAge is OpenID Connect's max_age in seconds; -1 when absent.
	MaxAge int64 `json:"ma"`
	// Subject is set once the user has logged in, binding the consent form
	// to that user.
	Subject  string `json:"sub,omitempty"`
	IssuedAt int64  `json:"iat"`
	// DPoPJKT is the dpop_jkt parameter (RFC 9449 §10): the thumbprint
	// of the DPoP key the code is bound to; empty when none is asked.
	DPoPJKT string `json:"jkt,omitempty"`
	// CSRFNonce is a random value the forms' CSRF tokens are bound to
	// (identity.CSRF), so a token is valid only with the sealed request
	// it was issued for: an attacker's own cookie and token, fetched for
	// a request of theirs, cannot be posted with a victim's request.
	CSRFNonce string `json:"x"`
}

// requestLifetime bounds how long a user may take between the
// authorization request and the last form.
const requestLifetime = 10 * time.Minute

var sealAAD = []byte("portcullis authorize request v1")

// authorize is the authorization endpoint (RFC 6749 §3.1, §4.1.1;
// OpenID Connect Core §3.1.2). GET and POST are both accepted (Core
// §3.1.2.1).
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	var params url.Values
	switch r.Method {
	case http.MethodGet:
		params = r.URL.Query()
	case http.MethodPost:
		ct := r.Header.Get("Content-Type")
		if !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
			s.errorPage(w, http.StatusBadRequest, "Invalid request", "The authorization request could not be read.")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			s.errorPage(w, http.StatusBadRequest, "Invalid request", "The authorization request could not be read.")
			return
		}
		params = r.PostForm
	default:
		w.Header().Set("Allow", "GET, POST")
		s.errorPage(w, http.StatusMethodNotAllowed, "Invalid request", "The authorization endpoint accepts GET and POST only.")
		return
	}
	client, ok := s.resolveClient(r.Context(), w, params)
	if !ok {
		return
	}
	req, e := s.validateAuthorize(params, client)
	if e != nil {
		s.redirectError(w, r, req, e)
		return
	}
	ctx := r.Context()
	// From here the client and its redirect URI are genuine, so a failure
	// on our side goes back to the client as server_error (RFC 6749
	// §4.1.2.1) rather than a login page that could never succeed.
	sess, hasSession, err := s.o.Sessions.Current(ctx, r)
	if err != nil {
		s.redirectError(w, r, req, s.serverError(ctx, "read login session", err))
		return
	}
	if hasSession && !slices.Contains(req.Prompt, "login") && !tooOld(sess.AuthTime, req.MaxAge, s.now()) {
		u, err := s.o.Store.GetUser(ctx, sess.Subject)
		switch {
		case err == nil && !u.Disabled:
			s.proceed(w, r, req, client, u, sess.AuthTime)
			return
		case err == nil || errors.Is(err, store.ErrNotFound):
			// The user was disabled or deleted since logging in: the
			// session no longer counts, and they are asked to log in.
			s.log.DebugContext(ctx, "session of an inactive user ignored", "client_id", client.ID)
		default:
			s.redirectError(w, r, req, s.serverError(ctx, "load session user", err))
			return
		}
	}
	if slices.Contains(req.Prompt, "none") {
		s.redirectError(w, r, req, badRequest(errLoginRequired, "the user is not logged in"))
		return
	}
	s.showLogin(w, r, req, client, http.StatusOK, "", "")
}

// resolveClient identifies the client and its redirect URI. Until both are
// known to be genuine, errors go to a page, never to a redirect (RFC 6749
// §4.1.2.1), so the endpoint cannot be used as an open redirector.
func (s *Server) resolveClient(ctx context.Context, w http.ResponseWriter, p url.Values) (store.Client, bool) {
	if len(p["client_id"]) != 1 || len(p["redirect_uri"]) > 1 {
		s.errorPage(w, http.StatusBadRequest, "Invalid request", "The request must name the client exactly once.")
		return store.Client{}, false
	}
	id := p.Get("client_id")
	c, err := s.o.Store.GetClient(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		s.errorPage(w, http.StatusBadRequest, "Unknown application", "The application that sent you here is not registered.")
		return store.Client{}, false
	} else if err != nil {
		s.failurePage(ctx, w, "load client", err)
		return store.Client{}, false
	}
	ru := p.Get("redirect_uri")
	if ru == "" && len(c.RedirectURIs) != 1 {
		s.errorPage(w, http.StatusBadRequest, "Invalid request", "The request must name a redirect URI.")
		return store.Client{}, false
	}
	if ru != "" && !redirectAllowed(c, ru) {
		s.errorPage(w, http.StatusBadRequest, "Invalid redirect", "The redirect URI is not registered for this application.")
		return store.Client{}, false
	}
	return c, true
}

// redirectAllowed is exact string matching (RFC 9700 §2.1, RFC 6749
// §3.1.2.3), with the one exception RFC 8252 §7.3 requires: a native app's
// loopback redirect may use any port.
//
// The exception is for native apps only (see nativeClient): a browser app
// that registered a loopback URI for development must get back exactly
// the port it registered, or any other program listening on the machine
// could receive its codes. It applies only to a registered loopback URI
// without a port, which is how RFC 8252 §7.3 has a native app register
// one, and the requested port must be a real one.
func redirectAllowed(c store.Client, uri string) bool {
	if slices.Contains(c.RedirectURIs, uri) {
		return true
	}
	if !nativeClient(c) {
		return false
	}
	// RFC 8252 §8.3: loopback IP literals only, never "localhost", which a
	// resolver could send elsewhere.
	got, err := url.Parse(uri)
	if err != nil || got.Scheme != "http" || !loopback.IP(got.Hostname()) || !validURLPort(got) ||
		got.User != nil || got.Fragment != "" || got.Opaque != "" {
		return false
	}
	for _, reg := range c.RedirectURIs {
		want, ok := portlessLoopback(reg)
		if ok && want.Hostname() == got.Hostname() && want.EscapedPath() == got.EscapedPath() &&
			want.RawQuery == got.RawQuery {
			return true
		}
	}
	return false
}

// nativeClient reports whether c is a native app in the sense of RFC 8252,
// judged from what registration recorded, since a client record has no
// "application type": a public client (no authentication, RFC 8252 §8.4)
// whose every redirect URI is one a native app uses and a browser app
// cannot: a loopback IP literal over http without a port (§7.3) or a
// private-use URI scheme (§7.1). One https or portful loopback redirect
// URI makes it a browser app (an SPA), matched exactly.
func nativeClient(c store.Client) bool {
	if c.AuthMethod != store.AuthNone || len(c.RedirectURIs) == 0 {
		return false
	}
	for _, reg := range c.RedirectURIs {
		if _, ok := portlessLoopback(reg); ok {
			continue
		}
		u, err := url.Parse(reg)
		if err != nil || u.Scheme == "" || u.Scheme == "http" || u.Scheme == "https" {
			return false
		}
	}
	return true
}

// portlessLoopback parses raw and reports whether it is an http URI on a
// loopback IP literal with no port, no user info and no fragment.
func portlessLoopback(raw string) (*url.URL, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || !loopback.IP(u.Hostname()) ||
		u.Port() != "" || strings.HasSuffix(u.Host, ":") || u.User != nil || u.Fragment != "" {
		return nil, false
	}
	return u, true
}

// validURLPort reports whether u has no port, or a port that is a TCP
// port written canonically: 1–65535 in decimal without leading zeros.
// url.Parse accepts any digits ("0", "99999", "0080"); a port a listener
// cannot have, or a second spelling of one, has no business in a redirect.
func validURLPort(u *url.URL) bool {
	p := u.Port()
	if p == "" {
		// "http://127.0.0.1:/cb" has an empty port: not a spelling a
		// native app produces.
		return !strings.HasSuffix(u.Host, ":")
	}
	if len(p) > 5 || p[0] == '0' {
		return false
	}
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}

// validateAuthorize checks everything after client and redirect URI; its
// errors may be redirected to the client. The returned request is filled
// as far as needed for that redirect even on error.
func (s *Server) validateAuthorize(p url.Values, c store.Client) (authRequest, error) {
	req := authRequest{
		ClientID:      c.ID,
		RedirectURI:   p.Get("redirect_uri"),
		RedirectGiven: p.Get("redirect_uri") != "",
		State:         p.Get("state"),
		MaxAge:        -1,
		IssuedAt:      s.now().Unix(),
		CSRFNonce:     rand.Text(),
	}
	if req.RedirectURI == "" {
		req.RedirectURI = c.RedirectURIs[0]
	}
	if e := checkSingle(p); e != nil {
		return req, e
	}
	if p.Has("request") {
		return req, badRequest(errRequestNotSupported, "request objects are not supported")
	}
	if p.Has("request_uri") {
		return req, badRequest(errRequestURINotSupported, "request_uri is not supported")
	}
	if rt := p.Get("response_type"); rt != "code" {
		if rt == "" {
			return req, badRequest(errInvalidRequest, "response_type is required")
		}
		return req, badRequest(errUnsupportedResponseType, "only response_type=code is supported")
	}
	if rm := p.Get("response_mode"); rm != "" && rm != "query" {
		return req, badRequest(errInvalidRequest, "only response_mode=query is supported")
	}
	if !slices.Contains(c.GrantTypes, "authorization_code") {
		return req, badRequest(errUnauthorizedClient, "the client may not use the authorization code grant")
	}
	// RFC 7636 §4.3, RFC 9700 §2.1.1: PKCE with S256 for every client; a
	// missing method means plain (§4.3), which is refused.
	challenge := p.Get("code_challenge")
	if challenge == "" {
		return req, badRequest(errInvalidRequest, "code_challenge is required (PKCE)")
	}
	if m := p.Get("code_challenge_method"); m != "S256" {
		return req, badRequest(errInvalidRequest, "code_challenge_method must be S256")
	}
	if len(challenge) != 43 || !validChallengeChars(challenge) {
		return req, badRequest(errInvalidRequest, "code_challenge is malformed")
	}
	req.Challenge = challenge
	scopes, e := parseScope(p, c.Scopes)
	if e != nil {
		return req, e
	}
	if len(scopes) == 0 {
		return req, badRequest(errInvalidScope, "no scope requested")
	}
	req.Scopes = scopes
	aud, e := s.audience(p, c)
	if e != nil {
		return req, e
	}
	req.Audience = aud
	if n := p.Get("nonce"); len(n) > 512 {
		return req, badRequest(errInvalidRequest, "nonce is too long")
	} else {
		req.Nonce = n
	}
	if len(req.State) > 2048 {
		return req, badRequest(errInvalidRequest, "state is too long")
	}
	if req.DPoPJKT, e = parseDPoPJKT(p); e != nil {
		return req, e
	}
	if pr := p.Get("prompt"); pr != "" {
		req.Prompt = strings.Fields(pr)
		if slices.Contains(req.Prompt, "none") && len(req.Prompt) > 1 {
			return req, badRequest(errInvalidRequest, "prompt=none cannot be combined")
		}
	}
	if ma := p.Get("max_age"); ma != "" {
		v, err := strconv.ParseInt(ma, 10, 64)
		if err != nil || v < 0 {
			return req, badRequest(errInvalidRequest, "max_age must be a non-negative integer")
		}
		req.MaxAge = v
	}
	return req, nil
}

func validChallengeChars(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func tooOld(authTime time.Time, maxAge int64, now time.Time) bool {
	return maxAge >= 0 && now.Sub(authTime) > time.Duration(maxAge)*time.Second
}

// proceed runs once the user is known: decide the scopes, ask for consent
// when needed, then issue the code.
func (s *Server) proceed(w http.ResponseWriter, r *http.Request, req authRequest, c store.Client, u store.User, authTime time.Time) {
	granted := s.grantFor(r, req, c, u)
	if len(granted) == 0 {
		s.redirectError(w, r, req, badRequest(errInvalidScope, "none of the requested scopes may be granted"))
		return
	}
	needed, err := s.needsConsent(r.Context(), req, c, u, granted)
	if err != nil {
		s.redirectError(w, r, req, s.serverError(r.Context(), "load consent", err))
		return
	}
	if needed {
		if slices.Contains(req.Prompt, "none") {
			s.redirectError(w, r, req, badRequest(errConsentRequired, "the user has not consented"))
			return
		}
		req.Subject = u.ID
		// A fresh binding for the consent form: the login form's token
		// does not carry over to it.
		req.CSRFNonce = rand.Text()
		s.showConsent(w, r, req, c, u, granted)
		return
	}
	s.issueCode(w, r, req, c, u, authTime, granted)
}

func (s *Server) grantFor(r *http.Request, req authRequest, c store.Client, u store.User) []string {
	return s.o.Policy.Grant(req.Scopes, c.Scopes, policy.Input{
		GrantType: "authorization_code",
		ClientID:  c.ID,
		User:      &policy.User{ID: u.ID, Roles: u.Roles, Attrs: u.Attrs},
		IP:        clientIP(r),
		Time:      s.now(),
	})
}

// needsConsent reports whether the user must be asked: prompt=consent, or
// a scope they have not consented to before. A store failure is an error,
// not a consent page for scopes the user may well have allowed.
func (s *Server) needsConsent(ctx context.Context, req authRequest, c store.Client, u store.User, granted []string) (bool, error) {
	if c.SkipConsent {
		return false, nil
	}
	if slices.Contains(req.Prompt, "consent") {
		return true, nil
	}
	con, err := s.o.Store.GetConsent(ctx, u.ID, c.ID)
	if errors.Is(err, store.ErrNotFound) {
		return true, nil
	} else if err != nil {
		return false, err
	}
	for _, sc := range granted {
		if !slices.Contains(con.Scopes, sc) {
			return true, nil
		}
	}
	return false, nil
}

// issueCode stores a fresh code and sends the browser back to the client
// (RFC 6749 §4.1.2, with iss per RFC 9207 §2).
func (s *Server) issueCode(w http.ResponseWriter, r *http.Request, req authRequest, c store.Client, u store.User, authTime time.Time, granted []string) {
	ctx := r.Context()
	code, err := token.NewOpaque(token.PrefixCode)
	if err != nil {
		s.redirectError(w, r, req, s.serverError(ctx, "new code", err))
		return
	}
	now := s.now()
	ac := store.AuthCode{
		Digest:              token.Digest(code),
		ClientID:            c.ID,
		Subject:             u.ID,
		Scope:               strings.Join(granted, " "),
		Audience:            req.Audience,
		Nonce:               req.Nonce,
		CodeChallenge:       req.Challenge,
		CodeChallengeMethod: "S256",
		DPoPJKT:             req.DPoPJKT,
		GrantID:             token.NewID(),
		AuthTime:            authTime,
		ExpiresAt:           now.Add(s.cfg.CodeTTL),
	}
	if req.RedirectGiven {
		ac.RedirectURI = req.RedirectURI
	}
	if err := s.o.Store.CreateCode(ctx, ac); err != nil {
		s.redirectError(w, r, req, s.serverError(ctx, "store code", err))
		return
	}
	q := url.Values{"code": {code}, "iss": {s.cfg.Issuer}}
	if req.State != "" {
		q.Set("state", req.State)
	}
	s.redirect(w, r, req.RedirectURI, q)
}

// redirectError sends an error to the client's redirect URI (RFC 6749
// §4.1.2.1), with state and iss.
func (s *Server) redirectError(w http.ResponseWriter, r *http.Request, req authRequest, err error) {
	e := s.clientError(r.Context(), err)
	s.metrics.refused.WithLabelValues("authorize", e.Code).Inc()
	q := url.Values{"error": {e.Code}, "iss": {s.cfg.Issuer}}
	if e.Description != "" {
		q.Set("error_description", e.Description)
	}
	if req.State != "" {
		q.Set("state", req.State)
	}
	s.redirect(w, r, req.RedirectURI, q)
}

func (s *Server) redirect(w http.ResponseWriter, r *http.Request, base string, q url.Values) {
	u, err := url.Parse(base)
	if err != nil {
		s.errorPage(w, http.StatusBadRequest, "Invalid redirect", "The redirect URI cannot be used.")
		return
	}
	merged := u.Query()
	for k, v := range q {
		merged[k] = v
	}
	u.RawQuery = merged.Encode()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	status := http.StatusFound
	if r.Method == http.MethodPost {
		// RFC 9700 §4.12: 303 so the browser does not re-post the form
		// (with the user's credentials) to the client.
		status = http.StatusSeeOther
	}
	http.Redirect(w, r, u.String(), status)
}

func (s *Server) errorPage(w http.ResponseWriter, status int, title, msg string) {
	s.o.Pages.Error(w, status, identity.ErrorPage{Title: title, Message: msg})
}

// failurePage answers a failure of what on the browser pages. A store
// that cannot be reached is an outage, not a bug: 503 with Retry-After
// and "try again in a moment", logged as a warning. Anything else is 500,
// logged as an error. Neither page says more than that.
func (s *Server) failurePage(ctx context.Context, w http.ResponseWriter, what string, err error, attrs ...any) {
	attrs = append(attrs, "err", err)
	if store.IsUnavailable(err) {
		s.log.WarnContext(ctx, what+": store unavailable", attrs...)
		w.Header().Set("Retry-After", unavailableRetryAfter)
		s.errorPage(w, http.StatusServiceUnavailable, "Temporarily unavailable",
			"The service cannot complete this step right now. Please try again in a moment.")
		return
	}
	s.log.ErrorContext(ctx, what, attrs...)
	s.errorPage(w, http.StatusInternalServerError, "Something went wrong", "Please try again later.")
}

func (s *Server) showLogin(w http.ResponseWriter, r *http.Request, req authRequest, c store.Client, status int, username, msg string) {
	sealed, err := s.seal(req)
	if err != nil {
		s.log.ErrorContext(r.Context(), "seal authorization request", "err", err)
		s.errorPage(w, http.StatusInternalServerError, "Something went wrong", "Please try again later.")
		return
	}
	s.o.Pages.Login(w, status, identity.LoginPage{
		Action:     s.url(pathAuthorizeLogin),
		Request:    sealed,
		CSRF:       s.o.CSRF.Token(w, r, req.CSRFNonce),
		ClientName: clientName(c),
		Username:   username,
		Error:      msg,
	})
}

func (s *Server) showConsent(w http.ResponseWriter, r *http.Request, req authRequest, c store.Client, u store.User, granted []string) {
	sealed, err := s.seal(req)
	if err != nil {
		s.log.ErrorContext(r.Context(), "seal authorization request", "err", err)
		s.errorPage(w, http.StatusInternalServerError, "Something went wrong", "Please try again later.")
		return
	}
	s.o.Pages.Consent(w, identity.ConsentPage{
		Action:     s.url(pathAuthorizeAccept),
		Request:    sealed,
		CSRF:       s.o.CSRF.Token(w, r, req.CSRFNonce),
		ClientName: clientName(c),
		Username:   u.Username,
		Scopes:     granted,
		// Descriptions come from the configuration; the page falls back
		// to built-in ones for the OpenID Connect scopes.
		ScopeDescriptions: s.cfg.ScopeDescriptions,
	})
}

func clientName(c store.Client) string {
	if c.Name != "" {
		return c.Name
	}
	return c.ID
}

func (s *Server) seal(req authRequest) (string, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return "", err
	}
	ct, err := s.o.Sealer.Seal(b, sealAAD)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(ct), nil
}

var errStaleRequest = errors.New("authorization request expired or altered")

func (s *Server) unseal(v string) (authRequest, error) {
	var req authRequest
	if err := s.openSealed(v, sealAAD, &req); err != nil || !s.freshRequest(req.IssuedAt) {
		return authRequest{}, errStaleRequest
	}
	return req, nil
}

// openSealed opens v, a request sealed under aad and base64url-encoded,
// into dst. Anything that does not open, whatever the reason, is a stale
// or altered request: the caller learns no more than that.
func (s *Server) openSealed(v string, aad []byte, dst any) error {
	if v == "" || len(v) > 16<<10 {
		return errStaleRequest
	}
	ct, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return errStaleRequest
	}
	b, err := s.o.Sealer.Open(ct, aad)
	if err != nil {
		return errStaleRequest
	}
	if err := json.Unmarshal(b, dst); err != nil {
		return errStaleRequest
	}
	return nil
}

// freshRequest reports whether a sealed request issued at issuedAt (Unix
// seconds) is at most requestLifetime old, allowing a minute of clock
// skew between nodes.
func (s *Server) freshRequest(issuedAt int64) bool {
	age := s.now().Sub(time.Unix(issuedAt, 0))
	return age >= -time.Minute && age <= requestLifetime
}

// formStep reads a login or consent form: the sealed request, then the
// CSRF token bound to it, then the request's client. The request is
// opened first because the token is checked against the nonce inside it;
// opening is an authenticated decryption, so nothing unchecked is used.
// On failure it has already answered.
func (s *Server) formStep(w http.ResponseWriter, r *http.Request) (authRequest, store.Client, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, http.StatusBadRequest, "Invalid request", "The form could not be read.")
		return authRequest{}, store.Client{}, false
	}
	req, err := s.unseal(r.PostForm.Get(identity.FieldRequest))
	if err != nil {
		s.errorPage(w, http.StatusBadRequest, "Request expired", "The sign-in request expired. Go back to the application and start again.")
		return authRequest{}, store.Client{}, false
	}
	if !s.o.CSRF.Valid(r, r.PostForm.Get(identity.FieldCSRF), req.CSRFNonce) {
		s.errorPage(w, http.StatusForbidden, "Form expired", "The form expired or did not come from this site. Go back to the application and start again.")
		return authRequest{}, store.Client{}, false
	}
	c, err := s.o.Store.GetClient(r.Context(), req.ClientID)
	if errors.Is(err, store.ErrNotFound) {
		s.log.DebugContext(r.Context(), "form for a client no longer registered", "client_id", req.ClientID)
		s.errorPage(w, http.StatusBadRequest, "Unknown application", "The application is no longer registered.")
		return authRequest{}, store.Client{}, false
	} else if err != nil {
		s.failurePage(r.Context(), w, "load client", err, "client_id", req.ClientID)
		return authRequest{}, store.Client{}, false
	}
	return req, c, true
}

// authorizeLogin checks the login form and continues the authorization.
func (s *Server) authorizeLogin(w http.ResponseWriter, r *http.Request) {
	req, c, ok := s.formStep(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	username := r.PostForm.Get("username")
	if len(username) > 64 {
		username = ""
	}
	addr := s.o.ClientAddr(r)
	if d := s.o.Throttle.Check(username, addr, s.now()); !d.Allowed {
		// No password is checked while locked, so guessing gains nothing.
		s.log.WarnContext(ctx, "login refused: too many failures", "client_id", c.ID, "limit", d.Reason)
		s.showLogin(w, r, req, c, http.StatusTooManyRequests, username, "Too many failed attempts. Wait a moment and try again.")
		return
	}
	u, err := s.o.Users.Authenticate(ctx, username, r.PostForm.Get("password"))
	if errors.Is(err, identity.ErrBadCredentials) {
		s.log.InfoContext(ctx, "login failed", "client_id", c.ID)
		// A refusal that did no work (an over-long password) is not a
		// guess, and counting it would let junk names fill the throttle.
		if !errors.Is(err, identity.ErrUnchecked) {
			s.o.Throttle.Fail(username, addr, s.now())
		}
		s.showLogin(w, r, req, c, http.StatusUnauthorized, username, "Wrong username or password.")
		return
	} else if err != nil {
		s.failurePage(ctx, w, "authenticate user", err)
		return
	}
	s.o.Throttle.Succeed(username)
	authTime := time.Unix(s.now().Unix(), 0)
	if _, err := s.o.Sessions.Start(ctx, w, u.ID, authTime); err != nil {
		s.failurePage(ctx, w, "start session", err)
		return
	}
	s.log.InfoContext(ctx, "user logged in", "sub", u.ID, "client_id", c.ID)
	req.Prompt = slices.DeleteFunc(req.Prompt, func(p string) bool { return p == "login" })
	s.proceed(w, r, req, c, u, authTime)
}

// authorizeConsent records the user's decision on the consent form.
func (s *Server) authorizeConsent(w http.ResponseWriter, r *http.Request) {
	req, c, ok := s.formStep(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	sessionEnded := func() {
		s.errorPage(w, http.StatusForbidden, "Session ended", "Your session ended. Go back to the application and start again.")
	}
	sess, ok, err := s.o.Sessions.Current(ctx, r)
	if err != nil {
		s.redirectError(w, r, req, s.serverError(ctx, "read login session", err))
		return
	}
	if !ok || req.Subject == "" || sess.Subject != req.Subject {
		s.log.DebugContext(ctx, "consent without the session it was shown to", "client_id", c.ID)
		sessionEnded()
		return
	}
	u, err := s.o.Store.GetUser(ctx, sess.Subject)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.redirectError(w, r, req, s.serverError(ctx, "load session user", err))
		return
	}
	if err != nil || u.Disabled {
		s.log.DebugContext(ctx, "consent by an inactive user refused", "client_id", c.ID)
		sessionEnded()
		return
	}
	if r.PostForm.Get("decision") != "allow" {
		s.redirectError(w, r, req, badRequest(errAccessDenied, "the user denied the request"))
		return
	}
	granted := s.grantFor(r, req, c, u)
	if len(granted) == 0 {
		s.redirectError(w, r, req, badRequest(errInvalidScope, "none of the requested scopes may be granted"))
		return
	}
	// Consent accumulates: what the user allowed before stays allowed.
	consented := slices.Clone(granted)
	prev, err := s.o.Store.GetConsent(ctx, u.ID, c.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		// Saving without the earlier scopes would silently drop them.
		s.redirectError(w, r, req, s.serverError(ctx, "load consent", err))
		return
	}
	for _, sc := range prev.Scopes {
		if !slices.Contains(consented, sc) {
			consented = append(consented, sc)
		}
	}
	if err := s.o.Store.SaveConsent(ctx, store.Consent{
		Subject: u.ID, ClientID: c.ID, Scopes: consented, GrantedAt: s.now(),
	}); err != nil {
		s.redirectError(w, r, req, s.serverError(ctx, "save consent", err))
		return
	}
	s.issueCode(w, r, req, c, u, sess.AuthTime, granted)
}
