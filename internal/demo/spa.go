package demo

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// The warehouse single-page app: static files (spa/) served on an origin
// of their own, as a real SPA would be from a CDN. It signs users in
// through the gateway's token handler and never holds a token: its
// script keeps only the CSRF value, in memory. The page is plain HTML,
// CSS and a JavaScript module, with no build step and no inline script,
// so its Content Security Policy can forbid everything but its own files
// and calls to the gateway.

//go:embed spa
var spaFiles embed.FS

// spaAssets are the files the SPA server answers, by path, with their
// content types; anything else is 404.
var spaAssets = map[string]struct{ file, contentType string }{
	"/":            {"spa/index.html", "text/html; charset=utf-8"},
	"/app.js":      {"spa/app.js", "text/javascript; charset=utf-8"},
	"/style.css":   {"spa/style.css", "text/css; charset=utf-8"},
	"/favicon.svg": {"spa/favicon.svg", "image/svg+xml"},
}

// spaSettings are what the page's script reads from /config.json: where
// the gateway is, the token handler's path prefix and the API's base
// path. Addresses only; never a secret.
type spaSettings struct {
	Gateway string `json:"gateway"`
	Agent   string `json:"agent"`
	API     string `json:"api"`
}

// spaListener is the SPA's socket, bound before the node starts so that
// its origin (the token handler's allowed origin and redirect URI) is
// known to the configuration, and served once the gateway's URL is.
type spaListener struct {
	ln net.Listener
	// url is the SPA's origin, such as http://127.0.0.1:5173.
	url string
}

// listenSPA binds addr (loopback: the token handler allows plain http
// only there).
func listenSPA(addr string) (*spaListener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("warehouse SPA: listen on %s: %w", addr, err)
	}
	return &spaListener{ln: ln, url: "http://" + ln.Addr().String()}, nil
}

func (s *spaListener) close() { _ = s.ln.Close() } // nothing was served yet

// serve serves the SPA until ctx ends.
func (s *spaListener) serve(ctx context.Context, set spaSettings, logger *slog.Logger) {
	srv := &http.Server{
		Handler:           newSPAHandler(set),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.With("component", "spa").Handler(), slog.LevelWarn),
	}
	go func() { _ = srv.Serve(s.ln) }() // ends with ErrServerClosed at shutdown
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx) // the demo is stopping; nothing to report to
	}()
}

// newSPAHandler answers the SPA's files and its settings. Every answer
// carries the page's policy: scripts, styles and images from this
// origin only, connections to this origin (config.json) and the gateway,
// no frames, no forms, no <base>. Referrer-Policy keeps the code and
// state of a redirect out of the Referer of the page's calls.
func newSPAHandler(set spaSettings) http.Handler {
	settings, _ := json.Marshal(set) // strings only: cannot fail
	csp := "default-src 'self'; connect-src 'self' " + set.Gateway +
		"; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if r.URL.Path == "/config.json" {
			h.Set("Content-Type", "application/json")
			h.Set("Cache-Control", "no-store")
			_, _ = w.Write(settings)
			return
		}
		a, ok := spaAssets[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		b, err := spaFiles.ReadFile(a.file)
		if err != nil {
			http.Error(w, "not found", http.StatusNotFound) // unreachable: the files are embedded
			return
		}
		h.Set("Content-Type", a.contentType)
		// The page is reloaded with each sign-in; a stale script after an
		// upgrade of the demo would be confusing.
		h.Set("Cache-Control", "no-cache")
		_, _ = w.Write(b)
	})
}
