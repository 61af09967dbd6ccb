package oauth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/internal/identity"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/token"
)

// The end-session endpoint of OpenID Connect RP-Initiated Logout 1.0,
// and the confirmation form it shows, relative to the issuer.
const (
	pathEndSession        = "/oauth2/logout"
	pathEndSessionConfirm = "/oauth2/logout/confirm"
)

// What ending the login session does, and what it leaves alone.
//
// It deletes the session (identity.Sessions.End: the stored row and the
// browser's cookie), so the next authorization request asks for the
// password again. It revokes no token. Portcullis's tokens belong to a
// grant, not to the browser session: an RP that wants its own tokens gone
// revokes them (RFC 7009), as the token handler's logout does before it
// navigates here, and revoking every token of the user would also sign
// them out of other applications and devices, and end offline_access
// grants that OpenID Connect Core §11 means to outlive the login. Telling
// other RPs of the logout (Front- and Back-Channel Logout) is not done.

// endSessionRequest is a validated logout request. It travels through the
// confirmation form sealed with the master key, as authRequest does
// through the login form: the browser carries it, but cannot read or
// change which client, redirect or state it names.
type endSessionRequest struct {
	// ClientID is the client the request came from, when it named one
	// (client_id or the hint's aud).
	ClientID string `json:"c,omitempty"`
	// RedirectURI is the post_logout_redirect_uri, set only when it is
	// registered verbatim for ClientID (§3); "" ends on the signed-out
	// page.
	RedirectURI string `json:"r,omitempty"`
	// State goes back with the redirect (§2).
	State string `json:"st,omitempty"`
	// Subject is the user of the session the confirmation was shown to;
	// the form ends that session and no other.
	Subject  string `json:"sub,omitempty"`
	IssuedAt int64  `json:"iat"`
	// CSRFNonce binds the form's CSRF token to this request, as in
	// authRequest.
	CSRFNonce string `json:"x"`
}

// endSessionAAD keeps a sealed logout request and a sealed authorization
// request apart: the same sealer makes both, and one must never open as
// the other.
var endSessionAAD = []byte("portcullis end-session request v1")

// Bounds on the parameters; generous for any real client, small enough
// that nobody stores or echoes megabytes.
const (
	maxLogoutStateLen     = 2048
	maxLogoutHintLen      = 512
	maxLogoutUILocalesLen = 256
	maxLogoutClientIDLen  = 256
	// maxLogoutURILen bounds post_logout_redirect_uri as registration
	// bounds every redirect URI.
	maxLogoutURILen = 2048
)

// logoutRefusal is a logout request that is refused: what the user sees
// on the error page, and the cause, which goes to the log only. A refused
// request ends no session and redirects nowhere (§4: the OP MUST NOT
// perform post-logout redirection when it detects an error).
type logoutRefusal struct {
	status         int
	title, message string
	cause          error
}

func (e *logoutRefusal) Error() string { return "logout refused: " + e.cause.Error() }
func (e *logoutRefusal) Unwrap() error { return e.cause }

func refuseLogout(status int, title, message string, cause error) error {
	return &logoutRefusal{status: status, title: title, message: message, cause: cause}
}

func invalidLogout(cause error) error {
	return refuseLogout(http.StatusBadRequest, "Invalid sign-out request",
		"The application sent a sign-out request this server cannot accept. You are still signed in.", cause)
}

// endSession is the end_session_endpoint (RP-Initiated Logout 1.0 §2),
// for GET and POST.
//
// The login session ends at once only when the request carries an
// id_token_hint issued in that very session: then it comes from an
// application the user signed in to with it. Otherwise (no hint, a hint
// for another user or an earlier login) the user is asked first, on a
// page whose form carries a CSRF token (§2: the OP MUST ask when there
// is no hint, or the hint does not belong to the current session; §6: a
// logout request is trivially forged cross-site). Without a session there
// is nothing to end, and nothing to ask.
func (s *Server) endSession(w http.ResponseWriter, r *http.Request) {
	params, ok := s.endSessionParams(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	req, client, hint, err := s.validateEndSession(ctx, params)
	if err != nil {
		s.refuseLogoutPage(ctx, w, err)
		return
	}
	sess, hasSession, err := s.o.Sessions.Current(ctx, r)
	if err != nil {
		s.refuseLogoutPage(ctx, w, s.logoutFailure("read login session", err))
		return
	}
	if !hasSession {
		// Nothing to end, and nothing worth a confirmation: a validated
		// redirect is still honoured, so the RP sees one logout UX
		// whether or not the user was still signed in here.
		s.finishEndSession(w, r, req, client, false)
		return
	}
	if hint != nil && hint.Subject == sess.Subject && hint.AuthTime == sess.AuthTime.Unix() {
		s.finishEndSession(w, r, req, client, true)
		return
	}
	req.Subject = sess.Subject
	s.showLogoutConfirm(w, r, req, client)
}

// endSessionParams reads the request's parameters: the query of a GET,
// the form of a POST (§2 allows both).
func (s *Server) endSessionParams(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return r.URL.Query(), true
	case http.MethodPost:
		ct := r.Header.Get("Content-Type")
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if !strings.HasPrefix(ct, "application/x-www-form-urlencoded") || r.ParseForm() != nil {
			s.errorPage(w, http.StatusBadRequest, "Invalid sign-out request", "The sign-out request could not be read.")
			return nil, false
		}
		return r.PostForm, true
	default:
		w.Header().Set("Allow", "GET, POST")
		s.errorPage(w, http.StatusMethodNotAllowed, "Invalid sign-out request", "The sign-out endpoint accepts GET and POST only.")
		return nil, false
	}
}

// validateEndSession checks the parameters of §2 and resolves the client
// and the redirect. Its errors are *logoutRefusal.
//
// The client is the id_token_hint's aud or client_id; when both are
// given they must agree (§2). post_logout_redirect_uri is honoured only
// when that client registered it verbatim (§3); otherwise the logout goes
// on without a redirect, ending on the signed-out page. Naming the client
// by client_id alone is enough for that (§2 gives it exactly this use):
// the target is one the client registered, so the redirect cannot be
// turned against anyone else, and the user has confirmed the logout
// before it happens. ui_locales and logout_hint are read and bounded but
// change nothing: the pages have one language, and the browser one
// session, so there is no user to choose.
func (s *Server) validateEndSession(ctx context.Context, p url.Values) (endSessionRequest, *store.Client, *idTokenHint, error) {
	req := endSessionRequest{IssuedAt: s.now().Unix(), CSRFNonce: rand.Text()}
	if err := checkSingle(p); err != nil {
		return req, nil, nil, invalidLogout(err)
	}
	for _, f := range []struct {
		name string
		max  int
	}{
		{"state", maxLogoutStateLen},
		{"logout_hint", maxLogoutHintLen},
		{"ui_locales", maxLogoutUILocalesLen},
		{"client_id", maxLogoutClientIDLen},
		{"post_logout_redirect_uri", maxLogoutURILen},
		{"id_token_hint", token.MaxLength},
	} {
		if len(p.Get(f.name)) > f.max {
			return req, nil, nil, invalidLogout(fmt.Errorf("%s is longer than %d bytes", f.name, f.max))
		}
	}
	clientID := p.Get("client_id")
	var hint *idTokenHint
	if raw := p.Get("id_token_hint"); raw != "" {
		h, err := s.verifyIDTokenHint(raw)
		if err != nil {
			return req, nil, nil, invalidLogout(err)
		}
		if clientID != "" && clientID != h.ClientID {
			return req, nil, nil, refuseLogout(http.StatusBadRequest, "Invalid sign-out request",
				"The application named in the sign-out request is not the one its ID token was issued to. You are still signed in.",
				fmt.Errorf("client_id %q is not the hint's audience %q", clientID, h.ClientID))
		}
		clientID, hint = h.ClientID, &h
	}
	if clientID == "" {
		if p.Get("post_logout_redirect_uri") != "" {
			s.log.DebugContext(ctx, "post_logout_redirect_uri without a client: no redirect")
		}
		return req, nil, hint, nil
	}
	c, err := s.o.Store.GetClient(ctx, clientID)
	if errors.Is(err, store.ErrNotFound) {
		return req, nil, nil, refuseLogout(http.StatusBadRequest, "Unknown application",
			"The application that sent you here is not registered. You are still signed in.",
			fmt.Errorf("unknown client %q", clientID))
	} else if err != nil {
		return req, nil, nil, s.logoutFailure("load client", err)
	}
	req.ClientID = c.ID
	if uri := p.Get("post_logout_redirect_uri"); uri != "" {
		if slices.Contains(c.PostLogoutRedirectURIs, uri) {
			req.RedirectURI, req.State = uri, p.Get("state")
		} else {
			s.log.InfoContext(ctx, "post_logout_redirect_uri not registered for the client: no redirect", "client_id", c.ID)
		}
	}
	return req, &c, hint, nil
}

// endSessionConfirm takes the confirmation form: the sealed request, the
// CSRF token bound to it, and the session it was shown to.
func (s *Server) endSessionConfirm(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, http.StatusBadRequest, "Invalid request", "The form could not be read.")
		return
	}
	req, err := s.unsealEndSession(r.PostForm.Get(identity.FieldRequest))
	if err != nil {
		s.errorPage(w, http.StatusBadRequest, "Request expired",
			"The sign-out request expired. Go back to the application and sign out again.")
		return
	}
	if !s.o.CSRF.Valid(r, r.PostForm.Get(identity.FieldCSRF), req.CSRFNonce) {
		s.errorPage(w, http.StatusForbidden, "Form expired",
			"The form expired or did not come from this site. You are still signed in.")
		return
	}
	sess, hasSession, err := s.o.Sessions.Current(ctx, r)
	if err != nil {
		s.refuseLogoutPage(ctx, w, s.logoutFailure("read login session", err))
		return
	}
	if hasSession && sess.Subject != req.Subject {
		// Someone else signed in since the page was shown: that session
		// was never offered for ending.
		s.log.DebugContext(ctx, "logout confirmation for another session", "client_id", req.ClientID)
		s.errorPage(w, http.StatusForbidden, "Session changed",
			"You signed in again since this page was shown. Go back to the application and sign out again.")
		return
	}
	var client *store.Client
	if req.ClientID != "" {
		// The client may have been deleted or changed its URIs while the
		// page was open: the redirect must still be registered.
		c, err := s.o.Store.GetClient(ctx, req.ClientID)
		switch {
		case err == nil:
			client = &c
			if !slices.Contains(c.PostLogoutRedirectURIs, req.RedirectURI) {
				req.RedirectURI = ""
			}
		case errors.Is(err, store.ErrNotFound):
			req.RedirectURI = ""
		default:
			s.refuseLogoutPage(ctx, w, s.logoutFailure("load client", err))
			return
		}
	}
	s.finishEndSession(w, r, req, client, hasSession)
}

// finishEndSession ends the browser's login session (when ended is set;
// the cookie is cleared either way) and sends the browser back to the
// client's post-logout redirect URI with state, or shows the signed-out
// page.
func (s *Server) finishEndSession(w http.ResponseWriter, r *http.Request, req endSessionRequest, c *store.Client, ended bool) {
	ctx := r.Context()
	if err := s.o.Sessions.End(ctx, w, r); err != nil {
		// The cookie is gone from the browser, but the stored session is
		// not: say so rather than claim a logout that did not happen.
		s.refuseLogoutPage(ctx, w, s.logoutFailure("end login session", err))
		return
	}
	if ended {
		s.log.InfoContext(ctx, "user logged out", "client_id", req.ClientID)
	}
	if req.RedirectURI != "" {
		q := url.Values{}
		if req.State != "" {
			q.Set("state", req.State)
		}
		s.redirect(w, r, req.RedirectURI, q)
		return
	}
	page := identity.SignedOutPage{}
	if c != nil {
		page.ClientName = clientName(*c)
	}
	s.o.Pages.SignedOut(w, page)
}

func (s *Server) showLogoutConfirm(w http.ResponseWriter, r *http.Request, req endSessionRequest, c *store.Client) {
	ctx := r.Context()
	sealed, err := s.sealEndSession(req)
	if err != nil {
		s.refuseLogoutPage(ctx, w, s.logoutFailure("seal logout request", err))
		return
	}
	page := identity.LogoutPage{
		Action:  s.url(pathEndSessionConfirm),
		Request: sealed,
		CSRF:    s.o.CSRF.Token(w, r, req.CSRFNonce),
	}
	if c != nil {
		page.ClientName = clientName(*c)
	}
	// The name helps the user recognise their session; without it the
	// page still works, so a failed lookup is logged, not fatal.
	if u, err := s.o.Store.GetUser(ctx, req.Subject); err == nil {
		page.Username = u.Username
	} else if !errors.Is(err, store.ErrNotFound) {
		s.log.WarnContext(ctx, "load user for the logout page", "err", err)
	}
	s.o.Pages.Logout(w, page)
}

// logoutFailure is a failure on our side: logged with what failed, shown
// as a 500 page that says the session may still be there.
func (s *Server) logoutFailure(what string, err error) error {
	return refuseLogout(http.StatusInternalServerError, "Something went wrong",
		"The sign-out could not be completed. Please try again later.", fmt.Errorf("%s: %w", what, err))
}

// refuseLogoutPage answers err, a *logoutRefusal, with its page.
func (s *Server) refuseLogoutPage(ctx context.Context, w http.ResponseWriter, err error) {
	var e *logoutRefusal
	if !errors.As(err, &e) {
		e = &logoutRefusal{status: http.StatusInternalServerError, title: "Something went wrong",
			message: "Please try again later.", cause: err}
	}
	if e.status >= http.StatusInternalServerError {
		s.log.ErrorContext(ctx, "end session", "err", e.cause)
	} else {
		s.log.InfoContext(ctx, "logout request refused", "reason", e.cause.Error())
	}
	s.errorPage(w, e.status, e.title, e.message)
}

func (s *Server) sealEndSession(req endSessionRequest) (string, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return "", err
	}
	ct, err := s.o.Sealer.Seal(b, endSessionAAD)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(ct), nil
}

// unsealEndSession opens a sealed logout request that is at most
// requestLifetime old.
func (s *Server) unsealEndSession(v string) (endSessionRequest, error) {
	var req endSessionRequest
	if err := s.openSealed(v, endSessionAAD, &req); err != nil || !s.freshRequest(req.IssuedAt) {
		return endSessionRequest{}, errStaleRequest
	}
	return req, nil
}
