package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/publish"
	"github.com/portcullis/portcullis/internal/registry"
)

// Role names a listener the server can run; `serve --roles` picks a subset
// so nodes can be split and scaled independently.
type Role string

// Roles.
const (
	// RoleAuthz serves the authorization server (the issuer).
	RoleAuthz Role = "authz"
	// RoleGateway serves the APIs of the gateway section.
	RoleGateway Role = "gateway"
	// RoleAdmin serves /healthz, /readyz and /metrics.
	RoleAdmin Role = "admin"
)

// AllRoles returns every role, in start-up order.
func AllRoles() []Role { return []Role{RoleAuthz, RoleGateway, RoleAdmin} }

// ParseRoles checks role names ("authz", "gateway", "admin"); each item may itself be
// comma-separated. No names means every role.
func ParseRoles(names []string) ([]Role, error) {
	var roles []Role
	for _, item := range names {
		for name := range strings.SplitSeq(item, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			r := Role(name)
			if !slices.Contains(AllRoles(), r) {
				return nil, fmt.Errorf("unknown role %q: want one of authz, gateway, admin", name)
			}
			if !slices.Contains(roles, r) {
				roles = append(roles, r)
			}
		}
	}
	if len(roles) == 0 {
		return AllRoles(), nil
	}
	return roles, nil
}

// DefaultShutdownTimeout bounds a graceful shutdown: in-flight requests get
// this long to finish before their connections are closed. The
// configuration's shutdown.grace sets it per node.
const DefaultShutdownTimeout = config.DefaultShutdownGrace

// Option adjusts Start.
type Option func(*options)

type options struct {
	roles           []Role
	now             func() time.Time
	getenv          func(string) string
	shutdownTimeout time.Duration
	// beforeServe runs once everything is wired and before the listeners
	// accept requests (the demo seeds its clients and users here).
	beforeServe func(ctx context.Context, s Services) error
}

// WithRoles selects the listeners to run; none means every role.
func WithRoles(roles ...Role) Option {
	return func(o *options) { o.roles = roles }
}

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithGetenv replaces os.Getenv for reading the master key variable, so a
// test does not depend on the process environment.
func WithGetenv(getenv func(string) string) Option {
	return func(o *options) { o.getenv = getenv }
}

// WithShutdownTimeout replaces the configuration's shutdown.grace.
func WithShutdownTimeout(d time.Duration) Option {
	return func(o *options) { o.shutdownTimeout = d }
}

// WithBeforeServe runs f once the node is wired and before any listener
// serves, with the domain services of the authorization server (the demo
// seeds its clients and users there). It needs the authz role.
func WithBeforeServe(f func(ctx context.Context, s Services) error) Option {
	return func(o *options) { o.beforeServe = f }
}

// Services are the domain services of a node, handed to WithBeforeServe.
// Clients and Users are nil unless the authz role runs.
type Services struct {
	// Issuer is the issuer URL as bound in this run.
	Issuer  string
	Clients *registry.Clients
	Users   *registry.Users
	// Catalog plans and applies the stored API catalog, audited as the
	// system; a gateway of this node serves what it applies as soon as
	// the hook returns.
	Catalog *publish.Service
	// Applications and Subscriptions manage the developers'
	// applications and their subscriptions, audited as the system; nil
	// where the authorization server does not run.
	Applications  *registry.Applications
	Subscriptions *registry.Subscriptions
	// Now is the node's clock.
	Now func() time.Time
}

// Running is a started server. Cancelling the context given to Start, or
// calling Close, shuts it down gracefully.
type Running struct {
	// Issuer is the issuer URL in use. When the configuration derives it
	// from the authz listen address and that address has port 0, it is
	// derived from the bound address instead.
	Issuer string
	// AuthzURL is the base URL of the authz listener ("http://127.0.0.1:PORT");
	// empty when the authz role does not run.
	AuthzURL string
	// AdminURL is the base URL of the admin listener; empty when the admin
	// role does not run.
	AdminURL string
	// GatewayURL is the base URL of the gateway listener; empty when the
	// gateway role does not run.
	GatewayURL string

	wiring *wiring

	stop    context.CancelFunc
	servers []*http.Server
	done    chan struct{}
	err     error // set before done is closed
}

// Done is closed once the server has stopped and released its resources.
func (r *Running) Done() <-chan struct{} { return r.done }

// Wait blocks until the server has stopped. It returns nil after a
// requested shutdown, or the error that stopped a listener.
func (r *Running) Wait() error {
	<-r.done
	return r.err
}

// Close shuts the server down gracefully and waits for it. When ctx ends
// first, open connections are closed at once.
func (r *Running) Close(ctx context.Context) error {
	r.stop()
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		for _, s := range r.servers {
			_ = s.Close() // the graceful path already failed; report ctx's error
		}
		<-r.done
		return errors.Join(fmt.Errorf("shutdown: %w", ctx.Err()), r.err)
	}
}

// Start wires the program from cfg and starts the listeners of the selected
// roles. It returns once every listener is bound, so a port conflict is an
// error here and a test can listen on "127.0.0.1:0" and read the address
// back from Running. The server stops when ctx is cancelled or Close is
// called; Wait reports how it ended.
//
// It runs in named phases: provision (options, a private copy of the
// configuration, bound listeners, the issuer), wire (the object graph of
// the roles that run), serve (each listener once the parts it serves are
// finished) and, in the background, stop.
func Start(ctx context.Context, cfg *config.Config, logger *slog.Logger, opts ...Option) (*Running, error) {
	n, err := provision(cfg, logger, opts)
	if err != nil {
		return nil, err
	}
	w, err := wire(ctx, n.cfg, n.running.Issuer, n.logger, n.opts, n.roles)
	if err != nil {
		n.closeListeners()
		return nil, err
	}
	if n.opts.beforeServe != nil {
		if err := n.opts.beforeServe(ctx, w.services()); err != nil {
			n.closeListeners()
			_ = w.close() // the hook's error is the one to report
			return nil, err
		}
		if w.catalog != nil {
			// What the hook applied is served from the first request,
			// not one poll later; a failure leaves the sync stale, and
			// its loop retries.
			_ = w.catalog.sync(ctx)
		}
	}
	if err := n.serve(ctx, w); err != nil {
		return nil, err
	}
	return n.running, nil
}

// node is a server between provision and stop.
type node struct {
	cfg       *config.Config
	logger    *slog.Logger
	opts      options
	roles     []Role
	listeners map[Role]net.Listener
	running   *Running
}

// provision reads the options, takes a private copy of cfg, binds the
// listeners and settles the issuer from the bound addresses. On error
// nothing stays open.
func provision(cfg *config.Config, logger *slog.Logger, opts []Option) (*node, error) {
	o := options{now: time.Now, getenv: os.Getenv}
	for _, opt := range opts {
		opt(&o)
	}
	roles, err := ParseRoles(rolesToStrings(o.roles))
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	// Work on a copy: the bound addresses and derived issuer are this run's,
	// not the caller's.
	c := *cfg
	c.ApplyDefaults()
	c.Gateway.Issuers = slices.Clone(c.Gateway.Issuers)
	c.Gateway.APIs = slices.Clone(c.Gateway.APIs)
	c.Gateway.TokenHandler.SPAs = slices.Clone(c.Gateway.TokenHandler.SPAs)
	if o.shutdownTimeout == 0 {
		o.shutdownTimeout = time.Duration(c.Shutdown.Grace)
	}
	n := &node{cfg: &c, logger: logger, opts: o, roles: roles, listeners: map[Role]net.Listener{}}
	if err := n.listen(); err != nil {
		return nil, err
	}
	if err := n.settleIssuer(cfg.Issuer); err != nil {
		n.closeListeners()
		return nil, err
	}
	return n, nil
}

// listen binds the listener of every role.
func (n *node) listen() error {
	for _, role := range n.roles {
		addr := n.cfg.Listen.Authz
		switch role {
		case RoleAdmin:
			addr = n.cfg.Listen.Admin
		case RoleGateway:
			addr = n.cfg.Listen.Gateway
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			n.closeListeners()
			return fmt.Errorf("listen on %s for the %s role: %w", addr, role, err)
		}
		n.listeners[role] = ln
	}
	return nil
}

func (n *node) closeListeners() {
	for _, ln := range n.listeners {
		_ = ln.Close() // nothing was served on it yet
	}
}

// settleIssuer records the bound URLs, derives the issuer from the authz
// address when the configuration leaves it to that (port 0 included), and
// validates the result.
func (n *node) settleIssuer(configured string) error {
	c := n.cfg
	deriveIssuer := configured == "" || configured == c.Listen.AuthzScheme()+"://"+c.Listen.Authz
	configuredIssuer := strings.TrimSuffix(configured, "/")
	r := &Running{done: make(chan struct{})}
	if ln, ok := n.listeners[RoleAuthz]; ok {
		r.AuthzURL = baseURL(ln.Addr())
		if c.Listen.AuthzTLS.CertFile != "" {
			r.AuthzURL = "https" + strings.TrimPrefix(r.AuthzURL, "http")
		}
		if hasPortZero(c.Listen.Authz) {
			c.Listen.Authz = ln.Addr().String()
			if deriveIssuer {
				c.Issuer = r.AuthzURL
			}
		}
	}
	if ln, ok := n.listeners[RoleAdmin]; ok {
		r.AdminURL = baseURL(ln.Addr())
		if hasPortZero(c.Listen.Admin) {
			c.Listen.Admin = ln.Addr().String()
		}
	}
	if ln, ok := n.listeners[RoleGateway]; ok {
		r.GatewayURL = baseURL(ln.Addr())
		if c.Listen.GatewayTLS.CertFile != "" {
			r.GatewayURL = "https" + strings.TrimPrefix(r.GatewayURL, "http")
		}
		if hasPortZero(c.Listen.Gateway) {
			c.Listen.Gateway = ln.Addr().String()
		}
	}
	if deriveIssuer && c.Issuer == "" {
		c.Issuer = c.Listen.AuthzScheme() + "://" + c.Listen.Authz
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("invalid configuration: %w", err)
	}
	r.Issuer = strings.TrimSuffix(c.Issuer, "/")
	// A gateway trusting this node's own issuer follows it to the bound
	// address, and so do the single-page apps' agents signing in at it.
	for i := range c.Gateway.Issuers {
		if deriveIssuer && strings.TrimSuffix(c.Gateway.Issuers[i].Issuer, "/") == configuredIssuer {
			c.Gateway.Issuers[i].Issuer = r.Issuer
		}
	}
	for i := range c.Gateway.TokenHandler.SPAs {
		if deriveIssuer && strings.TrimSuffix(c.Gateway.TokenHandler.SPAs[i].Issuer, "/") == configuredIssuer {
			c.Gateway.TokenHandler.SPAs[i].Issuer = r.Issuer
		}
	}
	n.running = r
	return nil
}

// serve starts each listener once what it serves is finished: the
// authorization server first (on one node the gateway fetches the issuer's
// keys from it), then the gateway is built, then the admin listener (its
// probes and API read the gateway) and the gateway listener; then the
// background loops of the roles that run. On error everything started is
// stopped again.
func (n *node) serve(ctx context.Context, w *wiring) error {
	r, c, logger := n.running, n.cfg, n.logger
	runCtx, stop := context.WithCancel(ctx)
	r.stop = stop
	r.wiring = w
	errCh := make(chan error, len(n.listeners))
	var servers sync.WaitGroup
	serve := func(role Role, h http.Handler, tls config.ListenTLS) {
		ln := n.listeners[role]
		srv := newHTTPServer(h, logger.With("component", "http", "role", string(role)))
		if role == RoleAuthz {
			srv.TLSConfig = authzTLSConfig(c) // RFC 8705: may ask for client certificates
		}
		if role == RoleGateway {
			srv.TLSConfig = w.gatewayTLS // RFC 8705 §3: may ask for client certificates
		}
		r.servers = append(r.servers, srv)
		logger.Info("listening", "role", role, "addr", ln.Addr().String(), "tls", tls.CertFile != "")
		servers.Go(func() {
			var err error
			if tls.CertFile != "" {
				// ServeTLS offers HTTP/2 through ALPN.
				err = srv.ServeTLS(ln, relTo(c.BaseDir(), tls.CertFile), relTo(c.BaseDir(), tls.KeyFile))
			} else {
				err = srv.Serve(ln)
			}
			if !errors.Is(err, http.ErrServerClosed) {
				errCh <- fmt.Errorf("%s listener: %w", role, err)
			}
		})
	}
	if n.runs(RoleAuthz) {
		serve(RoleAuthz, w.authzHandler(), c.Listen.AuthzTLS.Files())
	}
	if n.runs(RoleGateway) {
		if err := w.startGateway(runCtx); err != nil {
			stop()
			_ = shutdownAll(context.WithoutCancel(ctx), r.servers, n.opts.shutdownTimeout)
			servers.Wait()
			n.closeListeners()
			_ = w.close() // the gateway's error is the one to report
			return err
		}
	}
	if n.runs(RoleAdmin) {
		serve(RoleAdmin, w.adminHandler(runCtx), config.ListenTLS{})
	}
	if n.runs(RoleGateway) {
		serve(RoleGateway, w.gatewayHandler(), c.Listen.GatewayTLS.Files())
	}
	var loops sync.WaitGroup
	w.startLoops(runCtx, &loops)
	logger.Info("portcullis started", "issuer", r.Issuer, "roles", rolesToStrings(n.roles))

	go func() {
		var serveErr error
		select {
		case <-runCtx.Done():
		case serveErr = <-errCh:
		}
		stop()
		if serveErr == nil {
			drain(w, r.servers, time.Duration(c.Shutdown.DrainDelay), logger)
		}
		logger.Info("shutting down", "grace", n.opts.shutdownTimeout)
		shutdownErr := shutdownAll(context.WithoutCancel(runCtx), r.servers, n.opts.shutdownTimeout)
		servers.Wait()
		loops.Wait()
		closeErr := w.close()
		r.err = errors.Join(serveErr, shutdownErr, closeErr)
		if r.err != nil {
			logger.Error("stopped with an error", "err", r.err)
		} else {
			logger.Info("stopped")
		}
		close(r.done)
	}()
	return nil
}

func (n *node) runs(role Role) bool { return slices.Contains(n.roles, role) }

// errNoGateway answers calls that need the gateway role on a node that
// does not run it.
var errNoGateway = errors.New("the gateway role is not running")

// ReloadGateway swaps the gateway's route table for one built from gw,
// and its single-page apps' agents for gw's token handler; on error the
// current table and agents keep serving. The agents are built first (a
// missing secret or key refuses the reload) and swapped once the table
// is: a request in between meets the new table with the old agents,
// which the validation of gw made compatible with either.
func (r *Running) ReloadGateway(ctx context.Context, gw config.Gateway) error {
	if r.wiring == nil || r.wiring.gateway == nil {
		return errNoGateway
	}
	spas, err := r.wiring.tokenHandlers(&gw)
	if err != nil {
		return err
	}
	// The stored catalog's versions stay beside the file's new APIs.
	if err := r.wiring.catalog.setFile(ctx, gw.Snapshot()); err != nil {
		return err
	}
	return r.wiring.gateway.SetTokenHandlers(spas)
}

// relTo resolves a relative path against dir (the configuration file's
// directory; empty for configurations built in code).
func relTo(dir, path string) string {
	if dir == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(dir, path)
}

// drain keeps the node serving for delay after it was told to stop, with
// /readyz failing and keep-alives off, so load balancers take it out of
// rotation and clients open their next connection elsewhere before it
// stops accepting: no request meets a refused connection.
func drain(w *wiring, servers []*http.Server, delay time.Duration, logger *slog.Logger) {
	if delay <= 0 {
		return
	}
	w.draining.Store(true)
	for _, s := range servers {
		s.SetKeepAlivesEnabled(false)
	}
	logger.Info("draining: still serving, /readyz failing", "drain_delay", delay)
	time.Sleep(delay)
}

// shutdownAll shuts the servers down in parallel, closing what is still
// open once timeout has passed.
func shutdownAll(ctx context.Context, servers []*http.Server, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	errs := make([]error, len(servers))
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Go(func() {
			if err := s.Shutdown(ctx); err != nil {
				errs[i] = fmt.Errorf("graceful shutdown: %w", err)
				_ = s.Close() // give up on the connections still open
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func rolesToStrings(roles []Role) []string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return s
}

// hasPortZero reports whether addr asks the kernel to pick the port.
func hasPortZero(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	return err == nil && port == "0"
}

// baseURL is the http URL clients on this machine use to reach addr: an
// unspecified address (0.0.0.0, ::) is reached through loopback.
func baseURL(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return "http://" + addr.String()
	}
	ip := tcp.IP
	if ip.IsUnspecified() {
		if ip.To4() != nil {
			ip = net.IPv4(127, 0, 0, 1)
		} else {
			ip = net.IPv6loopback
		}
	}
	return "http://" + net.JoinHostPort(ip.String(), fmt.Sprint(tcp.Port))
}
