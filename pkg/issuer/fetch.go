package issuer

import (
	"context"
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
	// MaxDocumentSize bounds a metadata document or a JWK Set. Real ones
	// are a few KiB; an unbounded read would let a broken or hostile
	// server exhaust the reader's memory.
	MaxDocumentSize = 1 << 20
	// FetchTimeout bounds each fetch, whatever client the caller gave.
	FetchTimeout = 10 * time.Second
	// maxRedirects bounds the redirects followed by one fetch.
	maxRedirects = 3
)

// StatusError is a fetch answered with a status other than 200.
type StatusError struct {
	URL  string
	Code int
}

// Error says which URL answered which status.
func (e *StatusError) Error() string {
	return fmt.Sprintf("fetch %s: status %d", e.URL, e.Code)
}

// CheckURL accepts an absolute https URL without credentials, or an http
// one only to a loopback host: keys fetched in clear text over a network
// could be swapped by anyone on the path.
func CheckURL(raw string) (*url.URL, error) {
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
		if !loopbackHost(u.Hostname()) {
			return nil, errors.New("url must use https (http only on a loopback host)")
		}
	default:
		return nil, errors.New("url must use https")
	}
	return u, nil
}

// CheckIdentifier is CheckURL plus RFC 8414 §2: an issuer identifier has
// no query or fragment.
func CheckIdentifier(raw string) error {
	if raw == "" {
		return errors.New("an issuer is required")
	}
	u, err := CheckURL(raw)
	if err != nil {
		return err
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#") {
		return errors.New("issuer must not have a query or fragment")
	}
	return nil
}

// loopbackHost reports whether host is "localhost" or a loopback IP
// address, IPv4-mapped ones included (RFC 6761 §6.3, RFC 1122
// §3.2.1.3).
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// RestrictRedirects returns a copy of base whose redirects obey the URL
// rules of the first request and never leave https for http, not even for
// a loopback host: an answer protected by TLS must not be swapped for one
// that is not. base's own CheckRedirect still runs after these rules.
func RestrictRedirects(base *http.Client) *http.Client {
	c := *base
	next := base.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return errors.New("too many redirects")
		}
		if _, err := CheckURL(req.URL.String()); err != nil {
			return fmt.Errorf("redirect refused: %w", err)
		}
		if len(via) > 0 && via[len(via)-1].URL.Scheme == "https" && req.URL.Scheme != "https" {
			return errors.New("redirect refused: it leaves https for http")
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
	return &c
}

// FetchJSON GETs a JSON document of at most MaxDocumentSize bytes, within
// FetchTimeout. Give it a client made by RestrictRedirects.
func FetchJSON(ctx context.Context, client *http.Client, rawURL string) ([]byte, error) {
	if _, err := CheckURL(rawURL); err != nil {
		return nil, fmt.Errorf("fetch %s: %w", rawURL, err)
	}
	ctx, cancel := context.WithTimeout(ctx, FetchTimeout)
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
		return nil, &StatusError{URL: rawURL, Code: resp.StatusCode}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxDocumentSize+1))
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", rawURL, err)
	}
	if len(body) > MaxDocumentSize {
		return nil, fmt.Errorf("fetch %s: document larger than %d bytes", rawURL, MaxDocumentSize)
	}
	return body, nil
}
