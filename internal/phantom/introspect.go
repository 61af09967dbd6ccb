package phantom

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/token"
)

// maxResponseBody bounds what is read of an introspection answer. A
// phantom JWT is under token.MaxLength; anything near this bound is a
// broken or hostile server, not a token.
const maxResponseBody = 64 << 10

// maxDrain bounds what is read of a body nobody wants, to let the
// connection be reused without reading a hostile stream forever.
const maxDrain = 4 << 10

// newClient returns the client used when the config brings none: keep
// alives with enough idle connections per host for a busy gateway (every
// cache miss is one request to the same host), every timeout set, no
// redirects, because following one would resend the token and the
// gateway's credentials to wherever the redirect points, and no proxy
// from the environment (HTTPS_PROXY, HTTP_PROXY), for the same reason: the
// gateway's client secret goes only where the configuration says, as
// with the upstream transport.
func newClient(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           256,
		MaxIdleConnsPerHost:    64,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    timeout,
		ResponseHeaderTimeout:  timeout,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// introspect asks the authorization server about raw (RFC 7662 §2.1),
// asking for the phantom JWT rather than JSON, and verifies the answer.
func (i *Introspector) introspect(ctx context.Context, raw string) (*token.Verified, error) {
	form := "token=" + url.QueryEscape(raw) + "&token_type_hint=access_token"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, i.url, strings.NewReader(form))
	if err != nil {
		return nil, fmt.Errorf("%w: introspection request: %w", ErrUnavailable, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/jwt")
	req.Header.Set("Authorization", i.basic)
	resp, err := i.client.Do(req)
	if err != nil {
		// A *url.Error names the endpoint and the cause, never the body
		// that carried the token.
		i.core.log.WarnContext(ctx, "introspection failed", "error", err)
		return nil, fmt.Errorf("%w: introspection: %w", ErrUnavailable, err)
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
		_ = resp.Body.Close()
	}()
	return i.answer(ctx, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Body)
}

// answer interprets an introspection response. Only a verified JWT is a
// positive answer; only an explicit {"active":false} (or a JWT that fails
// verification) is a negative one. Everything else says the server could
// not be asked properly, and the gateway fails closed without caching.
func (i *Introspector) answer(ctx context.Context, status int, contentType string, body io.Reader) (*token.Verified, error) {
	log := i.core.log
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		// The gateway's own credentials or rights are wrong: every token
		// would fail, so this is an operator's problem, not the token's.
		log.ErrorContext(ctx, "authorization server refused the gateway's introspection credentials",
			"status", status, "hint", "check the introspection client id, secret and its right to introspect")
		return nil, fmt.Errorf("%w: introspection refused the gateway's credentials (status %d)", ErrUnavailable, status)
	case status != http.StatusOK:
		log.WarnContext(ctx, "introspection failed", "status", status)
		return nil, fmt.Errorf("%w: introspection status %d", ErrUnavailable, status)
	}
	b, err := io.ReadAll(io.LimitReader(body, maxResponseBody+1))
	if err != nil {
		log.WarnContext(ctx, "introspection failed", "error", err)
		return nil, fmt.Errorf("%w: reading introspection response: %w", ErrUnavailable, err)
	}
	if len(b) > maxResponseBody {
		log.ErrorContext(ctx, "introspection response too large", "limit_bytes", maxResponseBody)
		return nil, fmt.Errorf("%w: introspection response exceeds %d bytes", ErrUnavailable, maxResponseBody)
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = ""
	}
	switch mt {
	case "application/jwt":
		return i.verify(ctx, strings.TrimSpace(string(b)))
	case "application/json":
		// RFC 7662 §2.2: "active" is required; an inactive answer
		// carries nothing else worth reading.
		var ans struct {
			Active *bool `json:"active"`
		}
		if err := json.Unmarshal(b, &ans); err != nil || ans.Active == nil {
			log.ErrorContext(ctx, "introspection response is not RFC 7662 JSON")
			return nil, fmt.Errorf("%w: malformed introspection response", ErrUnavailable)
		}
		if !*ans.Active {
			log.DebugContext(ctx, "token inactive")
			return nil, ErrInactive
		}
		// Active, but as JSON: the server ignored Accept:
		// application/jwt, so there is no signed token to forward.
		log.ErrorContext(ctx, "authorization server answered JSON instead of a phantom JWT",
			"hint", "check that the server issues phantom tokens to this client")
		return nil, fmt.Errorf("%w: introspection answered json, not a phantom jwt", ErrUnavailable)
	default:
		log.ErrorContext(ctx, "unexpected introspection content type", "content_type", mt)
		return nil, fmt.Errorf("%w: unexpected introspection content type", ErrUnavailable)
	}
}

// verify checks the phantom JWT like any JWT. A JWT that fails is an
// inactive answer (cached briefly), except when verification itself ran
// out of time.
func (i *Introspector) verify(ctx context.Context, jwt string) (*token.Verified, error) {
	v, err := i.v.Verify(ctx, jwt)
	if err == nil {
		return v, nil
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		i.core.log.WarnContext(ctx, "phantom token verification timed out")
		return nil, fmt.Errorf("%w: verifying phantom token: %w", ErrUnavailable, err)
	}
	logVerifyFailure(ctx, i.core.log, "phantom token failed verification", err)
	return nil, fmt.Errorf("%w: phantom token failed verification: %w", ErrInactive, err)
}

// logVerifyFailure logs why a JWT the authorization server vouched for
// (a phantom token, a reassembled split token) was refused. A token for
// another API (wrong audience) or one that expired on the way is the
// client's doing, which any client can repeat at will: debug, so it
// cannot flood the error log. Anything else means keys, issuer or
// algorithms disagree between the gateway and the authorization server,
// which an operator must see.
func logVerifyFailure(ctx context.Context, log *slog.Logger, msg string, err error) {
	level := slog.LevelError
	if errors.Is(err, token.ErrAudience) || errors.Is(err, token.ErrExpired) {
		level = slog.LevelDebug
	}
	log.Log(ctx, level, msg, "error", err)
}
