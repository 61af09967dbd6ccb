package token

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

const (
	// maxDocumentSize bounds discovery documents and JWK Sets. Real ones
	// are a few KiB; an unbounded read would let a broken or hostile
	// server exhaust the gateway's memory.
	maxDocumentSize = 1 << 20
	// fetchTimeout bounds each fetch, whatever client the caller gave.
	fetchTimeout = 10 * time.Second
	// maxRedirects bounds redirects followed while fetching.
	maxRedirects = 3
)

// Well-known locations of the issuer metadata (OpenID Connect Discovery
// 1.0 §4, RFC 8414 §3).
const (
	wellKnownOIDC  = "/.well-known/openid-configuration"
	wellKnownOAuth = "/.well-known/oauth-authorization-server"
)

// statusError is a fetch answered with a status other than 200.
type statusError struct {
	url  string
	code int
}

func (e *statusError) Error() string {
	return fmt.Sprintf("fetch %s: status %d", e.url, e.code)
}

// checkFetchURL accepts an absolute https URL, or http only to a loopback
// host (a local issuer in development and tests). Keys fetched in clear
// text over a network could be swapped by anyone on the path.
func checkFetchURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("not a valid url")
	}
	if u.User != nil {
		return nil, errors.New("url must not carry credentials")
	}
	if u.Host == "" || u.Opaque != "" {
		return nil, errors.New("url must be absolute")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopbackHost(u.Hostname()) {
			return nil, errors.New("url must use https (http only on a loopback host)")
		}
	default:
		return nil, errors.New("url must use https")
	}
	return u, nil
}

// checkIssuerURL applies checkFetchURL and RFC 8414 §2: an issuer has no
// query or fragment.
func checkIssuerURL(raw string) error {
	u, err := checkFetchURL(raw)
	if err != nil {
		return err
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return errors.New("issuer must not have a query or fragment")
	}
	return nil
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// restrictRedirects returns a copy of base whose redirects obey the same
// URL rules as the first request, so a redirect cannot downgrade a fetch
// to clear text.
func restrictRedirects(base *http.Client) *http.Client {
	c := *base
	next := base.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return errors.New("too many redirects")
		}
		if _, err := checkFetchURL(req.URL.String()); err != nil {
			return fmt.Errorf("redirect refused: %w", err)
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
	return &c
}

// fetchDocument GETs a JSON document of at most maxDocumentSize bytes.
func fetchDocument(ctx context.Context, client *http.Client, rawURL string) ([]byte, error) {
	if _, err := checkFetchURL(rawURL); err != nil {
		return nil, fmt.Errorf("fetch %s: %w", rawURL, err)
	}
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", rawURL, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &statusError{url: rawURL, code: resp.StatusCode}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentSize+1))
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", rawURL, err)
	}
	if len(body) > maxDocumentSize {
		return nil, fmt.Errorf("fetch %s: document larger than %d bytes", rawURL, maxDocumentSize)
	}
	return body, nil
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

// discover reads the issuer's metadata and returns its jwks_uri. The
// metadata must name the issuer exactly: OpenID Connect Discovery 1.0 §4.3
// and RFC 8414 §3.3 make that the defence against mix-up attacks, where
// one issuer's document points at another's keys.
func discover(ctx context.Context, client *http.Client, issuer string) (string, error) {
	urls := wellKnownURLs(issuer)
	for i, u := range urls {
		body, err := fetchDocument(ctx, client, u)
		if se := (*statusError)(nil); errors.As(err, &se) && se.code == http.StatusNotFound && i+1 < len(urls) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("discovery: %w", err)
		}
		var doc struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			return "", fmt.Errorf("discovery document %s: %w", u, err)
		}
		if doc.Issuer != issuer {
			return "", fmt.Errorf("discovery document %s names issuer %q, want %q", u, doc.Issuer, issuer)
		}
		if doc.JWKSURI == "" {
			return "", fmt.Errorf("discovery document %s has no jwks_uri", u)
		}
		if _, err := checkFetchURL(doc.JWKSURI); err != nil {
			return "", fmt.Errorf("discovery document %s: jwks_uri: %w", u, err)
		}
		return doc.JWKSURI, nil
	}
	return "", errors.New("discovery: no metadata document found")
}
