package tokenhandler

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/portcullis/portcullis/internal/token"
)

// Discovery bounds: one run of discovery, and how long a failure is
// remembered before the next request tries again (so a dead issuer is
// not asked once per request, and the agent fails closed meanwhile).
const (
	discoveryTimeout = 30 * time.Second
	discoveryRetry   = 5 * time.Second
)

// idTokenAlgs are the signature algorithms an ID token may use:
// asymmetric only (RFC 8725 §3.1, §3.2: never none, never a MAC whose
// key the client would share).
var idTokenAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// Endpoint names of the issuer metadata (RFC 8414 §2, OpenID Connect
// Discovery §3, RP-Initiated Logout §2.1) that token.Endpoint lacks.
const (
	epAuthorization token.Endpoint = "authorization_endpoint"
	epToken         token.Endpoint = "token_endpoint"
	epUserinfo      token.Endpoint = "userinfo_endpoint"
	epRevocation    token.Endpoint = "revocation_endpoint"
	epEndSession    token.Endpoint = "end_session_endpoint"
)

// issuerClient is the agent's view of the issuer, built once from its
// metadata: the OAuth client, the ID token verifier and the optional
// endpoints ("" when the issuer publishes none).
type issuerClient struct {
	oauth      oauth2.Config
	verifier   *oidc.IDTokenVerifier
	userinfo   string
	revocation string
	endSession string
}

// discovery finds the issuer's endpoints on first use, not at start-up:
// on one node the gateway starts beside the issuer it discovers. Calls
// that arrive while discovery runs wait for it; a failure is answered
// for discoveryRetry before the next attempt.
type discovery struct {
	issuer string
	client *http.Client
	build  func(ctx context.Context, ep map[token.Endpoint]string) *issuerClient
	now    func() time.Time
	log    *slog.Logger

	mu       sync.Mutex
	done     *issuerClient
	call     *discoveryCall
	failedAt time.Time
	err      error
}

type discoveryCall struct {
	done chan struct{}
	ic   *issuerClient
	err  error
}

// get returns the issuer client, discovering it when needed. It waits
// for a running discovery no longer than ctx allows.
func (d *discovery) get(ctx context.Context) (*issuerClient, error) {
	d.mu.Lock()
	if d.done != nil {
		ic := d.done
		d.mu.Unlock()
		return ic, nil
	}
	if d.err != nil && d.now().Sub(d.failedAt) < discoveryRetry {
		err := d.err
		d.mu.Unlock()
		return nil, err
	}
	call := d.call
	if call == nil {
		call = &discoveryCall{done: make(chan struct{})}
		d.call = call
		// Detached: a caller that gives up must not fail the others.
		go d.run(context.WithoutCancel(ctx), call)
	}
	d.mu.Unlock()
	select {
	case <-call.done:
		return call.ic, call.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (d *discovery) run(ctx context.Context, call *discoveryCall) {
	ctx, cancel := context.WithTimeout(ctx, discoveryTimeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			call.ic, call.err = nil, fmt.Errorf("discovery panicked: %v", p)
		}
		d.mu.Lock()
		if call.err == nil {
			d.done = call.ic
		} else {
			d.err, d.failedAt = call.err, d.now()
			d.log.Warn("issuer discovery failed", "issuer", d.issuer, "err", call.err)
		}
		d.call = nil
		d.mu.Unlock()
		close(call.done)
	}()
	call.ic, call.err = d.discover(ctx)
}

// discover reads each endpoint through token.DiscoverEndpoint, the one
// careful discovery fetch of Portcullis (https, bounded, issuer checked
// against mix-up). The optional endpoints are absent when it finds none.
func (d *discovery) discover(ctx context.Context) (*issuerClient, error) {
	ep := map[token.Endpoint]string{}
	for _, name := range []token.Endpoint{epAuthorization, epToken, token.EndpointJWKS} {
		u, err := token.DiscoverEndpoint(ctx, d.client, d.issuer, name)
		if err != nil {
			return nil, err
		}
		ep[name] = u
	}
	for _, name := range []token.Endpoint{epUserinfo, epRevocation, epEndSession} {
		u, err := token.DiscoverEndpoint(ctx, d.client, d.issuer, name)
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			// An issuer need not publish these; the endpoints that use
			// them say so when asked.
			d.log.Debug("optional issuer endpoint not discovered", "endpoint", string(name), "err", err)
			continue
		}
		ep[name] = u
	}
	return d.build(ctx, ep), nil
}
