// Package demo runs the warehouse example of DESIGN.md on one machine: it
// loads examples/warehouse/portcullis.yaml (embedded), seeds the example's
// clients and users, an admin API client and a published catalog version
// of the warehouse API into a self-contained data directory, runs the
// warehouse and clinic backends on loopback and prints the walkthrough.
// It also serves the warehouse single-page app on an origin of its own
// (spa.go): it signs users in through the gateway's token handler and
// never holds a token.
// The clinic API shows the gateway's payload and response protection:
// contract validation, the OWASP Core Rule Set, and responses filtered and
// encrypted by the caller's claims. Token signs a demo user in headlessly
// (the authorization code flow with PKCE), so the walkthrough can call the
// clinic as each of its users.
//
// It is a consumer of the server and the registry like any other; it must
// never be imported by them, and never read PORTCULLIS_MASTER_KEY: a demo
// directory carries its own key file.
package demo

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/examples/warehouse"
	"github.com/portcullis/portcullis/internal/admin"
	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/registry"
	"github.com/portcullis/portcullis/internal/server"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/tokenhandler"
)

// Files of a demo data directory. DBFile is exported for the management
// commands, which open a demo directory with --data.
const (
	DBFile        = "portcullis.db"
	demoKeyFile   = "master.key"
	demoStateFile = "demo.json"
	// demoGatewaySecret holds the gateway client's secret for the gateway
	// role (mode 0600), so the configuration names a file, not a secret.
	demoGatewaySecret = "gateway.secret"
	// demoClinicKeyFile holds the clinic's field-encryption key (32 bytes,
	// standard base64, mode 0600): the key the gateway encrypts ssn
	// fields under, and the one a reader decrypts them with.
	demoClinicKeyFile = "clinic-field.key"
	// demoBFFSecret holds the token handler's client secret (mode 0600),
	// as demoGatewaySecret does the gateway's.
	demoBFFSecret = "warehouse-bff.secret"
	// demoCookieKeyFile holds the key that seals the SPA's cookies (32
	// bytes, standard base64, mode 0600); kept across runs, so a browser
	// stays signed in over a restart of the demo.
	demoCookieKeyFile = "warehouse-cookie.key"
)

// The example's two APIs, by name.
const (
	warehouseAPI = "warehouse"
	clinicAPI    = "clinic"
)

// clinicKeyEnv is the variable the clinic's encrypt rule names
// (key_env); the demo answers it from demoClinicKeyFile, and reads no
// other variable.
const clinicKeyEnv = "PORTCULLIS_CLINIC_FIELD_KEY"

// clinicClient is the clinic staff's web app: a confidential client whose
// tokens are meant for the clinic API.
const clinicClient = "clinic-app"

// bffClient is the token handler's client for the warehouse SPA: a
// confidential client (the agent keeps its secret, never the browser)
// whose redirect URI is the SPA's page.
const bffClient = "warehouse-bff"

// spaApp is the token handler entry of the example that the demo's SPA
// signs in through.
const spaApp = "warehouse"

// demoRedirectURI is where the clinic app's code comes back. Token reads
// the code from the redirect and never calls it, so nothing listens there.
const demoRedirectURI = "http://127.0.0.1:9999/callback"

// clinicAudience is the clinic API's audience.
const clinicAudience = "urn:portcullis:api:clinic"

// demoAudience is the warehouse API's audience: the authorization server
// puts it in every token by default and the gateway requires it.
const demoAudience = "urn:portcullis:api:warehouse"

// demoAdminClient is the admin API's client: JWT access tokens (the admin
// API accepts no other) for urn:portcullis:admin with the platform role.
const demoAdminClient = "demo-admin"

// demoCacheTTL bounds how long the demo gateway caches a resolved opaque
// or split token, so a revocation shows within it.
const demoCacheTTL = 30 * time.Second

// demoPasswordBytes is the entropy of generated demo passwords (144 bits).
const demoPasswordBytes = 18

// DefaultDir is where `portcullis demo` keeps its data unless told
// otherwise; it is reused across runs.
func DefaultDir() string { return filepath.Join(os.TempDir(), "portcullis-demo") }

// Options are the flags of `portcullis demo`.
type Options struct {
	// Dir is the data directory; empty means DefaultDir().
	Dir string
	// AuthzAddr defaults to 127.0.0.1:8080, AdminAddr to 127.0.0.1:8081.
	AuthzAddr string
	AdminAddr string
	// GatewayAddr defaults to 127.0.0.1:8000, BackendAddr (the warehouse
	// backend, loopback) to 127.0.0.1:9000.
	GatewayAddr string
	BackendAddr string
	// SPAAddr serves the warehouse single-page app (loopback), on its
	// own origin; it defaults to 127.0.0.1:5173.
	SPAAddr string
	// Issuer defaults to "http://" + AuthzAddr (with port 0, the bound
	// address).
	Issuer string
}

func (o Options) withDefaults() Options {
	if o.Dir == "" {
		o.Dir = DefaultDir()
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
	if o.SPAAddr == "" {
		o.SPAAddr = "127.0.0.1:5173"
	}
	if o.Issuer == "" {
		o.Issuer = "http://" + o.AuthzAddr
	}
	return o
}

// File is DIR/demo.json: what a person or a script needs to use the
// demo. It holds secrets, so it is written with mode 0600.
type File struct {
	Issuer    string    `json:"issuer"`
	Endpoints Endpoints `json:"endpoints"`
	Clients   []Client  `json:"clients"`
	Users     []User    `json:"users"`
}

// Endpoints are the authorization server's URLs.
type Endpoints struct {
	Discovery     string `json:"discovery"`
	Authorization string `json:"authorization"`
	Token         string `json:"token"`
	Introspection string `json:"introspection"`
	Revocation    string `json:"revocation"`
	Userinfo      string `json:"userinfo"`
	JWKS          string `json:"jwks"`
}

// Client is one seeded client and its credentials.
type Client struct {
	ClientID string `json:"client_id"`
	// ClientSecret is absent for public clients.
	ClientSecret string   `json:"client_secret,omitempty"`
	GrantTypes   []string `json:"grant_types"`
	Scope        string   `json:"scope"`
	// Audience is absent when the tokens carry tokens.default_audience.
	Audience          []string `json:"audience,omitempty"`
	AccessTokenFormat string   `json:"access_token_format"`
	RedirectURIs      []string `json:"redirect_uris"`
	// PostLogoutRedirectURIs are where the issuer's end-session endpoint
	// may send the browser after a logout; absent when none.
	PostLogoutRedirectURIs  []string `json:"post_logout_redirect_uris,omitempty"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
}

// User is one seeded user and their password.
type User struct {
	Username string   `json:"username"`
	Password string   `json:"password"`
	Roles    []string `json:"roles"`
}

// Client returns the entry of the client id, or nil.
func (f *File) Client(id string) *Client {
	for i := range f.Clients {
		if f.Clients[i].ClientID == id {
			return &f.Clients[i]
		}
	}
	return nil
}

// User returns the entry of username, or nil.
func (f *File) User(username string) *User {
	for i := range f.Users {
		if f.Users[i].Username == username {
			return &f.Users[i]
		}
	}
	return nil
}

func demoEndpoints(issuer string) Endpoints {
	return Endpoints{
		Discovery:     issuer + "/.well-known/openid-configuration",
		Authorization: issuer + "/oauth2/authorize",
		Token:         issuer + "/oauth2/token",
		Introspection: issuer + "/oauth2/introspect",
		Revocation:    issuer + "/oauth2/revoke",
		Userinfo:      issuer + "/userinfo",
		JWKS:          issuer + "/jwks.json",
	}
}

// DataDirConfig is the default configuration with its database and master
// key in dir, as the demo lays them out.
func DataDirConfig(dir string) *config.Config {
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Store.DSN = filepath.Join(dir, DBFile)
	cfg.MasterKeyFile = filepath.Join(dir, demoKeyFile)
	return cfg
}

// Config returns the warehouse demo's configuration: the example file
// examples/warehouse/portcullis.yaml (embedded), with this run's data
// directory, listen addresses and issuer, the gateway's secret read from a
// file in the data directory, and a shorter phantom-token cache so a
// revocation shows within the quick-start's walkthrough. Start validates
// it again once the addresses are bound.
func Config(o Options) (*config.Config, error) {
	o = o.withDefaults()
	cfg, err := config.Parse("examples/warehouse/portcullis.yaml", warehouse.Config)
	if err != nil {
		return nil, fmt.Errorf("demo: the embedded warehouse example: %w", err)
	}
	cfg.DataDir = o.Dir
	cfg.Store.DSN = filepath.Join(o.Dir, DBFile)
	cfg.MasterKeyFile = filepath.Join(o.Dir, demoKeyFile)
	cfg.Issuer = o.Issuer
	cfg.Listen.Authz = o.AuthzAddr
	cfg.Listen.Admin = o.AdminAddr
	cfg.Listen.Gateway = o.GatewayAddr
	if len(cfg.Gateway.Issuers) != 1 {
		return nil, errors.New("demo: the warehouse example must have one issuer")
	}
	is := &cfg.Gateway.Issuers[0]
	is.Issuer = o.Issuer
	is.ClientSecretEnv = ""
	is.ClientSecretFile = filepath.Join(o.Dir, demoGatewaySecret)
	is.CacheTTL = config.Duration(demoCacheTTL)
	for _, name := range []string{warehouseAPI, clinicAPI} {
		if exampleAPI(cfg, name) == nil {
			return nil, fmt.Errorf("demo: the warehouse example has no %s API", name)
		}
	}
	setUpstreams(cfg, "http://"+o.BackendAddr)
	for i := range cfg.Gateway.APIs {
		// The only issuer; it follows the bound address when the port
		// is 0.
		cfg.Gateway.APIs[i].Issuer = ""
	}
	spa := exampleSPA(cfg)
	if spa == nil {
		return nil, fmt.Errorf("demo: the warehouse example has no %s token handler entry", spaApp)
	}
	// The agent signs users in at this run's issuer, with the secret and
	// cookie key of the data directory.
	spa.Issuer = o.Issuer
	spa.ClientSecretEnv, spa.ClientSecretFile = "", filepath.Join(o.Dir, demoBFFSecret)
	spa.CookieKeys = []tokenhandler.CookieKey{{ID: "demo", File: filepath.Join(o.Dir, demoCookieKeyFile)}}
	setSPAOrigin(cfg, "http://"+o.SPAAddr)
	return cfg, nil
}

// exampleSPA returns the example's token handler entry of the demo's
// SPA, or nil.
func exampleSPA(cfg *config.Config) *tokenhandler.SPA {
	spas := cfg.Gateway.TokenHandler.SPAs
	for i := range spas {
		if spas[i].Name == spaApp {
			return &spas[i]
		}
	}
	return nil
}

// setSPAOrigin points the token handler entry at the SPA served at
// origin: its only allowed origin, its page as the redirect URIs, and
// the warehouse API's CORS, whose entry for the example's SPA address
// becomes origin.
func setSPAOrigin(cfg *config.Config, origin string) {
	spa := exampleSPA(cfg)
	old := spa.AllowedOrigins
	spa.AllowedOrigins = []string{origin}
	spa.RedirectURI, spa.PostLogoutRedirectURI = origin+"/", origin+"/"
	if cors := exampleAPI(cfg, warehouseAPI).CORS; cors != nil {
		var origins []string
		for _, o := range cors.AllowedOrigins {
			if !slices.Contains(old, o) && o != origin {
				origins = append(origins, o)
			}
		}
		cors.AllowedOrigins = append(origins, origin)
	}
}

// exampleAPI returns the example's API of that name, or nil.
func exampleAPI(cfg *config.Config, name string) *catalog.API {
	for i := range cfg.Gateway.APIs {
		if cfg.Gateway.APIs[i].Name == name {
			return &cfg.Gateway.APIs[i]
		}
	}
	return nil
}

// setUpstreams points the example's APIs at the demo backend at base:
// the warehouse at its root, the clinic under /clinic.
func setUpstreams(cfg *config.Config, base string) {
	exampleAPI(cfg, warehouseAPI).Upstream = base
	exampleAPI(cfg, clinicAPI).Upstream = base + clinicPrefix
}

// demoClientSpecs are the demo's clients (DESIGN.md, the warehouse
// example); spaOrigin is where the token handler's SPA is served.
func demoClientSpecs(spaOrigin string) []registry.ClientSpec {
	service := func(id, name, format string) registry.ClientSpec {
		return registry.ClientSpec{
			ID: id, Name: name, GrantTypes: []string{registry.GrantClientCredentials},
			AuthMethod: store.AuthSecretBasic, Scopes: []string{"list_items order_item"}, Format: format,
		}
	}
	userScopes := []string{"openid profile offline_access list_items order_item"}
	return []registry.ClientSpec{
		service("warehouse-service", "Warehouse service (JWT)", store.FormatJWT),
		service("warehouse-service-opaque", "Warehouse service (opaque)", store.FormatOpaque),
		service("warehouse-service-split", "Warehouse service (split)", store.FormatSplit),
		{
			ID: "warehouse-web", Name: "Warehouse web app",
			GrantTypes: []string{registry.GrantAuthorizationCode, registry.GrantRefreshToken}, AuthMethod: store.AuthSecretBasic,
			RedirectURIs: []string{"http://127.0.0.1:9999/callback", "http://localhost:9999/callback"},
			Scopes:       userScopes, Format: store.FormatOpaque,
		},
		{
			ID: "warehouse-spa", Name: "Warehouse single-page app", Public: true,
			GrantTypes: []string{registry.GrantAuthorizationCode, registry.GrantRefreshToken}, AuthMethod: store.AuthNone,
			RedirectURIs: []string{"http://127.0.0.1:5173/callback", "http://localhost:5173/callback"},
			Scopes:       userScopes, Format: store.FormatOpaque, SkipConsent: false,
		},
		{
			// The token handler's client: confidential, first party (the
			// user signs in to the warehouse itself), opaque tokens so
			// each cookie stays a few hundred bytes.
			ID: bffClient, Name: "Warehouse (single-page app)",
			GrantTypes: []string{registry.GrantAuthorizationCode, registry.GrantRefreshToken}, AuthMethod: store.AuthSecretBasic,
			RedirectURIs: []string{spaOrigin + "/"},
			// The SPA's page again: after the issuer's logout the user
			// lands back on it, signed out (RP-Initiated Logout 1.0).
			PostLogoutRedirectURIs: []string{spaOrigin + "/"},
			Scopes:                 []string{"openid profile list_items order_item"}, Format: store.FormatOpaque, SkipConsent: true,
		},
		{
			ID: "gateway", Name: "API gateway", GrantTypes: []string{registry.GrantClientCredentials},
			AuthMethod: store.AuthSecretBasic, Scopes: []string{}, Format: store.FormatOpaque, CanIntrospect: true,
		},
		{
			ID: clinicClient, Name: "Clinic staff app",
			GrantTypes: []string{registry.GrantAuthorizationCode, registry.GrantRefreshToken}, AuthMethod: store.AuthSecretBasic,
			RedirectURIs: []string{demoRedirectURI},
			Scopes:       []string{"openid profile patients:read patients:write ssn:read"},
			Audience:     []string{clinicAudience}, Format: store.FormatOpaque,
		},
		{
			ID: demoAdminClient, Name: "Admin API automation", GrantTypes: []string{registry.GrantClientCredentials},
			AuthMethod: store.AuthSecretBasic, Scopes: []string{string(admin.RolePlatform)},
			Audience: []string{admin.Audience}, Format: store.FormatJWT,
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
		{"alice", []string{"warehouse_admin", "platform_admin"}, map[string]string{"office": "head"}},
		{"bob", []string{"warehouse_staff"}, map[string]string{"office": "regional"}},
		// The clinic's staff: two doctors, each with their own patients
		// (the records name them by staff_id), and a receptionist who
		// also does the billing.
		{"dr-grey", []string{"doctor"}, map[string]string{"staff_id": "D-1001"}},
		{"dr-house", []string{"doctor"}, map[string]string{"staff_id": "D-1002"}},
		{"rita", []string{"receptionist", "billing"}, map[string]string{"staff_id": "R-2001"}},
	}
}

// Env is what the demo prints to and reads the time from.
type Env struct {
	Stdout io.Writer
	Stderr io.Writer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Start starts the demo server, seeding DIR on its first run, and prints
// the quick-start to env.Stdout. The demo uses the master key file in DIR
// and ignores PORTCULLIS_MASTER_KEY, so the directory is self-contained.
func Start(ctx context.Context, o Options, env Env) (*server.Running, *File, error) {
	o = o.withDefaults()
	if env.Now == nil {
		env.Now = time.Now
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("demo data directory: %w", err)
	}
	cfg, err := Config(o)
	if err != nil {
		return nil, nil, err
	}
	logger, err := server.NewLogger(env.Stderr, cfg.Log)
	if err != nil {
		return nil, nil, err
	}
	// The backend's address is bound first, so the gateway's upstream is
	// known before the node starts; it serves once the issuer is known.
	backend, err := listenBackend(o.BackendAddr)
	if err != nil {
		return nil, nil, err
	}
	setUpstreams(cfg, backend.url)
	// The SPA's origin too: the agent's allowed origin and redirect URI.
	spa, err := listenSPA(o.SPAAddr)
	if err != nil {
		backend.close()
		return nil, nil, err
	}
	setSPAOrigin(cfg, spa.url)
	clinicKey, err := keyFile(filepath.Join(o.Dir, demoClinicKeyFile), "clinic field key")
	if err == nil {
		_, err = keyFile(filepath.Join(o.Dir, demoCookieKeyFile), "SPA cookie key")
	}
	if err != nil {
		backend.close()
		spa.close()
		return nil, nil, err
	}
	var (
		file           *File
		previousIssuer string
	)
	seed := func(ctx context.Context, s server.Services) error {
		var err error
		file, previousIssuer, err = seedDemo(ctx, s, o.Dir, spa.url)
		if err != nil {
			return err
		}
		if err := writeSecretFile(filepath.Join(o.Dir, demoGatewaySecret), file.Client("gateway").ClientSecret); err != nil {
			return err
		}
		// Read by the token handler when the gateway starts, just after.
		if err := writeSecretFile(filepath.Join(o.Dir, demoBFFSecret), file.Client(bffClient).ClientSecret); err != nil {
			return err
		}
		if err := seedCatalog(ctx, s, *exampleAPI(cfg, warehouseAPI)); err != nil {
			return err
		}
		if err := seedApplications(ctx, s); err != nil {
			return err
		}
		// The backend verifies what the gateway forwards against the
		// issuer as it is bound in this run.
		return backend.serve(ctx, s.Issuer, logger)
	}
	r, err := server.Start(ctx, cfg, logger, server.WithGetenv(demoEnv(clinicKey)), server.WithClock(env.Now), server.WithBeforeServe(seed))
	if err != nil {
		backend.close()
		spa.close()
		return nil, nil, err
	}
	// The page's script calls the gateway as it is bound in this run.
	spa.serve(ctx, spaSettings{Gateway: r.GatewayURL, Agent: exampleSPA(cfg).PathPrefix, API: exampleAPI(cfg, warehouseAPI).BasePath}, logger)
	view := quickStartData(r, o.Dir, file, previousIssuer, backend.url)
	view.SPAURL = spa.url + "/"
	if err := writeQuickStart(env.Stdout, view); err != nil {
		return r, file, err
	}
	return r, file, nil
}

// demoEnv is the environment the demo's server reads: the clinic's field
// key and nothing else, so a variable of the shell (a real
// PORTCULLIS_GATEWAY_SECRET, say) never changes the demo.
func demoEnv(clinicKey string) func(string) string {
	return func(name string) string {
		if name == clinicKeyEnv {
			return clinicKey
		}
		return ""
	}
}

// keyFile reads a 32-byte key (standard base64) from path, creating it
// (mode 0600) on the first run: the clinic's field key, so ssn fields
// encrypted by one run still decrypt with the key file after the next,
// and the SPA's cookie key, so its sessions outlive a restart.
func keyFile(path, what string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		k := strings.TrimSpace(string(b))
		if raw, err := base64.StdEncoding.DecodeString(k); err != nil || len(raw) != 32 {
			return "", fmt.Errorf("demo: %s is not 32 bytes in base64; delete it to make a new key", path)
		}
		return k, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("demo: read %s: %w", path, err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("demo: %s: %w", what, err)
	}
	k := base64.StdEncoding.EncodeToString(raw)
	if err := writeSecretFile(path, k); err != nil {
		return "", err
	}
	return k, nil
}

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
func seedDemo(ctx context.Context, s server.Services, dir, spaOrigin string) (file *File, previousIssuer string, err error) {
	if s.Clients == nil || s.Users == nil {
		return nil, "", errors.New("demo: the authorization server role is not running")
	}
	path := filepath.Join(dir, demoStateFile)
	file, err = readDemoFile(path)
	if err != nil {
		return nil, "", err
	}
	first := file == nil
	if first {
		file = &File{Clients: []Client{}, Users: []User{}}
	}
	changed := first
	if file.Issuer != s.Issuer {
		if !first {
			previousIssuer = file.Issuer
		}
		file.Issuer, file.Endpoints, changed = s.Issuer, demoEndpoints(s.Issuer), true
	}

	// Credentials (re)generated in this run replace whatever the store
	// holds; the others are left alone, so a secret rotated with the CLI
	// stays rotated. New secrets are generated here, written to the file,
	// and only then stored.
	fresh := map[string]bool{}
	now := s.Now()
	specs := demoClientSpecs(spaOrigin)
	// moved are the clients whose redirect URIs follow an address of
	// this run (the SPA's): the stored client is replaced, its secret
	// kept, so the issuer sends the browser back to where the SPA is.
	moved := map[string]bool{}
	for _, spec := range specs {
		c, err := registry.NewClient(spec, now)
		if err != nil {
			return nil, "", fmt.Errorf("demo client %s: %w", spec.ID, err)
		}
		entry := file.Client(c.ID)
		if entry == nil {
			file.Clients = append(file.Clients, Client{ClientID: c.ID})
			entry = &file.Clients[len(file.Clients)-1]
			changed = true
		} else if !slices.Equal(entry.RedirectURIs, nonNil(c.RedirectURIs)) ||
			!slices.Equal(entry.PostLogoutRedirectURIs, c.PostLogoutRedirectURIs) {
			// A data directory from before post-logout redirect URIs
			// existed moves too, so its stored client gains them.
			moved[c.ID], changed = true, true
		}
		if registry.UsesSecret(c.AuthMethod) != (entry.ClientSecret != "") {
			entry.ClientSecret = ""
			if registry.UsesSecret(c.AuthMethod) {
				if entry.ClientSecret, err = clientauth.GenerateSecret(); err != nil {
					return nil, "", fmt.Errorf("generate client secret: %w", err)
				}
			}
			fresh["client:"+c.ID], changed = true, true
		}
		entry.GrantTypes, entry.Scope, entry.AccessTokenFormat = c.GrantTypes, strings.Join(c.Scopes, " "), c.AccessTokenFormat
		entry.RedirectURIs, entry.TokenEndpointAuthMethod = nonNil(c.RedirectURIs), c.AuthMethod
		entry.PostLogoutRedirectURIs = c.PostLogoutRedirectURIs
		entry.Audience = spec.Audience
	}
	for _, spec := range demoUserSpecs() {
		entry := file.User(spec.username)
		if entry == nil {
			file.Users = append(file.Users, User{Username: spec.username})
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

	for _, spec := range specs {
		secret := file.Client(spec.ID).ClientSecret
		if _, _, err := s.Clients.Put(ctx, spec, secret, first || fresh["client:"+spec.ID] || moved[spec.ID]); err != nil {
			return nil, "", fmt.Errorf("seed client %s: %w", spec.ID, err)
		}
	}
	for _, spec := range demoUserSpecs() {
		password := file.User(spec.username).Password
		if err := s.Users.Put(ctx, spec.username, password, spec.roles, spec.attrs, first || fresh["user:"+spec.username]); err != nil {
			return nil, "", fmt.Errorf("seed user %s: %w", spec.username, err)
		}
	}
	return file, previousIssuer, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// readDemoFile returns nil, nil when the file does not exist yet.
func readDemoFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		// The content holds secrets: the error names the file only.
		return nil, fmt.Errorf("%s is not valid JSON (delete it to seed the demo again): %w", path, err)
	}
	return &f, nil
}

// writeDemoFile replaces path atomically with mode 0600: it holds secrets.
func writeDemoFile(path string, f *File) (err error) {
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
