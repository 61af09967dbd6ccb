package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// ProbeCmd checks a node's health endpoint from inside its own container.
// Distroless images have no shell, curl or wget, so a container runtime's
// health check (docker compose healthcheck, Docker HEALTHCHECK) runs the
// binary itself: ["portcullis", "probe", "http://127.0.0.1:8081/readyz"].
type ProbeCmd struct {
	URL     string        `arg:"" help:"URL to GET, such as http://127.0.0.1:8081/healthz (the admin listener)." placeholder:"URL"`
	Timeout time.Duration `help:"How long to wait for the answer (default ${default})." default:"3s"`
}

// Run succeeds on a 2xx answer and fails on anything else, printing the
// status and the first line of the body (the /readyz checks) on failure.
func (c *ProbeCmd) Run(ctx context.Context, rt *Runtime) error {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("probe: want an http:// or https:// URL")
	}
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	// No redirects: a probe that follows one checks something else.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("probe: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512)) // best effort: the status decides
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("probe: %s answered %s: %s", u.Redacted(), resp.Status, oneLine(body))
	}
	return nil
}

// oneLine keeps a body's first line, for an error message.
func oneLine(b []byte) string {
	for i, c := range b {
		if c == '\n' || c == '\r' {
			return string(b[:i])
		}
	}
	return string(b)
}
