package backendtoken

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/token"
)

// RFC 8693 §3 identifiers.
const (
	grantTokenExchange   = "urn:ietf:params:oauth:grant-type:token-exchange"
	tokenTypeAccess      = "urn:ietf:params:oauth:token-type:access_token"
	maxTokenResponse     = 64 << 10
	defaultTokenLifetime = 60 * time.Second
)

// RefusedError is the token endpoint's refusal (RFC 6749 §5.2): the
// exchange policy does not let this caller reach the backend, or the
// gateway's client is not allowed what it asks. Code and Description are
// the server's; they never contain a token.
type RefusedError struct {
	Status      int
	Code        string
	Description string
}

// Error implements error.
func (e *RefusedError) Error() string {
	return fmt.Sprintf("backendtoken: token endpoint refused (%d %s): %s", e.Status, e.Code, e.Description)
}

// Denied reports whether the refusal is about the caller (its token or
// what it may reach) rather than about the gateway's own client: the
// first is the caller's 403, the second the operator's 502.
func (e *RefusedError) Denied() bool {
	switch e.Code {
	case "invalid_grant", "invalid_target", "invalid_scope", "access_denied":
		return true
	}
	return false
}

// tokenResponse is RFC 6749 §5.1 with RFC 8693 §2.2.1's issued_token_type.
type tokenResponse struct {
	AccessToken     string `json:"access_token"`
	TokenType       string `json:"token_type"`
	ExpiresIn       *int64 `json:"expires_in"`
	IssuedTokenType string `json:"issued_token_type"`
	Error           string `json:"error"`
	ErrorDesc       string `json:"error_description"`
}

// tokenEndpoint returns the configured token endpoint, or discovers the
// issuer's; a failed discovery is tried again on the next fetch.
func (s *Source) tokenEndpoint(ctx context.Context) (string, error) {
	s.mu.Lock()
	ep := s.endpoint
	s.mu.Unlock()
	if ep != "" {
		return ep, nil
	}
	ep, err := token.DiscoverEndpoint(ctx, s.client, s.cfg.Issuer, token.EndpointToken)
	if err != nil {
		return "", fmt.Errorf("backendtoken: %w", err)
	}
	s.mu.Lock()
	s.endpoint = ep
	s.mu.Unlock()
	return ep, nil
}

// fetch asks the token endpoint for a token.
func (s *Source) fetch(ctx context.Context, subject string) (Token, error) {
	f := url.Values{}
	switch s.cfg.Mode {
	case ModeExchange:
		f.Set("grant_type", grantTokenExchange)
		f.Set("subject_token", subject)
		f.Set("subject_token_type", tokenTypeAccess)
		f.Set("requested_token_type", tokenTypeAccess)
		for _, a := range s.cfg.Audience {
			f.Add("audience", a)
		}
	default:
		f.Set("grant_type", "client_credentials")
		for _, a := range s.cfg.Audience {
			f.Add("resource", a)
		}
	}
	if len(s.cfg.Scope) > 0 {
		f.Set("scope", strings.Join(s.cfg.Scope, " "))
	}
	endpoint, err := s.tokenEndpoint(ctx)
	if err != nil {
		return Token{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(f.Encode()))
	if err != nil {
		return Token{}, fmt.Errorf("backendtoken: request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	// RFC 6749 §2.3.1: both parts form-encoded before Basic.
	req.SetBasicAuth(url.QueryEscape(s.cfg.ClientID), url.QueryEscape(s.cfg.ClientSecret))
	start := s.now()
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is configuration, but keep the line short
		}
		return Token{}, fmt.Errorf("backendtoken: token endpoint: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse+1))
	if err != nil {
		return Token{}, fmt.Errorf("backendtoken: token endpoint: %w", err)
	}
	if len(body) > maxTokenResponse {
		return Token{}, errors.New("backendtoken: token endpoint answer too large")
	}
	var tr tokenResponse
	jerr := json.Unmarshal(body, &tr)
	if resp.StatusCode != http.StatusOK {
		if jerr == nil && tr.Error != "" {
			return Token{}, &RefusedError{Status: resp.StatusCode, Code: tr.Error, Description: tr.ErrorDesc}
		}
		return Token{}, fmt.Errorf("backendtoken: token endpoint answered %d", resp.StatusCode)
	}
	if jerr != nil || tr.AccessToken == "" {
		return Token{}, errors.New("backendtoken: token endpoint answer has no access_token")
	}
	// A DPoP- or otherwise bound token could not be used by the gateway:
	// only Bearer tokens are presented to backends.
	if !strings.EqualFold(tr.TokenType, "Bearer") {
		return Token{}, fmt.Errorf("backendtoken: token type %q cannot be presented", tr.TokenType)
	}
	if tr.IssuedTokenType != "" && tr.IssuedTokenType != tokenTypeAccess {
		return Token{}, fmt.Errorf("backendtoken: issued token type %q is not an access token", tr.IssuedTokenType)
	}
	life := defaultTokenLifetime
	if tr.ExpiresIn != nil {
		if *tr.ExpiresIn <= 0 {
			return Token{}, errors.New("backendtoken: token endpoint answered an expired token")
		}
		life = time.Duration(*tr.ExpiresIn) * time.Second
	}
	// Counted from before the call, so the cache never outlives the token.
	return Token{Value: tr.AccessToken, ExpiresAt: start.Add(life)}, nil
}
