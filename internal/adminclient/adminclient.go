// Package adminclient is a small client of Portcullis's admin API
// (/admin/v1, docs/admin-api.md): the remote mode of the management
// commands. Requests and answers are the admin API's own types, so the
// two cannot drift apart.
//
// It must never send a token over plain http to a host that is not
// loopback, never follow a redirect with the token, and never put a
// token or a secret in an error.
package adminclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/admin"
	"github.com/portcullis/portcullis/internal/loopback"
	"github.com/portcullis/portcullis/internal/registry"
)

// DefaultTimeout bounds one call, from dialling to the last byte.
const DefaultTimeout = 30 * time.Second

// maxBody bounds an answer read into memory; a page of 200 clients is far
// smaller, and a catalog document (at most 4 MiB to apply) fits with its
// JSON escaping.
const maxBody = 16 << 20

// Client calls one node's admin API with one bearer token.
type Client struct {
	base  *url.URL
	token string
	hc    *http.Client
}

// New checks server (the admin listener's base URL, such as
// https://admin.example:8081) and returns a client. Plain http is
// refused unless the host is loopback, as the bearer token would cross
// the network in the clear. hc nil means a client with DefaultTimeout.
func New(server, token string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(server)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("--server: want an absolute URL such as https://admin.example:8081")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !loopback.Host(u.Hostname()) {
			return nil, fmt.Errorf("--server %s: plain http is allowed only on loopback; use https", u.Redacted())
		}
	default:
		return nil, fmt.Errorf("--server %s: want an http(s) URL", u.Redacted())
	}
	if token == "" {
		return nil, errors.New("no admin token: set the variable named by --token-env")
	}
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout}
	}
	// A redirect would carry the request elsewhere; the admin API sends
	// none, so one is an error rather than a second hop with the token.
	c := *hc
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	u.Path = strings.TrimSuffix(u.Path, "/")
	return &Client{base: u, token: token, hc: &c}, nil
}

// Error is a problem document (RFC 9457) the admin API answered with.
type Error struct {
	Status    int    `json:"status"`
	Type      string `json:"type"`
	Title     string `json:"title"`
	Detail    string `json:"detail"`
	RequestID string `json:"request_id"`
}

// Error says what failed with the status, the problem's detail and the
// request id to look up in the node's log.
func (e *Error) Error() string {
	msg := e.Detail
	if msg == "" {
		msg = e.Title
	}
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	s := fmt.Sprintf("admin API: %d %s", e.Status, msg)
	if e.RequestID != "" {
		s += " (request id " + e.RequestID + ")"
	}
	return s
}

// do sends method path with in as JSON (nil: no body) and decodes the
// answer into out (nil: none expected).
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("admin API: encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, body)
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return fmt.Errorf("admin API: read answer: %w", err)
	}
	if len(b) > maxBody {
		return fmt.Errorf("admin API: %s %s: answer larger than %d MiB", method, path, maxBody>>20)
	}
	if resp.StatusCode >= 300 {
		e := &Error{}
		if json.Unmarshal(b, e) != nil || e.Status == 0 {
			e = &Error{Status: resp.StatusCode}
		}
		e.Status = resp.StatusCode
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("admin API: %s %s: answer is not the expected JSON: %w", method, path, err)
	}
	return nil
}

// listAll follows next_cursor until the last page.
func listAll[T any](ctx context.Context, c *Client, path string) ([]T, error) {
	all := []T{}
	cursor := ""
	for {
		q := url.Values{"limit": {"200"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page admin.Page[T]
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&" // path carries its filters
		}
		if err := c.do(ctx, http.MethodGet, path+sep+q.Encode(), nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if page.Next == "" {
			return all, nil
		}
		cursor = page.Next
	}
}

// ListClients returns every client, ordered by id.
func (c *Client) ListClients(ctx context.Context) ([]registry.ClientInfo, error) {
	return listAll[registry.ClientInfo](ctx, c, "/admin/v1/clients")
}

// GetClient returns one client.
func (c *Client) GetClient(ctx context.Context, id string) (registry.ClientInfo, error) {
	var out registry.ClientInfo
	err := c.do(ctx, http.MethodGet, "/admin/v1/clients/"+url.PathEscape(id), nil, &out)
	return out, err
}

// CreateClient registers a client; the answer holds its secret, once.
func (c *Client) CreateClient(ctx context.Context, req admin.ClientRequest) (registry.ClientInfo, error) {
	var out registry.ClientInfo
	err := c.do(ctx, http.MethodPost, "/admin/v1/clients", req, &out)
	return out, err
}

// DeleteClient deletes a client with its tokens.
func (c *Client) DeleteClient(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/admin/v1/clients/"+url.PathEscape(id), nil, nil)
}

// RotateClientSecret issues a new secret and returns it.
func (c *Client) RotateClientSecret(ctx context.Context, id string) (string, error) {
	var out registry.ClientInfo
	if err := c.do(ctx, http.MethodPost, "/admin/v1/clients/"+url.PathEscape(id)+"/rotate-secret", nil, &out); err != nil {
		return "", err
	}
	if out.ClientSecret == "" {
		return "", errors.New("admin API: rotate-secret answered without a secret")
	}
	return out.ClientSecret, nil
}

// ListUsers returns every user, ordered by username.
func (c *Client) ListUsers(ctx context.Context) ([]registry.UserInfo, error) {
	return listAll[registry.UserInfo](ctx, c, "/admin/v1/users")
}

// CreateUser creates a user.
func (c *Client) CreateUser(ctx context.Context, req admin.UserRequest) (registry.UserInfo, error) {
	var out registry.UserInfo
	err := c.do(ctx, http.MethodPost, "/admin/v1/users", req, &out)
	return out, err
}

// DeleteUser deletes a user.
func (c *Client) DeleteUser(ctx context.Context, username string) error {
	return c.do(ctx, http.MethodDelete, "/admin/v1/users/"+url.PathEscape(username), nil, nil)
}

// keysAnswer is the body of GET /admin/v1/keys and POST .../rotate.
type keysAnswer struct {
	Keys []admin.KeyView `json:"keys"`
}

// ListKeys returns the signing keys (public information only).
func (c *Client) ListKeys(ctx context.Context) ([]admin.KeyView, error) {
	var out keysAnswer
	err := c.do(ctx, http.MethodGet, "/admin/v1/keys", nil, &out)
	return out.Keys, err
}

// RotateKeys rotates the keys of uses ("access", "id"; none: both) and
// returns the keys now active.
func (c *Client) RotateKeys(ctx context.Context, uses []string) ([]admin.KeyView, error) {
	var out keysAnswer
	err := c.do(ctx, http.MethodPost, "/admin/v1/keys/rotate", admin.RotateKeysRequest{Uses: uses}, &out)
	return out.Keys, err
}
