// Package gateway is the API gateway: it matches each request to an API
// operation, answers CORS preflights, resolves the presented token (JWT,
// phantom or split) into a verified JWT, checks scopes and policies,
// strips identity headers a client could forge, and proxies to the
// upstream with the JWT as the only credential.
//
// It never issues tokens and never imports the authorization server's
// packages (oauth, keys): it trusts only what the issuer publishes.
package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/phantom"
)

// Options are the gateway's collaborators.
type Options struct {
	// Config is the gateway section; BaseDir resolves relative paths in it
	// (OpenAPI documents, secret files, CA files).
	Config  config.Gateway
	BaseDir string
	// SplitSource finds split tokens; nil means APIs accepting split
	// tokens refuse them (fail closed).
	SplitSource phantom.SplitSource
	// Getenv reads client_secret_env; nil means os.Getenv.
	Getenv  func(string) string
	Logger  *slog.Logger
	Metrics prometheus.Registerer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Gateway serves every configured API. Safe for concurrent use; Reload
// swaps the route table atomically.
type Gateway struct{}

// New builds the gateway: issuers (JWKS caches started with ctx, which
// stops their refresh), resolvers and the route table. A bad
// configuration is an error naming the API and operation.
func New(ctx context.Context, o Options) (*Gateway, error) { panic("todo") }

// ServeHTTP routes a request through its operation's middleware chain.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) { panic("todo") }

// Reload builds a new route table from cfg and swaps it in; on error the
// current table keeps serving and the error says why.
func (g *Gateway) Reload(ctx context.Context, cfg config.Gateway) error { panic("todo") }

// Ready reports whether every issuer's keys are loaded (for /readyz).
func (g *Gateway) Ready() bool { panic("todo") }
