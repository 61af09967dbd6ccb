package server

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/portcullis/portcullis/internal/admin"
	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/identity"
	"github.com/portcullis/portcullis/internal/keys"
	"github.com/portcullis/portcullis/internal/publish"
	"github.com/portcullis/portcullis/internal/registry"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/token"
)

// The adapters between the domain services and the admin API: views
// without secrets, and the caller's mistakes told apart from failures.
var (
	_ admin.ClientService   = adminClients{}
	_ admin.UserService     = adminUsers{}
	_ admin.KeyService      = adminKeys{}
	_ admin.TokenVerifier   = adminVerifier{}
	_ admin.DocumentService = adminDocuments{}
	_ admin.AuditVerifier   = (*audit.Auditor)(nil)
)

// adminParts sets the parts of the admin API that need the authorization
// server on this node: the registry, the keys, the audit trail and the
// verifier of the issuer's admin tokens. Their writes are recorded
// through an Auditor without a default actor, so a write that does not
// name its caller fails rather than being recorded as somebody else's.
func (w *wiring) adminParts(ctx context.Context, o *admin.Options) {
	if w.db != nil {
		pub := w.operatorPublisher()
		o.Catalog = pub
		o.Documents = adminDocuments{pub, w.db}
		// Verify walks the chain and writes nothing: no actor needed.
		o.AuditVerifier = audit.New(w.db, w.now)
	}
	if w.oauth == nil {
		return
	}
	au := audit.New(w.db, w.now)
	clients := w.registryClients(au)
	o.Clients = adminClients{clients}
	o.Applications, o.Subscriptions = w.applicationServices(clients, au)
	o.Users = adminUsers{w.registryUsers(au)}
	o.Keys = adminKeys{km: w.keys, audit: au}
	o.Audit = au

	// The node's own issuer, fetched over HTTP like any resource server
	// does (demo/backend.go): one code path for one node and many.
	jwks := token.NewJWKSCache(token.JWKSConfig{Issuer: w.issuer}, w.logger, w.now)
	v, err := token.NewVerifier(token.VerifierConfig{
		Issuer:    w.issuer,
		Audiences: []string{admin.Audience},
		Types:     []string{token.TypeAccessJWT},
	}, jwks, w.now)
	if err != nil {
		w.logger.Warn("admin tokens are not accepted", "component", "admin", "err", err)
		return
	}
	go func() {
		// Until the keys are loaded, tokens are refused (401).
		if err := jwks.Start(ctx); err != nil && ctx.Err() == nil {
			w.logger.Warn("issuer keys not loaded yet; admin tokens are refused until they are", "component", "admin", "err", err)
		}
	}()
	o.Verifier = adminVerifier{v: v, db: w.db}
}

// operatorPublisher is the catalog service operators write through (the
// admin API, the console). Its auditor has no default actor: a write
// that lost its operator fails rather than blame the node.
func (w *wiring) operatorPublisher() *publish.Service {
	return publish.New(w.db, audit.New(w.db, w.now), w.cfg.Gateway.Snapshot(), nil, w.now).
		Notify(newRedisNotifier(w.redis, w.cfg.RateLimit.Redis.Prefix, w.logger))
}

// registryClients is the client service recording its writes with au.
// Deleting a client deletes its tokens: the gateways are told
// (announcingAuditor).
func (w *wiring) registryClients(au *audit.Auditor) *registry.Clients {
	key := registry.SecretKey{Key: w.secretKey, ID: w.keyID}
	return registry.NewClients(w.db, w.announcing(au),
		func(context.Context) (registry.SecretKey, error) { return key, nil }, w.now)
}

// registryUsers is the user service recording its writes with au;
// deleting a user deletes their tokens, and the gateways are told.
func (w *wiring) registryUsers(au *audit.Auditor) *registry.Users {
	return registry.NewUsers(w.db, w.announcing(au), w.hasher, w.now)
}

// applicationServices are the application and subscription services
// recording their writes with au. Subscriptions take the plans of the
// configuration file as it was at start beside the stored ones.
func (w *wiring) applicationServices(clients *registry.Clients, au *audit.Auditor) (*registry.Applications, *registry.Subscriptions) {
	filePlans := slices.Sorted(maps.Keys(w.cfg.Gateway.Snapshot().RateLimit.Plans))
	cat := registry.StoredCatalog{Store: w.db, FilePlans: func() []string { return filePlans }}
	return registry.NewApplications(w.db, clients, au, w.now), registry.NewSubscriptions(w.db, cat, au, w.now)
}

// adminDocuments is the admin API's DocumentService: the operators'
// catalog service and the store's revision.
type adminDocuments struct {
	*publish.Service
	db *store.DB
}

func (d adminDocuments) CatalogRevision(ctx context.Context) (int64, error) {
	return d.db.CatalogRevision(ctx)
}

type adminVerifier struct {
	v  *token.Verifier
	db *store.DB
}

// VerifyAdminToken accepts only JWT access tokens (at+jwt) of the issuer
// for the admin audience; opaque and split tokens are refused. Every token
// this server issues is also a row, so the row is read on each call: a
// token revoked at /oauth2/revoke (RFC 7009) stops at once, as does every
// token of a deleted admin client, and only the scopes the client still
// holds count, so taking a role away takes effect before its tokens
// expire. The admin API is not a hot path; the read is the price.
func (a adminVerifier) VerifyAdminToken(ctx context.Context, raw string) (admin.Principal, error) {
	vt, err := a.v.Verify(ctx, raw)
	if err != nil {
		return admin.Principal{}, err
	}
	row, err := a.db.GetToken(ctx, token.Digest(raw))
	if err != nil {
		return admin.Principal{}, fmt.Errorf("admin token: %w", err)
	}
	if row.Revoked || row.Kind != store.KindAccess {
		return admin.Principal{}, errors.New("admin token: revoked")
	}
	c, err := a.db.GetClient(ctx, vt.Claims.ClientID)
	if err != nil {
		return admin.Principal{}, fmt.Errorf("admin token of client %q: %w", vt.Claims.ClientID, err)
	}
	var scopes []string
	for _, s := range vt.Claims.Scopes {
		if slices.Contains(c.Scopes, s) {
			scopes = append(scopes, s)
		}
	}
	return admin.Principal{Subject: vt.Claims.Subject, ClientID: vt.Claims.ClientID, Scopes: scopes}, nil
}

type adminClients struct{ s *registry.Clients }

func (a adminClients) List(ctx context.Context) ([]registry.ClientInfo, error) {
	list, err := a.s.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]registry.ClientInfo, len(list))
	for i, c := range list {
		out[i] = registry.NewClientInfo(c, "")
	}
	return out, nil
}

func (a adminClients) Get(ctx context.Context, id string) (registry.ClientInfo, error) {
	c, err := a.s.Get(ctx, id)
	if err != nil {
		return registry.ClientInfo{}, err
	}
	return registry.NewClientInfo(c, ""), nil
}

func (a adminClients) Create(ctx context.Context, spec registry.ClientSpec) (registry.ClientInfo, error) {
	c, secret, err := a.s.Create(ctx, spec)
	if err != nil {
		return registry.ClientInfo{}, err
	}
	return registry.NewClientInfo(c, secret), nil
}

func (a adminClients) Delete(ctx context.Context, id string) error { return a.s.Delete(ctx, id) }

func (a adminClients) RotateSecret(ctx context.Context, id string) (registry.ClientInfo, error) {
	c, err := a.s.Get(ctx, id)
	if err != nil {
		return registry.ClientInfo{}, err
	}
	if !registry.UsesSecret(c.AuthMethod) {
		return registry.ClientInfo{}, &admin.InputError{Detail: "the client authenticates with " + c.AuthMethod + ": it has no secret to rotate"}
	}
	secret, err := a.s.RotateSecret(ctx, id)
	if err != nil {
		return registry.ClientInfo{}, err
	}
	if c, err = a.s.Get(ctx, id); err != nil {
		return registry.ClientInfo{}, err
	}
	return registry.NewClientInfo(c, secret), nil
}

type adminUsers struct{ s *registry.Users }

func (a adminUsers) List(ctx context.Context) ([]registry.UserInfo, error) {
	list, err := a.s.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]registry.UserInfo, len(list))
	for i, u := range list {
		out[i] = registry.NewUserInfo(u)
	}
	return out, nil
}

func (a adminUsers) Get(ctx context.Context, username string) (registry.UserInfo, error) {
	u, err := a.s.Get(ctx, username)
	if err != nil {
		return registry.UserInfo{}, err
	}
	return registry.NewUserInfo(u), nil
}

// userInputErrors are identity's refusals of what the caller sent.
var userInputErrors = []error{
	identity.ErrInvalidUsername, identity.ErrWeakPassword, identity.ErrPasswordTooLong,
	identity.ErrInvalidRole, identity.ErrInvalidAttribute,
}

func (a adminUsers) Create(ctx context.Context, username, password string, roles []string, attrs map[string]string) (registry.UserInfo, error) {
	u, err := a.s.Create(ctx, username, password, roles, attrs)
	for _, e := range userInputErrors {
		if errors.Is(err, e) {
			// identity's messages describe the rule, never the password.
			return registry.UserInfo{}, &admin.InputError{Detail: e.Error()}
		}
	}
	if err != nil {
		return registry.UserInfo{}, err
	}
	return registry.NewUserInfo(u), nil
}

func (a adminUsers) Delete(ctx context.Context, username string) error {
	return a.s.Delete(ctx, username)
}

type adminKeys struct {
	km    *keys.Manager
	audit *audit.Auditor
}

func (a adminKeys) List(ctx context.Context) ([]admin.KeyView, error) {
	infos, err := a.km.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return keyViews(infos), nil
}

func (a adminKeys) Rotate(ctx context.Context, uses []string) ([]admin.KeyView, error) {
	us := []keys.Use{keys.UseAccess, keys.UseID}
	if len(uses) > 0 {
		us = us[:0]
		for _, u := range uses {
			if u != string(keys.UseAccess) && u != string(keys.UseID) {
				return nil, &admin.InputError{Detail: `unknown key use: want "access" or "id"`}
			}
			if !slices.Contains(us, keys.Use(u)) {
				us = append(us, keys.Use(u))
			}
		}
	}
	rotated, err := rotateKeys(ctx, a.km, a.audit, us)
	if err != nil {
		return nil, err
	}
	return keyViews(rotated), nil
}

func keyViews(infos []keys.KeyInfo) []admin.KeyView {
	out := make([]admin.KeyView, len(infos))
	for i, k := range infos {
		out[i] = admin.KeyView{KID: k.KID, Alg: k.Alg, Use: string(k.Use), State: k.State,
			CreatedAt: k.CreatedAt, ActivatedAt: k.ActivatedAt, RetiredAt: k.RetiredAt}
	}
	return out
}
