package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/store"
)

// Files of a demo data directory.
const (
	demoDBFile    = "portcullis.db"
	demoKeyFile   = "master.key"
	demoStateFile = "demo.json"
	// demoGatewaySecret holds the gateway client's secret for the gateway
	// role (mode 0600), so the configuration names a file, not a secret.
	demoGatewaySecret = "gateway.secret"
)

// demoAudience is the warehouse API's audience: the authorization server
// puts it in every token by default and the gateway requires it.
const demoAudience = "urn:portcullis:api:warehouse"

// demoCacheTTL bounds how long the demo gateway caches a resolved opaque
// or split token, so a revocation shows within it.
const demoCacheTTL = 30 * time.Second

// demoPasswordBytes is the entropy of generated demo passwords (144 bits).
const demoPasswordBytes = 18

// DemoOptions are the flags of `portcullis demo`.
type DemoOptions struct {
	// Dir is the data directory; empty means DefaultDemoDir().
	Dir string
	// AuthzAddr defaults to 127.0.0.1:8080, AdminAddr to 127.0.0.1:8081.
	AuthzAddr string
	AdminAddr string
	// GatewayAddr defaults to 127.0.0.1:8000, BackendAddr (the warehouse
	// backend, loopback) to 127.0.0.1:9000.
	GatewayAddr string
	BackendAddr string
	// Issuer defaults to "http://" + AuthzAddr (with port 0, the bound
	// address).
	Issuer string
}

func (o DemoOptions) withDefaults() DemoOptions {
	if o.Dir == "" {
		o.Dir = DefaultDemoDir()
	}
	if o.AuthzAddr == "" {
		o.AuthzAddr = "127.0.0.1:8080"
	}
	if o.AdminAddr == "" {
		o.AdminAddr = "127.0.0.1:8081"
	}
	if o.GatewayAddr == "" {
		o.GatewayAddr = "127.0.0.1:8000"
	}
	if o.BackendAddr == "" {
		o.BackendAddr = "127.0.0.1:9000"
	}
	if o.Issuer == "" {
		o.Issuer = "http://" + o.AuthzAddr
	}
	return o
}

// DemoFile is DIR/demo.json: what a person or a script needs to use the
// demo. It holds secrets, so it is written with mode 0600.
type DemoFile struct {
	Issuer    string        `json:"issuer"`
	Endpoints DemoEndpoints `json:"endpoints"`
	Clients   []DemoClient  `json:"clients"`
	Users     []DemoUser    `json:"users"`
}

// DemoEndpoints are the authorization server's URLs.
type DemoEndpoints struct {
	Discovery     string `json:"discovery"`
	Authorization string `json:"authorization"`
	Token         string `json:"token"`
	Introspection string `json:"introspection"`
	Revocation    string `json:"revocation"`
	Userinfo      string `json:"userinfo"`
	JWKS          string `json:"jwks"`
}

// DemoClient is one seeded client and its credentials.
type DemoClient struct {
	ClientID string `json:"client_id"`
	// ClientSecret is absent for public clients.
	ClientSecret            string   `json:"client_secret,omitempty"`
	GrantTypes              []string `json:"grant_types"`
	Scope                   string   `json:"scope"`
	AccessTokenFormat       string   `json:"access_token_format"`
	RedirectURIs            []string `json:"redirect_uris"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
}

// DemoUser is one seeded user and their password.
type DemoUser struct {
	Username string   `json:"username"`
	Password string   `json:"password"`
	Roles    []string `json:"roles"`
}

// Client returns the entry of the client id, or nil.
func (f *DemoFile) Client(id string) *DemoClient {
	for i := range f.Clients {
		if f.Clients[i].ClientID == id {
			return &f.Clients[i]
		}
	}
	return nil
}

// User returns the entry of username, or nil.
func (f *DemoFile) User(username string) *DemoUser {
	for i := range f.Users {
		if f.Users[i].Username == username {
			return &f.Users[i]
		}
	}
	return nil
}

func demoEndpoints(issuer string) DemoEndpoints {
	return DemoEndpoints{
		Discovery:     issuer + "/.well-known/openid-configuration",
		Authorization: issuer + "/oauth2/authorize",
		Token:         issuer + "/oauth2/token",
		Introspection: issuer + "/oauth2/introspect",
		Revocation:    issuer + "/oauth2/revoke",
		Userinfo:      issuer + "/userinfo",
		JWKS:          issuer + "/jwks.json",
	}
}

// dataDirConfig is the default configuration with its database and master
// key in dir, as the demo lays them out.
func dataDirConfig(dir string) *config.Config {
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Store.DSN = filepath.Join(dir, demoDBFile)
	cfg.MasterKeyFile = filepath.Join(dir, demoKeyFile)
	return cfg
}

// DemoConfig returns the warehouse demo's configuration (see DESIGN.md):
// SQLite and the master key in the data directory, text logs, and the
// warehouse issuance policy. Start validates it.
func DemoConfig(o DemoOptions) *config.Config {
	o = o.withDefaults()
	cfg := dataDirConfig(o.Dir)
	cfg.Issuer = o.Issuer
	cfg.Listen.Authz = o.AuthzAddr
	cfg.Listen.Admin = o.AdminAddr
	cfg.Listen.Gateway = o.GatewayAddr
	cfg.Log.Format = "text"
	cfg.Tokens.DefaultAudience = demoAudience
	// An app tier: 2000 requests a day with bursts of at most 100 a second.
	cfg.RateLimit = config.RateLimit{
		Plans: map[string][]config.Limit{"gold": {
			{Name: "gold-daily", Quota: "2000/day", Key: []string{"client_id"}},
			{Name: "gold-burst", Rate: "100/s", Burst: 100, Key: []string{"client_id"}},
		}},
		ClientPlans: map[string]string{
			"warehouse-service": "gold", "warehouse-service-opaque": "gold", "warehouse-service-split": "gold",
		},
	}
	cfg.Gateway = config.Gateway{
		Issuers: []config.Issuer{{
			Issuer:           o.Issuer,
			ClientID:         "gateway",
			ClientSecretFile: filepath.Join(o.Dir, demoGatewaySecret),
			CacheTTL:         config.Duration(demoCacheTTL),
		}},
		APIs: []config.API{{
			Name:      "warehouse",
			Version:   "v1",
			BasePath:  "/warehouse",
			Upstream:  "http://" + o.BackendAddr,
			Audiences: []string{demoAudience},
			Operations: []config.Operation{
				{Method: "GET", Path: "/items", Scopes: []string{"list_items"}},
				{Method: "POST", Path: "/orders", Scopes: []string{"order_item"},
					// Regional-office users may place at most 10 orders an hour.
					Limits: []config.Limit{{
						Name: "regional-orders", Quota: "10/hour", Key: []string{"sub"},
						Condition: `claims.office == "regional"`, Strict: true,
					}}},
				{Method: "GET", Path: "/health", Public: true},
			},
			CORS: &config.CORS{AllowedOrigins: []string{"http://127.0.0.1:5173", "http://localhost:5173"}},
		}},
	}
	cfg.Policy = config.Policy{
		Roles: map[string][]string{
			"warehouse_admin": {"list_items", "order_item"},
			"warehouse_staff": {"list_items"},
		},
		Scopes: map[string]config.ScopeRule{
			"openid":         {Description: "Sign you in with your Portcullis account"},
			"profile":        {Description: "See your username"},
			"offline_access": {Description: "Stay connected while you are away"},
			"list_items":     {Description: "See the items in the warehouse"},
			"order_item": {
				Description: "Order items from the warehouse",
				// Only head-office admins order, and only from an allowed
				// network.
				Condition: `user.roles.exists(r, r == "warehouse_admin") && user.attrs.office == "head" && ` +
					`ip.in(request.ip, ["127.0.0.0/8", "::1/128", "10.0.0.0/8"])`,
			},
		},
		ClaimAttributes: []string{"office"},
	}
	return cfg
}

// demoClientSpecs are the demo's clients (DESIGN.md, the warehouse example).
func demoClientSpecs() []ClientSpec {
	service := func(id, name, format string) ClientSpec {
		return ClientSpec{
			ID: id, Name: name, GrantTypes: []string{GrantClientCredentials},
			AuthMethod: store.AuthSecretBasic, Scopes: []string{"list_items order_item"}, Format: format,
		}
	}
	userScopes := []string{"openid profile offline_access list_items order_item"}
	return []ClientSpec{
		service("warehouse-service", "Warehouse service (JWT)", store.FormatJWT),
		service("warehouse-service-opaque", "Warehouse service (opaque)", store.FormatOpaque),
		service("warehouse-service-split", "Warehouse service (split)", store.FormatSplit),
		{
			ID: "warehouse-web", Name: "Warehouse web app",
			GrantTypes: []string{GrantAuthorizationCode, GrantRefreshToken}, AuthMethod: store.AuthSecretBasic,
			RedirectURIs: []string{"http://127.0.0.1:9999/callback", "http://localhost:9999/callback"},
			Scopes:       userScopes, Format: store.FormatOpaque,
		},
		{
			ID: "warehouse-spa", Name: "Warehouse single-page app", Public: true,
			GrantTypes: []string{GrantAuthorizationCode, GrantRefreshToken}, AuthMethod: store.AuthNone,
			RedirectURIs: []string{"http://127.0.0.1:5173/callback", "http://localhost:5173/callback"},
			Scopes:       userScopes, Format: store.FormatOpaque, SkipConsent: false,
		},
		{
			ID: "gateway", Name: "API gateway", GrantTypes: []string{GrantClientCredentials},
			AuthMethod: store.AuthSecretBasic, Scopes: []string{}, Format: store.FormatOpaque, CanIntrospect: true,
		},
	}
}

type demoUserSpec struct {
	username string
	roles    []string
	attrs    map[string]string
}

func demoUserSpecs() []demoUserSpec {
	return []demoUserSpec{
		{"alice", []string{"warehouse_admin"}, map[string]string{"office": "head"}},
		{"bob", []string{"warehouse_staff"}, map[string]string{"office": "regional"}},
	}
}

// StartDemo starts the demo server, seeding DIR on its first run, and
// prints the quick-start to rt.Stdout. The demo uses the master key file in
// DIR and ignores PORTCULLIS_MASTER_KEY, so the directory is self-contained.
func StartDemo(ctx context.Context, o DemoOptions, rt *Runtime) (*Running, *DemoFile, error) {
	o = o.withDefaults()
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("demo data directory: %w", err)
	}
	cfg := DemoConfig(o)
	logger, err := NewLogger(rt.Stderr, cfg.Log)
	if err != nil {
		return nil, nil, err
	}
	var (
		file           *DemoFile
		previousIssuer string
	)
	var backendURL string
	seed := func(ctx context.Context, w *wiring) error {
		var err error
		file, previousIssuer, err = seedDemo(ctx, w, o.Dir)
		if err != nil {
			return err
		}
		if err := writeSecretFile(filepath.Join(o.Dir, demoGatewaySecret), file.Client("gateway").ClientSecret); err != nil {
			return err
		}
		// The backend verifies what the gateway forwards against the
		// issuer as it is bound in this run.
		backendURL, err = startWarehouseBackend(ctx, o.BackendAddr, w.issuer, demoAudience, logger.With("component", "backend"))
		if err != nil {
			return err
		}
		for i := range w.cfg.Gateway.APIs {
			w.cfg.Gateway.APIs[i].Upstream = backendURL
		}
		return nil
	}
	r, err := Start(ctx, cfg, logger, WithGetenv(noEnv), WithClock(rt.now), withBeforeServe(seed))
	if err != nil {
		return nil, nil, err
	}
	if err := writeQuickStart(rt.Stdout, quickStartData(r, o.Dir, file, previousIssuer, backendURL)); err != nil {
		return r, file, err
	}
	return r, file, nil
}

func noEnv(string) string { return "" }

// writeSecretFile writes secret to path with mode 0600, replacing it.
func writeSecretFile(path, secret string) error {
	if secret == "" {
		return fmt.Errorf("demo: no secret for %s", filepath.Base(path))
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(secret+"\n"), 0o600); err != nil {
		return fmt.Errorf("demo: write %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("demo: write %s: %w", filepath.Base(path), err)
	}
	return nil
}

// seedDemo makes the store hold the demo's clients and users with the
// credentials of DIR/demo.json, generating that file on the first run. The
// file is written before the store, so a crash in between is repaired by
// the next run instead of leaving credentials nobody knows.
func seedDemo(ctx context.Context, w *wiring, dir string) (file *DemoFile, previousIssuer string, err error) {
	path := filepath.Join(dir, demoStateFile)
	file, err = readDemoFile(path)
	if err != nil {
		return nil, "", err
	}
	first := file == nil
	if first {
		file = &DemoFile{Clients: []DemoClient{}, Users: []DemoUser{}}
	}
	changed := first
	if file.Issuer != w.issuer {
		if !first {
			previousIssuer = file.Issuer
		}
		file.Issuer, file.Endpoints, changed = w.issuer, demoEndpoints(w.issuer), true
	}

	// Credentials (re)generated in this run replace whatever the store
	// holds; the others are left alone, so a secret rotated with the CLI
	// stays rotated.
	fresh := map[string]bool{}
	now := w.now()
	clients := make([]store.Client, 0, len(demoClientSpecs()))
	for _, spec := range demoClientSpecs() {
		c, err := NewClient(spec, now)
		if err != nil {
			return nil, "", fmt.Errorf("demo client %s: %w", spec.ID, err)
		}
		entry := file.Client(c.ID)
		if entry == nil {
			file.Clients = append(file.Clients, DemoClient{ClientID: c.ID})
			entry = &file.Clients[len(file.Clients)-1]
			changed = true
		}
		if usesSecret(c.AuthMethod) != (entry.ClientSecret != "") {
			if entry.ClientSecret, err = IssueSecret(&c, w.secretKey); err != nil {
				return nil, "", err
			}
			fresh["client:"+c.ID], changed = true, true
		}
		if usesSecret(c.AuthMethod) {
			c.SecretDigest = clientauth.DigestSecret(w.secretKey, entry.ClientSecret)
		}
		entry.GrantTypes, entry.Scope, entry.AccessTokenFormat = c.GrantTypes, strings.Join(c.Scopes, " "), c.AccessTokenFormat
		entry.RedirectURIs, entry.TokenEndpointAuthMethod = nonNil(c.RedirectURIs), c.AuthMethod
		clients = append(clients, c)
	}
	for _, spec := range demoUserSpecs() {
		entry := file.User(spec.username)
		if entry == nil {
			file.Users = append(file.Users, DemoUser{Username: spec.username})
			entry = &file.Users[len(file.Users)-1]
		}
		if entry.Password == "" {
			if entry.Password, err = randomPassword(); err != nil {
				return nil, "", err
			}
			fresh["user:"+spec.username], changed = true, true
		}
		entry.Roles = spec.roles
	}
	if changed {
		if err := writeDemoFile(path, file); err != nil {
			return nil, "", err
		}
	}

	for _, c := range clients {
		if err := upsertDemoClient(ctx, w.db, c, first || fresh["client:"+c.ID]); err != nil {
			return nil, "", err
		}
	}
	for _, spec := range demoUserSpecs() {
		password := file.User(spec.username).Password
		if err := upsertDemoUser(ctx, w, spec, password, first || fresh["user:"+spec.username]); err != nil {
			return nil, "", err
		}
	}
	return file, previousIssuer, nil
}

// upsertDemoClient creates c when missing and replaces an existing one when
// replace is set.
func upsertDemoClient(ctx context.Context, db *store.DB, c store.Client, replace bool) error {
	old, err := db.GetClient(ctx, c.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if err := db.CreateClient(ctx, c); err != nil {
			return fmt.Errorf("seed client %s: %w", c.ID, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("seed client %s: %w", c.ID, err)
	case !replace:
		return nil
	}
	c.CreatedAt = old.CreatedAt
	if err := db.UpdateClient(ctx, c); err != nil {
		return fmt.Errorf("seed client %s: %w", c.ID, err)
	}
	return nil
}

// upsertDemoUser mirrors upsertDemoClient for users.
func upsertDemoUser(ctx context.Context, w *wiring, spec demoUserSpec, password string, replace bool) error {
	u, err := w.db.GetUserByUsername(ctx, spec.username)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if _, err := w.users.Create(ctx, spec.username, password, spec.roles, spec.attrs); err != nil {
			return fmt.Errorf("seed user %s: %w", spec.username, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("seed user %s: %w", spec.username, err)
	case !replace:
		return nil
	}
	u.Roles, u.Attrs, u.UpdatedAt = spec.roles, spec.attrs, w.now()
	if err := w.db.UpdateUser(ctx, u); err != nil {
		return fmt.Errorf("seed user %s: %w", spec.username, err)
	}
	if err := w.users.SetPassword(ctx, spec.username, password); err != nil {
		return fmt.Errorf("seed user %s: %w", spec.username, err)
	}
	return nil
}

// readDemoFile returns nil, nil when the file does not exist yet.
func readDemoFile(path string) (*DemoFile, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var f DemoFile
	if err := json.Unmarshal(b, &f); err != nil {
		// The content holds secrets: the error names the file only.
		return nil, fmt.Errorf("%s is not valid JSON (delete it to seed the demo again): %w", path, err)
	}
	return &f, nil
}

// writeDemoFile replaces path atomically with mode 0600: it holds secrets.
func writeDemoFile(path string, f *DemoFile) (err error) {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".demo-*.json") // mode 0600
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name()) // best effort: the write already failed
		}
	}()
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func randomPassword() (string, error) {
	b := make([]byte, demoPasswordBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
