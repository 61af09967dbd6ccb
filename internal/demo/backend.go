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
	"github.com/portcullis/portcullis/pkg/verify"
)

// warehouseBackend is the demo's upstream: a tiny warehouse API that, like
// every backend behind Portcullis should, verifies the JWT the gateway
// forwards instead of trusting the network ("verify again inside"). It
// does so with pkg/verify, the package offered to backends, exactly as a
// backend outside this repository would (docs/verify.md).
type warehouseBackend struct {
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
	// The clinic's verifier. What the gateway forwards is the client's
	// own JWT (at+jwt) or the phantom token of an opaque or split one
	// (phantom+jwt): a backend takes both, unlike the gateway's edge
	// (pkg/verify, which the warehouse uses, does so by default).
	verifier := func(audience string) (*token.Verifier, error) {
		return token.NewVerifier(token.VerifierConfig{
			Issuer:    issuer,
			Audiences: []string{audience},
			Types:     []string{token.TypeAccessJWT, token.TypePhantomJWT},
		}, jwks, nil)
	}
	wh, err := newWarehouseHandler(issuer, root, logger)
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
	mux := http.NewServeMux()
	mux.Handle("GET /items", wh)
	mux.Handle("POST /orders", wh)
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

// newWarehouseHandler returns the warehouse API behind pkg/verify's
// middleware: every call needs a forwarded JWT of the issuer for the
// warehouse audience, and each operation its scope again, so a call that
// reached the backend around the gateway would still be refused. The keys
// are fetched from the issuer's discovery document on the first call.
func newWarehouseHandler(issuer string, root, logger *slog.Logger) (http.Handler, error) {
	v, err := verify.New(verify.Config{Issuer: issuer, Audience: demoAudience, Logger: root.With("component", "backend-verify")})
	if err != nil {
		return nil, err
	}
	wb := &warehouseBackend{}
	api := http.NewServeMux()
	api.Handle("GET /items", verify.RequireScopes(http.HandlerFunc(wb.items), "list_items"))
	api.Handle("POST /orders", verify.RequireScopes(http.HandlerFunc(wb.order), "order_item"))
	return verify.NewMiddleware(v, verify.MiddlewareConfig{
		Realm: "warehouse",
		OnError: func(_ *http.Request, err error) {
			logger.Warn("backend refused a forwarded token", "err", err)
		},
	}, api)
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

func (b *warehouseBackend) items(w http.ResponseWriter, r *http.Request) {
	c, _ := verify.FromContext(r.Context()) // the middleware put them there
	writeBackendJSON(w, http.StatusOK, map[string]any{
		"items":  warehouseItems,
		"caller": caller(r, c.Subject, c.ClientID, c.Scopes),
	})
}

func (b *warehouseBackend) order(w http.ResponseWriter, r *http.Request) {
	c, _ := verify.FromContext(r.Context())
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
	writeBackendJSON(w, http.StatusCreated, map[string]any{"order": o, "caller": caller(r, c.Subject, c.ClientID, c.Scopes)})
}

// caller shows what the backend learnt from the verified token and the
// gateway, so the demo makes the phantom token visible.
func caller(r *http.Request, sub, clientID string, scopes []string) map[string]any {
	return map[string]any{
		"sub":        sub,
		"client_id":  clientID,
		"scope":      strings.Join(scopes, " "),
		"request_id": r.Header.Get("X-Request-Id"),
	}
}

func writeBackendJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
