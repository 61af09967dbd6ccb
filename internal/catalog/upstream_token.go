package catalog

import (
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/portcullis/portcullis/internal/duration"
	"github.com/portcullis/portcullis/internal/scope"
)

// UpstreamToken makes the gateway an OAuth client of an authorization
// server for one API: the token the upstream receives is obtained there
// rather than the verified JWT of the caller (package backendtoken).
type UpstreamToken struct {
	// Mode is UpstreamTokenExchange (the caller's token exchanged for
	// one naming Audience, RFC 8693: the caller stays the subject, the
	// gateway's client becomes the actor) or UpstreamTokenClient (the
	// gateway's own client-credentials token, RFC 6749 §4.4, for
	// upstreams that trust the gateway rather than the caller).
	// Required.
	Mode string `yaml:"mode"`
	// Issuer is the authorization server, one of the gateway's issuers:
	// its client_id and client secret authenticate the gateway. Empty
	// means the API's issuer.
	Issuer string `yaml:"issuer"`
	// TokenEndpoint overrides the token_endpoint of the issuer's
	// discovery document. Empty means discovery.
	TokenEndpoint string `yaml:"token_endpoint"`
	// Audience names the upstream (absolute URIs): RFC 8693 audience of
	// an exchange, RFC 8707 resource of a client-credentials request.
	// Required for an exchange, so the token it yields is good at this
	// upstream only.
	Audience []string `yaml:"audience"`
	// Scope is requested (scope tokens). Empty lets the server decide.
	Scope []string `yaml:"scope"`
	// RefreshBefore is how long before expiry a cached token is fetched
	// again, in the background while it is still sent. Zero means 30s.
	RefreshBefore Duration `yaml:"refresh_before"`
}

// The values of UpstreamToken.Mode.
const (
	UpstreamTokenExchange = "exchange"
	UpstreamTokenClient   = "client_credentials"
)

// defaultUpstreamTokenRefresh is what a zero RefreshBefore means.
const defaultUpstreamTokenRefresh = 30 * time.Second

func (u *UpstreamToken) clone() *UpstreamToken {
	if u == nil {
		return nil
	}
	c := *u
	c.Audience = slices.Clone(u.Audience)
	c.Scope = slices.Clone(u.Scope)
	return &c
}

// upstreamToken checks an API's upstream_token.
func (v *validator) upstreamToken(f string, a *API) {
	ut := a.UpstreamToken
	if ut == nil {
		return
	}
	f += ".upstream_token"
	v.oneOf(f+".mode", ut.Mode, []string{UpstreamTokenExchange, UpstreamTokenClient})
	name := ut.Issuer
	if name == "" {
		name = a.Issuer
	}
	is := v.s.IssuerFor(&API{Issuer: name})
	switch {
	case is == nil && name == "":
		v.add(f+".issuer", "must name one of the gateway's issuers (the API names none and the gateway has several or none)", nil)
	case is == nil:
		v.add(f+".issuer", fmt.Sprintf("%q is not one of the gateway's issuers", name), nil)
	case is.ClientID == "":
		v.add(f+".issuer", fmt.Sprintf("issuer %q has no client_id: the gateway needs its own client there to obtain tokens", is.Issuer), nil)
	}
	v.endpointURL(f+".token_endpoint", ut.TokenEndpoint)
	if ut.Mode == UpstreamTokenExchange && len(ut.Audience) == 0 {
		v.add(f+".audience", "is required for an exchange: the token it yields must name this upstream only", nil)
	}
	for k, aud := range ut.Audience {
		u, err := url.Parse(aud)
		if err != nil || !u.IsAbs() || u.Fragment != "" {
			v.add(fmt.Sprintf("%s.audience[%d]", f, k), "must be an absolute URI without a fragment", nil)
		}
	}
	for k, sc := range ut.Scope {
		if !scope.IsToken(sc) {
			v.add(fmt.Sprintf("%s.scope[%d]", f, k), "is not a scope token (RFC 6749 §3.3)", nil)
		}
	}
	v.duration(f+".refresh_before", ut.RefreshBefore, duration.Bounds{Min: time.Second, Max: time.Hour})
}
