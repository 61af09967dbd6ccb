package issuer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Well-known locations of an issuer's metadata (OpenID Connect Discovery
// 1.0 §4, RFC 8414 §3).
const (
	wellKnownOpenID = "/.well-known/openid-configuration"
	wellKnownOAuth  = "/.well-known/oauth-authorization-server"
)

// DiscoverEndpoint reads issuer's metadata and returns the URL it gives
// under name (an RFC 8414 §2 member such as "jwks_uri" or
// "introspection_endpoint").
//
// The OpenID Connect Discovery document is tried first, then the RFC 8414
// one (§3.1); the next is tried when one is absent (404) or does not name
// the endpoint, and any other failure is an error at once. The document
// must name the issuer exactly (the defence against mix-up), and the
// endpoint must obey CheckURL and be https when the issuer is.
//
// A nil client means one with a FetchTimeout timeout; the client's
// redirects are restricted (RestrictRedirects) whatever it was given.
func DiscoverEndpoint(ctx context.Context, client *http.Client, issuer, name string) (string, error) {
	if client == nil {
		client = &http.Client{Timeout: FetchTimeout}
	}
	if err := CheckIdentifier(issuer); err != nil {
		return "", fmt.Errorf("discovery: issuer: %w", err)
	}
	client = RestrictRedirects(client)
	urls := wellKnownURLs(issuer)
	for i, u := range urls {
		last := i+1 == len(urls)
		body, err := FetchJSON(ctx, client, u)
		if se := (*StatusError)(nil); errors.As(err, &se) && se.Code == http.StatusNotFound && !last {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("discovery: %w", err)
		}
		var doc map[string]any
		if err := json.Unmarshal(body, &doc); err != nil {
			return "", fmt.Errorf("discovery document %s is not a json object", u)
		}
		if got, _ := doc["issuer"].(string); got != issuer {
			return "", fmt.Errorf("discovery document %s names issuer %q, want %q", u, got, issuer)
		}
		endpoint, _ := doc[name].(string)
		if endpoint == "" {
			if !last {
				// OpenID Connect Discovery does not define every
				// endpoint RFC 8414 does (introspection_endpoint).
				continue
			}
			return "", fmt.Errorf("discovery document %s has no %s", u, name)
		}
		e, err := CheckURL(endpoint)
		if err != nil {
			return "", fmt.Errorf("discovery document %s: %s: %w", u, name, err)
		}
		if strings.HasPrefix(issuer, "https:") && e.Scheme != "https" {
			return "", fmt.Errorf("discovery document %s: %s downgrades to http", u, name)
		}
		return endpoint, nil
	}
	return "", errors.New("discovery: no metadata document found")
}

// wellKnownURLs returns where the issuer's metadata may live: OpenID
// Connect Discovery §4 appends its path to the issuer; RFC 8414 §3.1
// inserts its own between the host and the issuer's path.
func wellKnownURLs(issuer string) []string {
	openid := strings.TrimSuffix(issuer, "/") + wellKnownOpenID
	u, err := url.Parse(issuer)
	if err != nil {
		return []string{openid}
	}
	u.Path = wellKnownOAuth + strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return []string{openid, u.String()}
}
