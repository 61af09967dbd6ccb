package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/gateway"
	"github.com/portcullis/portcullis/internal/identity"
	"github.com/portcullis/portcullis/internal/keys"
	"github.com/portcullis/portcullis/internal/loopback"
	"github.com/portcullis/portcullis/internal/oauth"
	"github.com/portcullis/portcullis/internal/publish"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/tracing"
)

// wiring is the program's object graph, built once by wire.
type wiring struct {
	cfg    *config.Config
	issuer string
	logger *slog.Logger
	now    func() time.Time

	db        *store.DB
	secretKey []byte // keys client-secret digests
	keys      *keys.Manager
	keysReady atomic.Bool
	// draining is set once the node has been told to stop and is
	// draining (config shutdown.drain_delay): /readyz fails so load
	// balancers take it out of rotation while it still serves.
	draining atomic.Bool
	hasher   *identity.Hasher
	oauth    *oauth.Server
	registry *prometheus.Registry
	// roles are the listeners this process runs; the authorization server
	// and its keys are wired only when RoleAuthz is among them, so a
	// gateway-only node never holds a master key or a private key.
	roles   []Role
	getenv  func(string) string
	gateway *gateway.Gateway
	// catalog keeps the gateway on the stored catalog; nil without the
	// gateway role.
	catalog *catalogSync
	limiter *limiter
	// redis is the client of the rate-limit Redis settings, shared by
	// the limiter and the catalog notices; nil unless ratelimit.backend
	// is redis.
	redis redis.UniversalClient
	// accessLog writes the gateway's access log off the request path.
	accessLog *accessLog
	// gatewayTLS is the gateway listener's TLS configuration
	// (gateway_mtls.go); nil without listen.gateway_tls.
	gatewayTLS *tls.Config
	// revocations tells gateways (this node's, and through redis the
	// others') which tokens were revoked.
	revocations *revocations

	// keyID is the id of the master key (keys.KeyID), recorded with each
	// client-secret digest.
	keyID string
	// previousSecretKey keys the digests made under the previous master
	// key while $PORTCULLIS_MASTER_KEY_PREVIOUS is set; nil otherwise.
	previousSecretKey []byte
	// console holds the admin console's keys; nil without the authz role.
	console *consoleKeys
	// auditStream copies the audit trail to audit.stream's sinks; nil
	// without the authz role or without a sink.
	auditStream *auditStream
	// tracing is the node's OpenTelemetry tracing, off unless the OTEL_*
	// environment asks for it (tracing.go).
	tracing *tracing.Provider
}

// wire builds everything Start serves. On error it releases what it opened.
func wire(ctx context.Context, cfg *config.Config, issuer string, logger *slog.Logger, o options, roles []Role) (_ *wiring, err error) {
	tp, logger, err := setupTracing(o.getenv, logger)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = tp.Shutdown(context.WithoutCancel(ctx)) // the start-up error is the one to report
		}
	}()
	w := &wiring{cfg: cfg, issuer: issuer, logger: logger, now: o.now, roles: roles, getenv: o.getenv, tracing: tp}

	w.registry = prometheus.NewRegistry()
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := w.registry.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	authz := slices.Contains(roles, RoleAuthz)
	if !authz && !slices.Contains(roles, RoleGateway) {
		return w, nil
	}
	var master, previous []byte
	if authz {
		if master, err = loadMasterKey(cfg, o.getenv, logger, true); err != nil {
			return nil, err
		}
		if previous, err = loadPreviousMasterKey(o.getenv, master, logger); err != nil {
			return nil, fmt.Errorf("master key: %w", err)
		}
		w.secretKey = keys.DeriveKey(master, keys.PurposeClientSecrets)
		w.keyID = keys.KeyID(master)
		if previous != nil {
			w.previousSecretKey = keys.DeriveKey(previous, keys.PurposeClientSecrets)
		}
	}
	// The gateway reads split tokens from the same store; only the
	// authorization server migrates it (as `portcullis migrate` does).
	w.db, err = openStore(ctx, cfg, logger, authz)
	if err != nil {
		return nil, err
	}
	// Not dialled until used.
	w.redis = newRedisClient(cfg.RateLimit, o.getenv)
	if w.redis != nil {
		useRedisLogger(logger)
	}
	defer func() {
		if err != nil {
			_ = w.db.Close() // the start-up error is the one to report
			if w.redis != nil {
				_ = w.redis.Close()
			}
		}
	}()
	if w.revocations, err = newRevocations(w, w.registry); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	if !authz {
		return w, nil
	}

	// A wrong key is refused here, before it could seal a signing key
	// or digest a secret that the right key then cannot open.
	if err := checkMasterKey(ctx, w.db, master, previous, masterKeySource(cfg, o.getenv), logger, o.now()); err != nil {
		return nil, err
	}
	if previous != nil {
		logger.Info("master key rotation under way: client secrets digested under the previous key are accepted and re-digested",
			"key_id", w.keyID, "previous_key_id", keys.KeyID(previous))
	}

	// The keys package names its own component in its logger.
	w.keys, err = keys.NewManager(w.db, master, keysConfig(cfg), logger, o.now)
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	if err := w.keys.Init(ctx); err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	w.keysReady.Store(true)

	// Client records are cached briefly: every token and introspection
	// request authenticates a client, and this saves a read on each.
	cache := clientauth.NewCachedStore(w.db, clientauth.DefaultCacheTTL, nil)
	cas, err := clientCAs(cfg)
	if err != nil {
		return nil, err
	}
	clients := clientauth.NewAuthenticator(cache, w.secretKey, clientauth.Options{
		Issuer:                      issuer,
		TokenEndpoint:               issuer + "/oauth2/token",
		LegacyTokenEndpointAudience: cfg.Clients.LegacyTokenEndpointAudience,
		Now:                         o.now,
		ClientCerts:                 clientCertSource(cfg),
		ClientCAs:                   cas,
	})
	if w.previousSecretKey != nil {
		clients.AcceptPreviousKey(clientauth.PreviousKey{
			SecretKey: w.previousSecretKey,
			Redigest:  w.redigester(cache),
		})
	}
	w.hasher = identity.NewHasher(0)
	users := identity.NewUsers(w.db, w.hasher, o.now)
	// Browsers drop Secure cookies on plain http, which only a loopback
	// issuer (a developer's machine) may use.
	secure := !loopback.HTTPURL(issuer)
	sessions := identity.NewSessions(w.db, identity.SessionConfig{
		TTL:    time.Duration(cfg.Sessions.TTL),
		Secure: secure,
		Path:   "/",
		Logger: logger.With("component", "sessions"),
	}, o.now)
	csrf := identity.NewCSRF(keys.DeriveKey(master, keys.PurposeCSRF), secure)
	pages, err := identity.NewPages(logger.With("component", "pages"))
	if err != nil {
		return nil, fmt.Errorf("login pages: %w", err)
	}
	if w.console, err = newConsoleKeys(master); err != nil {
		return nil, err
	}
	sealer, err := keys.NewSealer(master, keys.PurposeAuthorizeRequest)
	if err != nil {
		return nil, fmt.Errorf("request sealer: %w", err)
	}
	issuance := cfg.Issuance()
	if issuance == nil {
		return nil, errors.New("issuance policy is not compiled: the configuration was not validated")
	}
	exchange, err := tokenExchange(ctx, cfg, issuer, logger, o.now)
	if err != nil {
		return nil, err
	}

	w.oauth, err = oauth.New(oauth.Options{
		Config:   oauthConfig(cfg, issuer),
		Store:    w.tracedStore(revokingStore{DB: w.db, notices: w.revocations}),
		Keys:     w.keys,
		Clients:  clients,
		Users:    users,
		Sessions: sessions,
		CSRF:     csrf,
		Pages:    pages,
		Throttle: identity.NewThrottle(throttleConfig(cfg.LoginThrottle)),
		Policy:   issuance,
		Exchange: exchange,
		Sealer:   sealer,
		Logger:   logger.With("component", "oauth"),
		Metrics:  w.registry,
		Now:      o.now,
		Tracer:   w.tracing.Tracer(tracerOAuth),
		// The token endpoint shares the gateway's replay cache: in Redis
		// when the node has one, so no node accepts a proof another did.
		DPoPReplay: newDPoPReplay(cfg.RateLimit, w.redis, o.now),
		// Every node derives the same key, so accepts the others' nonces.
		DPoPNonceKey: keys.DeriveKey(master, keys.PurposeDPoPNonce),
		ClientCerts:  clientCertSource(cfg),
	})
	if err != nil {
		return nil, fmt.Errorf("authorization server: %w", err)
	}
	if w.auditStream, err = newAuditStream(cfg, w.db, w.registry, logger); err != nil {
		return nil, fmt.Errorf("audit stream: %w", err)
	}
	return w, nil
}

// startGateway builds the gateway; ctx bounds its background work (JWKS
// refreshes).
func (w *wiring) startGateway(ctx context.Context) error {
	lim, err := newLimiter(ctx, w.cfg.RateLimit, w.redis, w.logger)
	if err != nil {
		return fmt.Errorf("rate limits: %w", err)
	}
	w.limiter = lim
	if w.accessLog, err = newAccessLog(w.logger, w.registry, w.tracing.Enabled()); err != nil {
		return fmt.Errorf("access log: %w", err)
	}
	spas, err := w.tokenHandlers(&w.cfg.Gateway)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	if w.gatewayTLS, err = gatewayTLSConfig(w.cfg); err != nil {
		return err
	}
	// The file's APIs plus the stored catalog's served versions.
	file := w.cfg.Gateway.Snapshot()
	cs := newCatalogSync(w.db, newGroupSource(w.db, file, w.cfg.Gateway.Group, w.logger), nil, w.now, w.logger)
	opts := gateway.Options{
		AccessLog:   w.accessLog.logger,
		RateLimiter: lim.backend,
		Blocks:      lim.blocks,
		Revoker:     storeRevoker{db: w.db, notices: w.revocations},
		// DPoP proofs seen, shared through Redis when there is one.
		DPoPReplay: newDPoPReplay(w.cfg.RateLimit, w.redis, w.now),
		// Tokens obtained for upstreams, shared the same way.
		BackendTokenShared: newBackendTokenShared(w.cfg.RateLimit, w.redis),
		Catalog:            cs.initial(ctx),
		BaseDir:            w.cfg.BaseDir(),
		SplitSource:        newStoreSplitSource(w.db, w.now),
		// Clients' registered keys, cached briefly (clientkeys.go).
		ClientKeys: newStoreClientKeys(w.db, clientKeysTTL, w.now),
		// Client certificates, for certificate-bound tokens: the TLS
		// connection, and gateway.client_cert_header from its proxies.
		ClientCerts: w.cfg.Gateway.ClientCertSource(),
		Getenv:      w.getenv,
		// The single-page apps' agents (gateway.token_handler).
		TokenHandlers: spas,
		// The gateway names its own components (gateway, gateway.access).
		Logger:  w.logger,
		Metrics: w.registry,
		Now:     w.now,
		Tracer:  w.tracing.Tracer(tracerGateway),
	}
	g, err := gateway.New(ctx, opts)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	cs.g = g
	if err := cs.register(w.registry); err != nil {
		return fmt.Errorf("gateway: catalog metrics: %w", err)
	}
	w.gateway, w.catalog = g, cs
	w.revocations.gateway.Store(g)
	return nil
}

// services are the domain services handed to WithBeforeServe.
func (w *wiring) services() Services {
	s := Services{Issuer: w.issuer, Now: w.now}
	if w.db != nil {
		s.Catalog = publish.New(w.db, w.systemAuditor(), w.cfg.Gateway.Snapshot(), nil, w.now).
			Notify(newRedisNotifier(w.redis, w.cfg.RateLimit.Redis.Prefix, w.logger))
	}
	if w.oauth != nil {
		au := w.systemAuditor()
		s.Clients = w.registryClients(au)
		s.Applications, s.Subscriptions = w.applicationServices(s.Clients, au)
		s.Users = w.registryUsers(au)
	}
	return s
}

// close releases the Redis client and the store; a failure of one
// does not keep the other open.
func (w *wiring) close() error {
	w.accessLog.close()
	// After the last request: the spans of the requests finished during
	// a graceful shutdown are exported too.
	errTracing := w.closeTracing()
	var errRedis error
	if w.redis != nil {
		if err := w.redis.Close(); err != nil {
			errRedis = fmt.Errorf("close redis: %w", err)
		}
	}
	errRedis = errors.Join(errTracing, errRedis)
	if w.db == nil {
		return errRedis
	}
	if err := w.db.Close(); err != nil {
		return errors.Join(errRedis, fmt.Errorf("close store: %w", err))
	}
	return errRedis
}

func oauthConfig(cfg *config.Config, issuer string) oauth.Config {
	desc := make(map[string]string, len(cfg.Policy.Scopes))
	for scope, rule := range cfg.Policy.Scopes {
		if rule.Description != "" {
			desc[scope] = rule.Description
		}
	}
	return oauth.Config{
		Issuer:            issuer,
		AccessTTL:         time.Duration(cfg.Tokens.AccessTTL),
		RefreshTTL:        time.Duration(cfg.Tokens.RefreshTTL),
		IDTokenTTL:        time.Duration(cfg.Tokens.IDTokenTTL),
		CodeTTL:           time.Duration(cfg.Tokens.CodeTTL),
		RefreshReuseGrace: time.Duration(cfg.Tokens.RefreshReuseGrace),
		ClaimAttributes:   cfg.Policy.ClaimAttributes,
		ScopeDescriptions: desc,
		DefaultAudience:   cfg.Tokens.DefaultAudience,
		Resources:         cfg.ResourceServers(issuer),
		Scopes:            slices.Sorted(maps.Keys(cfg.Policy.Scopes)),
		DPoP: oauth.DPoPConfig{
			RequireNonce:  cfg.DPoP.RequireNonce,
			NonceLifetime: time.Duration(cfg.DPoP.NonceLifetime),
			ProofMaxAge:   time.Duration(cfg.DPoP.ProofMaxAge),
			Algorithms:    cfg.DPoP.Algorithms,
		},
		MTLS: oauthMTLS(cfg),
	}
}

// throttleConfig is the login_throttle section as the identity package
// takes it; the section's -1 (address limit off) is the throttle's
// negative MaxAddrFailures.
func throttleConfig(t config.LoginThrottle) identity.ThrottleConfig {
	return identity.ThrottleConfig{
		MaxFailures:     t.MaxFailures,
		BaseLock:        time.Duration(t.BaseLock),
		MaxLock:         time.Duration(t.MaxLock),
		MaxAddrFailures: t.MaxAddrFailures,
		AddrWindow:      time.Duration(t.AddrWindow),
		AddrLock:        time.Duration(t.AddrLock),
		MaxEntries:      t.MaxEntries,
	}
}

// keysConfig keeps a retired key published for as long as any token it
// signed can still be presented, and never less than the keys package's
// default of a day.
func keysConfig(cfg *config.Config) keys.Config {
	retention := max(24*time.Hour, time.Duration(cfg.Tokens.AccessTTL), time.Duration(cfg.Tokens.IDTokenTTL))
	return keys.Config{AccessAlg: cfg.Keys.AccessAlg, IDAlg: cfg.Keys.IDAlg, Retention: retention}
}

// loadMasterKey reads the master key from PORTCULLIS_MASTER_KEY or the key
// file. Only the server may create the file (create=true): a management
// command that made up a new key would digest secrets and seal keys the
// server can never use, so it fails instead.
func loadMasterKey(cfg *config.Config, getenv func(string) string, logger *slog.Logger, create bool) ([]byte, error) {
	env := getenv(keys.MasterKeyEnv)
	path := cfg.MasterKeyFile
	if path == "" {
		path = filepath.Join(cfg.DataDir, "master.key")
	}
	if env == "" {
		if create {
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				return nil, fmt.Errorf("master key directory: %w", err)
			}
		} else if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("master key file %s: %w (start the server once to create it, or set %s)",
				path, err, keys.MasterKeyEnv)
		}
	}
	master, created, err := keys.LoadMasterKey(env, path)
	if err != nil {
		// The error names the source, never the key.
		return nil, fmt.Errorf("master key: %w", err)
	}
	if created {
		logger.Warn("created a new master key file; back it up: without it the stored signing keys and client secrets are useless",
			"path", path)
	}
	return master, nil
}

// openStore opens the database, creating the directory of a SQLite file
// first, and migrates it when migrate is set.
func openStore(ctx context.Context, cfg *config.Config, logger *slog.Logger, migrate bool) (*store.DB, error) {
	dsn := cfg.Store.DSN
	if dsn == "" {
		dsn = filepath.Join(cfg.DataDir, "portcullis.db")
	}
	if path, ok := sqlitePath(dsn); ok && path != "" && path != ":memory:" {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("store directory: %w", err)
		}
	}
	// The DSN may hold a database password: it stays out of errors and logs.
	db, err := store.Open(ctx, dsn, logger.With("component", "store"))
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if !migrate {
		return db, nil
	}
	if err := db.Migrate(ctx); err != nil {
		_ = db.Close() // the migration error is the one to report
		return nil, fmt.Errorf("migrate store: %w", err)
	}
	return db, nil
}

// sqlitePath returns the file path of a SQLite DSN ("sqlite:PATH",
// "file:PATH?opts" or a plain path); ok is false for PostgreSQL.
func sqlitePath(dsn string) (path string, ok bool) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return "", false
	}
	path = dsn
	for _, prefix := range []string{"sqlite:", "file:"} {
		if rest, found := strings.CutPrefix(path, prefix); found {
			path = rest
			break
		}
	}
	path, _, _ = strings.Cut(path, "?")
	return path, true
}
