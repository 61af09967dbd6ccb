package token

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Well-known locations of the issuer metadata (OpenID Connect Discovery
// 1.0 §4, RFC 8414 §3).
const (
	wellKnownOIDC  = "/.well-known/openid-configuration"
	wellKnownOAuth = "/.well-known/oauth-authorization-server"
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

// DiscoverEndpoint reads issuer's metadata and returns the URL it gives
// for ep. It is the one discovery fetch of Portcullis, and it is careful
// because what it returns is trusted: keys decide which tokens pass, and
// the introspection endpoint receives the caller's client secret.
//
//   - The issuer must be https (plain http only on a loopback host),
//     without credentials, query or fragment (RFC 8414 §2).
//   - The OpenID Connect Discovery document is tried first, then the RFC
//     8414 one (§3.1); the next is tried when one is absent (404) or does
//     not name ep. Any other failure is an error at once.
//   - Every redirect obeys the same URL rules and never leaves https for
//     http; at most three are followed.
//   - Documents are bounded in size (1 MiB) and time (10s).
//   - The document must name the issuer exactly: OpenID Connect Discovery
//     §4.3 and RFC 8414 §3.3 make that the defence against mix-up
//     attacks, where one issuer's document points at another's endpoints.
//   - The endpoint must obey the URL rules too, and be https when the
//     issuer is.
//
// A nil client means one with a 10s timeout; a client's own CheckRedirect
// still runs after these rules.
func DiscoverEndpoint(ctx context.Context, client *http.Client, issuer string, ep Endpoint) (string, error) {
	if client == nil {
		client = &http.Client{Timeout: fetchTimeout}
	}
	if err := checkIssuerURL(issuer); err != nil {
		return "", fmt.Errorf("discovery: issuer: %w", err)
	}
	return discover(ctx, restrictRedirects(client), issuer, ep)
}

// discover is DiscoverEndpoint for a client whose redirects are already
// restricted and an issuer already checked.
func discover(ctx context.Context, client *http.Client, issuer string, ep Endpoint) (string, error) {
	urls := wellKnownURLs(issuer)
	for i, u := range urls {
		last := i+1 == len(urls)
		body, err := fetchDocument(ctx, client, u)
		if se := (*statusError)(nil); errors.As(err, &se) && se.code == http.StatusNotFound && !last {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("discovery: %w", err)
		}
		var doc map[string]any
		if err := json.Unmarshal(body, &doc); err != nil {
			return "", fmt.Errorf("discovery document %s: %w", u, err)
		}
		if got, _ := doc["issuer"].(string); got != issuer {
			return "", fmt.Errorf("discovery document %s names issuer %q, want %q", u, got, issuer)
		}
		endpoint, _ := doc[string(ep)].(string)
		if endpoint == "" {
			if !last {
				// OpenID Connect Discovery does not define every
				// endpoint RFC 8414 does (introspection_endpoint).
				continue
			}
			return "", fmt.Errorf("discovery document %s has no %s", u, ep)
		}
		e, err := checkFetchURL(endpoint)
		if err != nil {
			return "", fmt.Errorf("discovery document %s: %s: %w", u, ep, err)
		}
		if strings.HasPrefix(issuer, "https:") && e.Scheme != "https" {
			return "", fmt.Errorf("discovery document %s: %s downgrades to http", u, ep)
		}
		return endpoint, nil
	}
	return "", errors.New("discovery: no metadata document found")
}

// wellKnownURLs returns where the issuer's metadata may live: OpenID
// Connect Discovery appends its path to the issuer; RFC 8414 §3.1 inserts
// its own between the host and the issuer's path.
func wellKnownURLs(issuer string) []string {
	oidc := strings.TrimSuffix(issuer, "/") + wellKnownOIDC
	u, err := url.Parse(issuer)
	if err != nil {
		return []string{oidc}
	}
	u.Path = wellKnownOAuth + strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return []string{oidc, u.String()}
}
