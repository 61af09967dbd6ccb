package admin

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"net/http"
	"time"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/ratelimit"
	"github.com/portcullis/portcullis/internal/registry"
)

// QuotaReader reports the quota state of a client's limits (the gateway).
type QuotaReader interface {
	// ClientQuotas returns a JSON-encodable view of clientID's limits.
	ClientQuotas(ctx context.Context, clientID string) (any, error)
}

// ClientService is the registry's client service as the admin API sees it:
// views that never hold a secret digest. Errors wrap registry.ErrNotFound,
// registry.ErrExists, or are a *registry.InvalidClientError or an
// *InputError for what the caller got wrong.
type ClientService interface {
	List(ctx context.Context) ([]registry.ClientInfo, error)
	Get(ctx context.Context, id string) (registry.ClientInfo, error)
	// Create returns the client with its one-time secret.
	Create(ctx context.Context, spec registry.ClientSpec) (registry.ClientInfo, error)
	Delete(ctx context.Context, id string) error
	// RotateSecret returns the client with its new one-time secret.
	RotateSecret(ctx context.Context, id string) (registry.ClientInfo, error)
}

// UserService is the registry's user service as the admin API sees it.
// Errors wrap registry.ErrNotFound, registry.ErrExists, or are an
// *InputError.
type UserService interface {
	List(ctx context.Context) ([]registry.UserInfo, error)
	Get(ctx context.Context, username string) (registry.UserInfo, error)
	Create(ctx context.Context, username, password string, roles []string, attrs map[string]string) (registry.UserInfo, error)
	Delete(ctx context.Context, username string) error
}

// KeyView is a signing key as the admin API shows it: public facts only.
type KeyView struct {
	KID         string    `json:"kid"`
	Alg         string    `json:"alg"`
	Use         string    `json:"use"`
	State       string    `json:"state"`
	CreatedAt   time.Time `json:"created_at"`
	ActivatedAt time.Time `json:"activated_at,omitzero"`
	RetiredAt   time.Time `json:"retired_at,omitzero"`
}

// KeyService lists and rotates the issuer's signing keys, recording each
// rotation in the audit trail with the context's actor.
type KeyService interface {
	List(ctx context.Context) ([]KeyView, error)
	// Rotate rotates the keys of each use ("access", "id") and returns the
	// new keys; an unknown use is an *InputError.
	Rotate(ctx context.Context, uses []string) ([]KeyView, error)
}

// AuditLog reads the audit trail (*audit.Auditor).
type AuditLog interface {
	List(ctx context.Context, f audit.Filter, after int64, limit int) ([]audit.Record, int64, error)
}

var _ AuditLog = (*audit.Auditor)(nil)

// InputError is a request the domain refused as malformed; Detail is safe
// to show the caller (it never holds a secret).
type InputError struct{ Detail string }

// Error returns the detail.
func (e *InputError) Error() string { return e.Detail }

// Options are the finished parts the admin API serves. A nil part means
// that part does not run on this node: its routes answer 404.
type Options struct {
	// Token is the break-glass bearer token; "" or one that fails
	// CheckToken turns break-glass access off.
	Token string
	// Verifier checks access tokens of the issuer for the admin
	// audience; nil accepts none.
	Verifier TokenVerifier
	Blocks   ratelimit.Blocks
	Quotas   QuotaReader
	Clients  ClientService
	Users    UserService
	Keys     KeyService
	Audit    AuditLog
	// Catalog is the stored catalog's service (nil: its routes answer
	// 404).
	Catalog CatalogService
	// Documents plans, applies and exports whole catalog documents
	// (nil: their routes answer 404).
	Documents DocumentService
	// AuditVerifier checks the audit trail's hash chain (nil: its route
	// answers 404).
	AuditVerifier AuditVerifier
	// Applications and Subscriptions are the registry's services of
	// applications and their subscriptions (nil: their routes answer
	// 404; the subscription routes need both).
	Applications  ApplicationService
	Subscriptions SubscriptionService
	// Logger receives the internal causes of 5xx answers (nil discards).
	Logger *slog.Logger
	// Now is the clock (nil means time.Now).
	Now func() time.Time
}

// API serves /admin/v1. Safe for concurrent use.
type API struct {
	// tokenSum is SHA-256 of the break-glass token; comparing digests
	// keeps the comparison constant-time whatever the presented length.
	tokenSum      [32]byte
	breakGlass    bool
	verifier      TokenVerifier
	blocks        ratelimit.Blocks
	quotas        QuotaReader
	clients       ClientService
	users         UserService
	keys          KeyService
	audit         AuditLog
	catalog       CatalogService
	documents     DocumentService
	auditVerifier AuditVerifier
	applications  ApplicationService
	subscriptions SubscriptionService
	logger        *slog.Logger
	now           func() time.Time
	openapi       []byte
}

// New returns the admin API over o.
func New(o Options) *API {
	a := &API{
		verifier: o.Verifier, blocks: o.Blocks, quotas: o.Quotas,
		clients: o.Clients, users: o.Users, keys: o.Keys, audit: o.Audit, catalog: o.Catalog,
		logger: o.Logger, now: o.Now,
	}
	a.documents, a.auditVerifier = o.Documents, o.AuditVerifier
	a.applications, a.subscriptions = o.Applications, o.Subscriptions
	if a.now == nil {
		a.now = time.Now
	}
	if a.logger == nil {
		a.logger = slog.New(slog.DiscardHandler)
	}
	if CheckToken(o.Token) == nil {
		a.breakGlass = true
		a.tokenSum = sha256.Sum256([]byte(o.Token))
	}
	a.openapi = openAPIDocument()
	return a
}

// enabled reports whether any caller can authenticate.
func (a *API) enabled() bool { return a.breakGlass || a.verifier != nil }

// Register adds the admin routes of the route table to mux.
func (a *API) Register(mux *http.ServeMux) {
	for _, rt := range routes {
		mux.Handle(rt.pattern(), a.guard(rt))
	}
}
