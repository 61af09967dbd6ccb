package token

import (
	"context"
	"net/http"

	"github.com/portcullis/portcullis/pkg/issuer"
)

// Endpoint names an endpoint in an issuer's metadata (RFC 8414 §2).
type Endpoint string

// The endpoints DiscoverEndpoint finds.
const (
	// EndpointJWKS is jwks_uri, where the issuer publishes its keys.
	EndpointJWKS Endpoint = "jwks_uri"
	// EndpointIntrospection is introspection_endpoint (RFC 7662), where
	// a resource server resolves opaque tokens with its own credentials.
	EndpointIntrospection Endpoint = "introspection_endpoint"
	// EndpointToken is token_endpoint (RFC 6749 §3.2), where the gateway
	// obtains the tokens it presents to upstreams.
	EndpointToken Endpoint = "token_endpoint"
)

// DiscoverEndpoint reads the issuer's metadata and returns the URL it
// gives for ep: pkg/issuer's DiscoverEndpoint, the one discovery fetch of
// Portcullis. It is careful because what it returns is trusted (keys
// decide which tokens pass; the introspection endpoint receives the
// caller's client secret): https only (plain http to loopback alone),
// restricted redirects, bounded documents, and a document that names the
// issuer exactly (the defence against mix-up). A nil client means one
// with a 10s timeout.
func DiscoverEndpoint(ctx context.Context, client *http.Client, iss string, ep Endpoint) (string, error) {
	return issuer.DiscoverEndpoint(ctx, client, iss, string(ep))
}
