package verify

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

// discoverJWKSURL reads the issuer's metadata and returns its jwks_uri.
// The OpenID Connect document is tried first, then the RFC 8414 one; the
// next is tried when one is absent (404) or names no jwks_uri, any other
// failure ends the search. The document must name the issuer exactly:
// OpenID Connect Discovery §4.3 and RFC 8414 §3.3 make that the defence
// against mix-up, where one issuer's document points at another's keys.
func discoverJWKSURL(ctx context.Context, client *http.Client, issuer string) (string, error) {
	urls := metadataURLs(issuer)
	for i, u := range urls {
		last := i+1 == len(urls)
		body, err := fetchJSON(ctx, client, u)
		if se := (*httpStatusError)(nil); errors.As(err, &se) && se.code == http.StatusNotFound && !last {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("discovery: %w", err)
		}
		var doc struct {
			Issuer  any `json:"issuer"`
			JWKSURI any `json:"jwks_uri"`
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			return "", fmt.Errorf("discovery document %s is not a json object", u)
		}
		if got, _ := doc.Issuer.(string); got != issuer {
			return "", fmt.Errorf("discovery document %s names another issuer", u)
		}
		jwks, _ := doc.JWKSURI.(string)
		if jwks == "" {
			if !last {
				continue
			}
			return "", fmt.Errorf("discovery document %s has no jwks_uri", u)
		}
		ju, err := checkFetchURL(jwks)
		if err != nil {
			return "", fmt.Errorf("discovery document %s: jwks_uri: %w", u, err)
		}
		// An https issuer's keys must not travel in clear text.
		if strings.HasPrefix(issuer, "https:") && ju.Scheme != "https" {
			return "", fmt.Errorf("discovery document %s: jwks_uri downgrades to http", u)
		}
		return jwks, nil
	}
	return "", errors.New("discovery: no metadata document found")
}

// metadataURLs returns where the issuer's metadata may live: OpenID
// Connect Discovery §4 appends its path to the issuer, RFC 8414 §3.1
// inserts its own between the host and the issuer's path.
func metadataURLs(issuer string) []string {
	openid := strings.TrimSuffix(issuer, "/") + wellKnownOpenID
	u, err := url.Parse(issuer)
	if err != nil {
		return []string{openid}
	}
	u.Path = wellKnownOAuth + strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return []string{openid, u.String()}
}
