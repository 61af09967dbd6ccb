package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

const (
	// maxDocumentSize bounds a discovery document or a JWK Set. Real ones
	// are a few KiB; an unbounded read would let a broken or hostile
	// server exhaust the backend's memory.
	maxDocumentSize = 1 << 20
	// maxRedirects bounds the redirects followed by one fetch.
	maxRedirects = 3
)

// httpStatusError is a fetch answered with a status other than 200.
type httpStatusError struct {
	url  string
	code int
}

func (e *httpStatusError) Error() string {
	return fmt.Sprintf("fetch %s: status %d", e.url, e.code)
}

// checkFetchURL accepts an absolute https URL without credentials, or an
// http one only to a loopback host (an issuer on the same machine in
// development and tests): keys fetched in clear text over a network
// could be swapped by anyone on the path.
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

// checkIssuerURL is checkFetchURL plus RFC 8414 §2: an issuer has no
// query or fragment.
func checkIssuerURL(raw string) error {
	if raw == "" {
		return errors.New("an issuer is required")
	}
	u, err := checkFetchURL(raw)
	if err != nil {
		return err
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#") {
		return errors.New("issuer must not have a query or fragment")
	}
	return nil
}

// isLoopbackHost reports whether host is "localhost" or a loopback IP
// address (RFC 6761 §6.3, RFC 1122 §3.2.1.3).
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// restrictRedirects returns a copy of base whose redirects obey the URL
// rules of the first request and never leave https for http, so a
// redirect cannot downgrade a fetch to clear text.
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
		if via[len(via)-1].URL.Scheme == "https" && req.URL.Scheme != "https" {
			return errors.New("redirect refused: it leaves https for http")
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
	return &c
}

// fetchJSON GETs a JSON document of at most maxDocumentSize bytes.
func fetchJSON(ctx context.Context, client *http.Client, rawURL string) ([]byte, error) {
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
		return nil, &httpStatusError{url: rawURL, code: resp.StatusCode}
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
