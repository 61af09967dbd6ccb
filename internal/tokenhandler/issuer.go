package tokenhandler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/portcullis/portcullis/internal/token"
)

// Bounds of the calls to the issuer.
const (
	// defaultIssuerTimeout bounds each call when Options.HTTPClient is nil.
	defaultIssuerTimeout = 10 * time.Second
	// revokeTimeout bounds the best-effort revocation at logout: the
	// user is logged out of the app whether or not it succeeds.
	revokeTimeout = 3 * time.Second
	// maxUserinfo bounds the userinfo document relayed to the SPA.
	maxUserinfo = 64 << 10
)

// errRefused is the issuer refusing a grant (RFC 6749 §5.2): the code or
// refresh token is no good, and retrying will not help.
type errRefused struct {
	// code is the OAuth error code ("invalid_grant"), safe to log.
	code   string
	status int
}

func (e *errRefused) Error() string {
	return fmt.Sprintf("issuer refused the grant: %s (status %d)", e.code, e.status)
}

// newIssuerClient builds the OAuth client of cfg from discovered endpoints.
func (h *Handler) newIssuerClient(ctx context.Context, ep map[token.Endpoint]string) *issuerClient {
	keys := oidc.NewRemoteKeySet(oidc.ClientContext(ctx, h.client), ep[token.EndpointJWKS])
	return &issuerClient{
		oauth: oauth2.Config{
			ClientID:     h.cfg.ClientID,
			ClientSecret: h.secret,
			RedirectURL:  h.cfg.RedirectURI,
			Scopes:       h.cfg.Scopes,
			// RFC 6749 §2.3.1: Basic with form-encoded id and secret;
			// set, so x/oauth2 never probes with the secret in the body.
			Endpoint: oauth2.Endpoint{AuthURL: ep[epAuthorization], TokenURL: ep[epToken], AuthStyle: oauth2.AuthStyleInHeader},
		},
		verifier: oidc.NewVerifier(h.cfg.Issuer, keys, &oidc.Config{
			ClientID:             h.cfg.ClientID,
			SupportedSigningAlgs: idTokenAlgs,
			Now:                  h.now,
		}),
		userinfo:   ep[epUserinfo],
		revocation: ep[epRevocation],
		endSession: ep[epEndSession],
	}
}

// clientContext carries the agent's HTTP client to x/oauth2.
func (h *Handler) clientContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, h.client)
}

// exchange redeems an authorization code with its PKCE verifier (RFC
// 6749 §4.1.3, RFC 7636 §4.5).
func (h *Handler) exchange(ctx context.Context, ic *issuerClient, code, verifier string) (*oauth2.Token, error) {
	t, err := ic.oauth.Exchange(h.clientContext(ctx), code, oauth2.VerifierOption(verifier))
	return t, classify(err)
}

// refresh runs the refresh grant (RFC 6749 §6). The issuer rotates the
// refresh token; x/oauth2 keeps the old one when none comes back.
func (h *Handler) refresh(ctx context.Context, ic *issuerClient, rt string) (*oauth2.Token, error) {
	t, err := ic.oauth.TokenSource(h.clientContext(ctx), &oauth2.Token{RefreshToken: rt}).Token()
	return t, classify(err)
}

// classify tells a refusal from an outage. The error of x/oauth2 is
// never passed on as text: for an answer it could not parse, it quotes
// the body.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode >= 400 && re.Response.StatusCode < 500 && re.ErrorCode != "" {
		return &errRefused{code: re.ErrorCode, status: re.Response.StatusCode}
	}
	if errors.As(err, &re) && re.Response != nil {
		return fmt.Errorf("%w: token endpoint answered %d", errIssuer, re.Response.StatusCode)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%w: %s %w", errIssuer, ue.Op, ue.Err)
	}
	return fmt.Errorf("%w: token endpoint answer unusable", errIssuer)
}

// idToken is what the agent keeps of a verified ID token.
type idToken struct {
	raw     string
	subject string
	nonce   string
}

// verifyIDToken checks the ID token of a token response: signature,
// issuer, audience and expiry (go-oidc, OpenID Connect Core §3.1.3.7
// items 1-3, 6, 9), the authorized party (items 4-5) and at_hash against
// the access token (§3.1.3.8, §3.2.2.9) when present.
func (h *Handler) verifyIDToken(ctx context.Context, ic *issuerClient, t *oauth2.Token) (*idToken, error) {
	raw, _ := t.Extra("id_token").(string)
	if raw == "" {
		return nil, errors.New("token response has no id_token")
	}
	v, err := ic.verifier.Verify(oidc.ClientContext(ctx, h.client), raw)
	if err != nil {
		return nil, fmt.Errorf("id token: %w", err)
	}
	var c struct {
		AZP string `json:"azp"`
	}
	if err := v.Claims(&c); err != nil {
		return nil, fmt.Errorf("id token claims: %w", err)
	}
	if (len(v.Audience) > 1 || c.AZP != "") && c.AZP != h.cfg.ClientID {
		return nil, errors.New("id token: azp is not this client")
	}
	if v.AccessTokenHash != "" {
		if err := v.VerifyAccessToken(t.AccessToken); err != nil {
			return nil, fmt.Errorf("id token: %w", err)
		}
	}
	return &idToken{raw: raw, subject: v.Subject, nonce: v.Nonce}, nil
}

// revoke revokes a token at the issuer (RFC 7009 §2.1), authenticated
// like the token endpoint. Revoking a refresh token revokes the access
// tokens of its grant too (§2.1), so logout sends the refresh token.
func (h *Handler) revoke(ctx context.Context, ic *issuerClient, tok, hint string) error {
	if ic.revocation == "" {
		return errors.New("the issuer publishes no revocation_endpoint")
	}
	ctx, cancel := context.WithTimeout(ctx, revokeTimeout)
	defer cancel()
	form := url.Values{"token": {tok}, "token_type_hint": {hint}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ic.revocation, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(h.cfg.ClientID), url.QueryEscape(h.secret))
	resp, err := h.client.Do(req)
	if err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("revoke: status %d", resp.StatusCode)
	}
	return nil
}

// errIssuer marks a failure to talk to the issuer (network, 5xx, bad
// answer), as opposed to a refusal: the agent answers 502, keeps the
// session, and the SPA may retry.
var errIssuer = errors.New("issuer unavailable")

// errUnauthorized is the issuer refusing an access token (RFC 6750 §3.1).
var errUnauthorized = errors.New("issuer refused the access token")

// fetchUserinfo calls the userinfo endpoint with the access token
// (OpenID Connect Core §5.3.1) and returns its JSON object unchanged.
func (h *Handler) fetchUserinfo(ctx context.Context, ic *issuerClient, at string) (json.RawMessage, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ic.userinfo, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+at)
	req.Header.Set("Accept", "application/json")
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: userinfo: %w", errIssuer, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, errUnauthorized
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%w: userinfo answered %d", errIssuer, resp.StatusCode)
	}
	// §5.3.2: JSON, or a JWT when the client registered for signed
	// userinfo, which this agent does not.
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
		return nil, fmt.Errorf("%w: userinfo is not JSON", errIssuer)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxUserinfo+1))
	if err != nil {
		return nil, fmt.Errorf("%w: userinfo: %w", errIssuer, err)
	}
	var obj map[string]json.RawMessage
	if len(body) > maxUserinfo || json.Unmarshal(body, &obj) != nil {
		return nil, fmt.Errorf("%w: userinfo is not a JSON object of at most %d bytes", errIssuer, maxUserinfo)
	}
	return body, nil
}

// endSessionURL is the RP-Initiated Logout request (OpenID Connect
// RP-Initiated Logout 1.0 §2) the SPA navigates to, or "". It carries the
// client id rather than id_token_hint, so the ID token never reaches the
// page's script.
func (h *Handler) endSessionURL(ic *issuerClient) string {
	if ic.endSession == "" {
		return ""
	}
	u, err := url.Parse(ic.endSession)
	if err != nil {
		return ""
	}
	q := u.Query()
	q.Set("client_id", h.cfg.ClientID)
	if h.cfg.PostLogoutRedirectURI != "" {
		q.Set("post_logout_redirect_uri", h.cfg.PostLogoutRedirectURI)
	}
	u.RawQuery = q.Encode()
	return u.String()
}
