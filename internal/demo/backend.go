package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/portcullis/portcullis/internal/token"
)

// warehouseBackend is the demo's upstream: a tiny warehouse API that, like
// every backend behind Portcullis should, verifies the JWT the gateway
// forwards instead of trusting the network ("verify again inside").
type warehouseBackend struct {
	verifier *token.Verifier
	logger   *slog.Logger

	mu     sync.Mutex
	orders []order
}

type order struct {
	ID      int    `json:"id"`
	Item    string `json:"item"`
	By      string `json:"by"`
	Created string `json:"created"`
}

var warehouseItems = []map[string]any{
	{"sku": "crate-01", "name": "Oak crate", "stock": 42},
	{"sku": "pallet-02", "name": "Euro pallet", "stock": 7},
	{"sku": "rope-03", "name": "Hemp rope, 20 m", "stock": 130},
}

// backendListener is the warehouse backend's socket, bound before the node
// starts so the gateway's upstream is known, and served once the issuer is.
type backendListener struct {
	ln  net.Listener
	url string
}

// listenBackend binds addr (loopback).
func listenBackend(addr string) (*backendListener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("warehouse backend: listen on %s: %w", addr, err)
	}
	return &backendListener{ln: ln, url: "http://" + ln.Addr().String()}, nil
}

func (b *backendListener) close() { _ = b.ln.Close() } // nothing was served yet

// serve serves the warehouse and clinic APIs until ctx ends. Each
// verifies forwarded tokens against the issuer's JWKS with its own API's
// audience. root is the program's logger: the JWKS cache names its own
// component.
func (b *backendListener) serve(ctx context.Context, issuer string, root *slog.Logger) error {
	logger := root.With("component", "backend")
	jwks := token.NewJWKSCache(token.JWKSConfig{Issuer: issuer}, root, nil)
	// What the gateway forwards is the client's own JWT (at+jwt) or the
	// phantom token of an opaque or split one (phantom+jwt): a backend
	// takes both, unlike the gateway's edge.
	verifier := func(audience string) (*token.Verifier, error) {
		return token.NewVerifier(token.VerifierConfig{
			Issuer:    issuer,
			Audiences: []string{audience},
			Types:     []string{token.TypeAccessJWT, token.TypePhantomJWT},
		}, jwks, nil)
	}
	v, err := verifier(demoAudience)
	if err != nil {
		b.close()
		return fmt.Errorf("warehouse backend: %w", err)
	}
	cv, err := verifier(clinicAudience)
	if err != nil {
		b.close()
		return fmt.Errorf("clinic backend: %w", err)
	}
	go func() {
		// The issuer is up by the time the first call arrives; until then
		// the backend refuses calls it cannot verify.
		if err := jwks.Start(ctx); err != nil && ctx.Err() == nil {
			logger.Warn("issuer keys not loaded yet; calls are refused until they are", "err", err)
		}
	}()
	wb := &warehouseBackend{verifier: v, logger: logger}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items", wb.authed(wb.items))
	mux.HandleFunc("POST /orders", wb.authed(wb.order))
	newClinicBackend(cv, logger).register(mux)
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		writeBackendJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	go func() { _ = srv.Serve(b.ln) }() // ends with ErrServerClosed at shutdown
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx) // the demo is stopping; nothing to report to
	}()
	return nil
}

// authed verifies the forwarded JWT and hands its claims on.
func (b *warehouseBackend) authed(next func(http.ResponseWriter, *http.Request, *token.Claims)) http.HandlerFunc {
	return verified(b.verifier, b.logger, next)
}

// verified is a handler that verifies the forwarded JWT with v and hands
// its claims to next; a call without one, or with one that does not
// verify, is refused with 401.
func verified(v *token.Verifier, logger *slog.Logger, next func(http.ResponseWriter, *http.Request, *token.Claims)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			writeBackendJSON(w, http.StatusUnauthorized, map[string]string{"error": "no forwarded token"})
			return
		}
		vt, err := v.Verify(r.Context(), raw)
		if err != nil {
			logger.Warn("backend refused a forwarded token", "err", err)
			writeBackendJSON(w, http.StatusUnauthorized, map[string]string{"error": "forwarded token does not verify"})
			return
		}
		next(w, r, vt.Claims)
	}
}

func (b *warehouseBackend) items(w http.ResponseWriter, r *http.Request, c *token.Claims) {
	writeBackendJSON(w, http.StatusOK, map[string]any{
		"items":  warehouseItems,
		"caller": caller(r, c),
	})
}

func (b *warehouseBackend) order(w http.ResponseWriter, r *http.Request, c *token.Claims) {
	var in struct {
		Item string `json:"item"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&in); err != nil || in.Item == "" {
		writeBackendJSON(w, http.StatusBadRequest, map[string]string{"error": `send {"item": "<sku>"}`})
		return
	}
	b.mu.Lock()
	o := order{ID: len(b.orders) + 1, Item: in.Item, By: c.Subject, Created: time.Now().UTC().Format(time.RFC3339)}
	b.orders = append(b.orders, o)
	b.mu.Unlock()
	writeBackendJSON(w, http.StatusCreated, map[string]any{"order": o, "caller": caller(r, c)})
}

// caller shows what the backend learnt from the verified token and the
// gateway, so the demo makes the phantom token visible.
func caller(r *http.Request, c *token.Claims) map[string]any {
	return map[string]any{
		"sub":        c.Subject,
		"client_id":  c.ClientID,
		"scope":      strings.Join(c.Scopes, " "),
		"request_id": r.Header.Get("X-Request-Id"),
	}
}

func writeBackendJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
