package oauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/scope"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/token"
)

// tokenEndpoint is RFC 6749 §3.2: authenticate the client, then hand the
// request to the grant it names.
func (s *Server) tokenEndpoint(w http.ResponseWriter, r *http.Request) {
	r, span := s.startSpan(r, "oauth.token")
	if span != nil {
		defer span.End()
	}
	s.dpop.offerNonce(w)
	if e := parsePost(w, r); e != nil {
		s.fail(w, r, "token", e)
		return
	}
	client, e := s.authenticateClient(r)
	if e != nil {
		s.fail(w, r, "token", e)
		return
	}
	// RFC 9449 §5: checked after the client (an unauthenticated caller
	// cannot fill the replay cache) and before any grant spends a code or
	// refresh token.
	proof, e := s.dpop.proof(r)
	if e != nil {
		s.fail(w, r, "token", e)
		return
	}
	// RFC 8705 §3: checked before any grant spends a code or refresh
	// token, like the proof.
	cert, e := s.presentedCert(r)
	if e != nil {
		s.fail(w, r, "token", e)
		return
	}
	x5t, e := certBinding(client, cert)
	if e != nil {
		s.fail(w, r, "token", e)
		return
	}
	snd := sender{proof: proof, x5t: x5t, cert: cert}
	gt := r.PostForm.Get("grant_type")
	traceRequest(span, client.ID, gt)
	var (
		resp tokenResponse
		err  error
	)
	switch gt {
	case "":
		err = badRequest(errInvalidRequest, "grant_type is required")
	case "client_credentials", "authorization_code", "refresh_token":
		if !slices.Contains(client.GrantTypes, gt) {
			err = badRequest(errUnauthorizedClient, "the client may not use this grant type")
			break
		}
		switch gt {
		case "client_credentials":
			resp, err = s.clientCredentials(r, client, snd)
		case "authorization_code":
			resp, err = s.authorizationCode(r, client, snd)
		case "refresh_token":
			resp, err = s.refreshToken(r, client, snd)
		}
	case grantTokenExchange:
		// RFC 8693 §2.1; off unless configured (exchange.go).
		switch {
		case s.o.Exchange == nil:
			err = badRequest(errUnsupportedGrantType, "the grant type is not supported")
		case !slices.Contains(client.GrantTypes, gt):
			err = badRequest(errUnauthorizedClient, "the client may not use this grant type")
		default:
			resp, err = s.tokenExchange(r, client, snd)
		}
	default:
		err = badRequest(errUnsupportedGrantType, "the grant type is not supported")
	}
	if err != nil {
		s.fail(w, r, "token", err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// authenticateClient runs client authentication (RFC 6749 §2.3) and maps
// its failures to RFC 6749 §5.2 responses.
func (s *Server) authenticateClient(r *http.Request) (store.Client, error) {
	c, err := s.o.Clients.Authenticate(r.Context(), r)
	if err == nil {
		return c, nil
	}
	var ae *clientauth.Error
	if errors.As(err, &ae) {
		if ae.Code == clientauth.CodeServerError {
			return store.Client{}, s.serverError(r.Context(), "client authentication", ae.Cause)
		}
		s.log.InfoContext(r.Context(), "client authentication failed",
			"code", ae.Code, "reason", ae.Description, "cause", ae.Cause)
		status := ae.Status()
		if ae.Code == clientauth.CodeInvalidClient {
			// RFC 6749 §5.2 requires 401 after HTTP Basic; every
			// invalid_client answers 401 so clients need not guess.
			status = http.StatusUnauthorized
		}
		return store.Client{}, &oauthError{Status: status, Code: ae.Code,
			Description: ae.Description, Basic: ae.Basic}
	}
	return store.Client{}, s.serverError(r.Context(), "client authentication", err)
}

// fail writes err as an RFC 6749 §5.2 error response and counts it.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, endpoint string, err error) {
	e := s.clientError(r.Context(), err)
	s.metrics.refused.WithLabelValues(endpoint, e.Code).Inc()
	s.traceRefusal(r, e)
	s.writeError(w, e)
}

// clientCredentials is RFC 6749 §4.4. No refresh token is issued (§4.4.3).
func (s *Server) clientCredentials(r *http.Request, c store.Client, snd sender) (tokenResponse, error) {
	requested, e := parseScope(r.PostForm, c.Scopes)
	if e != nil {
		return tokenResponse{}, e
	}
	aud, e := s.audience(r.PostForm, c)
	if e != nil {
		return tokenResponse{}, e
	}
	granted := s.o.Policy.Grant(requested, c.Scopes, policy.Input{
		GrantType: "client_credentials",
		ClientID:  c.ID,
		IP:        clientIP(r),
		Time:      s.now(),
	})
	if len(granted) == 0 {
		return tokenResponse{}, badRequest(errInvalidScope, "none of the requested scopes may be granted")
	}
	resp, err := s.issue(r.Context(), grant{
		grantType: "client_credentials",
		client:    c,
		scopes:    granted,
		audience:  aud,
		jkt:       proofKey(snd.proof),
		x5t:       snd.x5t,
	})
	if err != nil {
		return tokenResponse{}, s.serverError(r.Context(), "issue client credentials token", err)
	}
	return resp, nil
}

// authorizationCode is RFC 6749 §4.1.3 with PKCE (RFC 7636 §4.6).
func (s *Server) authorizationCode(r *http.Request, c store.Client, snd sender) (tokenResponse, error) {
	f := r.PostForm
	code := f.Get("code")
	if code == "" {
		return tokenResponse{}, badRequest(errInvalidRequest, "code is required")
	}
	if len(code) > token.MaxLength {
		return tokenResponse{}, badRequest(errInvalidGrant, "the code is invalid")
	}
	ctx := r.Context()
	now := s.now()
	// RFC 6749 §4.1.3: the store checks the code's client before it
	// consumes it, in the same statement, so another client's attempt
	// neither burns the code nor revokes its grant.
	ac, err := s.o.Store.ConsumeCode(ctx, token.Digest(code), c.ID, now)
	switch {
	case errors.Is(err, store.ErrAlreadyUsed):
		// RFC 6749 §4.1.2: a code used twice revokes what it produced.
		n, rerr := s.revokeGrant(ctx, ac.GrantID)
		if rerr != nil {
			return tokenResponse{}, s.serverError(ctx, "revoke grant of reused code", rerr)
		}
		s.log.WarnContext(ctx, "authorization code reused; grant revoked",
			"client_id", c.ID, "grant_id", ac.GrantID, "revoked", n)
		return tokenResponse{}, badRequest(errInvalidGrant, "the code is invalid")
	case errors.Is(err, store.ErrWrongClient):
		return tokenResponse{}, badRequest(errInvalidGrant, "the code was issued to another client")
	case errors.Is(err, store.ErrNotFound):
		return tokenResponse{}, badRequest(errInvalidGrant, "the code is invalid")
	case err != nil:
		return tokenResponse{}, s.serverError(ctx, "consume code", err)
	}
	if !now.Before(ac.ExpiresAt) {
		return tokenResponse{}, badRequest(errInvalidGrant, "the code has expired")
	}
	// RFC 6749 §4.1.3: redirect_uri must be identical to the one of the
	// authorization request when that request carried one.
	if ru := f.Get("redirect_uri"); ac.RedirectURI != "" && ru != ac.RedirectURI {
		return tokenResponse{}, badRequest(errInvalidGrant, "redirect_uri does not match the authorization request")
	} else if ac.RedirectURI == "" && ru != "" && !slices.Contains(c.RedirectURIs, ru) {
		return tokenResponse{}, badRequest(errInvalidGrant, "redirect_uri does not match the authorization request")
	}
	if e := verifyPKCE(f.Get("code_verifier"), ac.CodeChallenge); e != nil {
		return tokenResponse{}, e
	}
	// RFC 9449 §10: a code requested with dpop_jkt needs a proof by
	// that key.
	if e := s.dpop.requireKey(ac.DPoPJKT, snd.proof, "the code"); e != nil {
		return tokenResponse{}, e
	}
	u, err := s.o.Store.GetUser(ctx, ac.Subject)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.Disabled) {
		return tokenResponse{}, badRequest(errInvalidGrant, "the user is no longer active")
	} else if err != nil {
		return tokenResponse{}, s.serverError(ctx, "load user", err)
	}
	scopes := scope.Split(ac.Scope)
	resp, err := s.issue(ctx, grant{
		grantType: "authorization_code",
		client:    c,
		user:      &u,
		scopes:    scopes,
		audience:  ac.Audience,
		authTime:  ac.AuthTime,
		grantID:   ac.GrantID,
		nonce:     ac.Nonce,
		jkt:       proofKey(snd.proof),
		x5t:       snd.x5t,
		refresh:   slices.Contains(c.GrantTypes, "refresh_token"),
	})
	if err != nil {
		return tokenResponse{}, s.serverError(ctx, "issue authorization code tokens", err)
	}
	return resp, nil
}

// verifyPKCE is RFC 7636 §4.6 for S256, the only method accepted.
func verifyPKCE(verifier, challenge string) error {
	if verifier == "" {
		return badRequest(errInvalidGrant, "code_verifier is required")
	}
	if !validVerifier(verifier) {
		return badRequest(errInvalidGrant, "code_verifier is malformed")
	}
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	if subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) != 1 {
		return badRequest(errInvalidGrant, "code_verifier does not match the code challenge")
	}
	return nil
}

// validVerifier is RFC 7636 §4.1: 43 to 128 unreserved characters. The
// same alphabet and bounds hold for an S256 challenge (§4.2).
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// refreshToken is RFC 6749 §6 with rotation: each use returns a new
// refresh token, and a rotated token presented again revokes its whole
// family (RFC 9700 §4.14.2) unless it comes within the grace window.
func (s *Server) refreshToken(r *http.Request, c store.Client, snd sender) (tokenResponse, error) {
	f := r.PostForm
	rt := f.Get("refresh_token")
	if rt == "" {
		return tokenResponse{}, badRequest(errInvalidRequest, "refresh_token is required")
	}
	invalid := badRequest(errInvalidGrant, "the refresh token is invalid")
	if len(rt) > token.MaxLength {
		return tokenResponse{}, invalid
	}
	ctx := r.Context()
	now := s.now()
	// RFC 9449 §5.0, RFC 8705 §4: a public client's refresh token may be
	// bound to a DPoP key or a client certificate; checked before the
	// token is marked used, for the same reason as the client below.
	if refreshBound(c) {
		if e := s.checkRefreshKey(ctx, token.Digest(rt), c, snd.proof, snd.cert); e != nil {
			return tokenResponse{}, e
		}
	}
	// RFC 6749 §6: bound to its client, checked by the store before the
	// token is marked used, so another client's attempt cannot make the
	// rightful client's next refresh look like reuse.
	old, err := s.o.Store.UseRefreshToken(ctx, token.Digest(rt), c.ID, now)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrWrongClient) {
		return tokenResponse{}, invalid
	} else if err != nil {
		return tokenResponse{}, s.serverError(ctx, "use refresh token", err)
	}
	if old.Kind != store.KindRefresh || old.Revoked || !now.Before(old.ExpiresAt) {
		return tokenResponse{}, invalid
	}
	if !old.UsedAt.IsZero() && now.Sub(old.UsedAt) > s.cfg.RefreshReuseGrace {
		n, rerr := s.revokeGrant(ctx, old.GrantID)
		if rerr != nil {
			return tokenResponse{}, s.serverError(ctx, "revoke reused refresh family", rerr)
		}
		s.log.WarnContext(ctx, "rotated refresh token reused; family revoked",
			"client_id", c.ID, "grant_id", old.GrantID, "revoked", n)
		return tokenResponse{}, invalid
	}
	// RFC 9449 §5.0, RFC 8705 §4: whatever the client, the record just
	// used decides.
	if b, err := boundTo(old.Claims); err != nil {
		return tokenResponse{}, s.serverError(ctx, "refresh token binding", err)
	} else if e := requireCert(b.X5T, snd.cert, "the refresh token"); e != nil {
		return tokenResponse{}, e
	} else if e := s.dpop.requireKey(b.JKT, snd.proof, "the refresh token"); e != nil {
		return tokenResponse{}, e
	}
	// RFC 6749 §6: the new scope may only narrow the original grant.
	original := scope.Split(old.Scope)
	requested := original
	if f.Has("scope") {
		requested = scope.Split(f.Get("scope"))
		for _, sc := range requested {
			if !slices.Contains(original, sc) {
				return tokenResponse{}, badRequest(errInvalidScope, "the scope exceeds the original grant")
			}
		}
	}
	u, err := s.o.Store.GetUser(ctx, old.Subject)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.Disabled) {
		return tokenResponse{}, invalid
	} else if err != nil {
		return tokenResponse{}, s.serverError(ctx, "load user", err)
	}
	// Roles and attributes may have changed since the grant: decide again.
	granted := s.o.Policy.Grant(requested, c.Scopes, policy.Input{
		GrantType: "refresh_token",
		ClientID:  c.ID,
		User:      &policy.User{ID: u.ID, Roles: u.Roles, Attrs: u.Attrs},
		IP:        clientIP(r),
		Time:      now,
	})
	if len(granted) == 0 {
		return tokenResponse{}, badRequest(errInvalidScope, "none of the requested scopes may be granted")
	}
	resp, err := s.issue(ctx, grant{
		grantType: "refresh_token",
		client:    c,
		user:      &u,
		scopes:    granted,
		audience:  old.Audience,
		authTime:  old.AuthTime,
		grantID:   old.GrantID,
		refresh:   true,
		jkt:       proofKey(snd.proof),
		x5t:       snd.x5t,
	})
	if err != nil {
		return tokenResponse{}, s.serverError(ctx, "issue refreshed tokens", err)
	}
	return resp, nil
}

// parseScope reads the scope parameter (RFC 6749 §3.3); absent means
// every scope the client may have.
func parseScope(f url.Values, fallback []string) ([]string, error) {
	if !f.Has("scope") {
		return fallback, nil
	}
	raw := f.Get("scope")
	// RFC 6749 §3.3: scope = scope-token *( SP scope-token ); only SP
	// separates, so a tab or line break is malformed, not a separator.
	for tok := range strings.SplitSeq(raw, " ") {
		if tok != "" && !scope.IsToken(tok) {
			return nil, badRequest(errInvalidScope, "the scope parameter is malformed")
		}
	}
	return dedupe(scope.Split(raw)), nil
}

func dedupe(in []string) []string {
	out := in[:0:0]
	for _, v := range in {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// maxResources caps the resource parameters of one request. Each becomes
// an audience of the token, so without a cap one request could mint a
// token tens of kilobytes long, and a token good at many resource
// servers is the risk RFC 8707 §3 warns of; no client needs more than a
// few audiences on one token.
const maxResources = 10

// audience picks the access token audience: the resource indicators of
// RFC 8707 §2 when given, else the client's default, else the server's.
// A resource must be an absolute URI without fragment and one the client
// may address: one of its registered audiences when it has any, else one
// of the server's resource servers (Config.Resources and the default
// audience). Anything else, or more than maxResources of them, is
// invalid_target (RFC 8707 §2: "the requested resource is invalid,
// missing, unknown, or malformed").
func (s *Server) audience(f url.Values, c store.Client) ([]string, error) {
	res := f["resource"]
	if len(res) == 0 {
		if len(c.Audience) > 0 {
			return c.Audience, nil
		}
		return []string{s.defaultAudience()}, nil
	}
	if len(res) > maxResources {
		return nil, badRequest(errInvalidTarget, "at most "+strconv.Itoa(maxResources)+" resources may be requested at once")
	}
	for _, v := range res {
		u, err := url.Parse(v)
		if err != nil || !u.IsAbs() || u.Fragment != "" || strings.Contains(v, "#") {
			return nil, badRequest(errInvalidTarget, "resource must be an absolute URI without a fragment")
		}
		allowed := s.resources[v]
		if len(c.Audience) > 0 {
			allowed = slices.Contains(c.Audience, v)
		}
		if !allowed {
			return nil, badRequest(errInvalidTarget, "the client may not request tokens for this resource")
		}
	}
	return dedupe(res), nil
}

// defaultAudience is the audience of a token whose request and client
// name none: the configured default, else the issuer.
func (s *Server) defaultAudience() string {
	if s.cfg.DefaultAudience != "" {
		return s.cfg.DefaultAudience
	}
	return s.cfg.Issuer
}
