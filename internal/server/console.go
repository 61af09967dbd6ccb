package server

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/portcullis/portcullis/internal/admin"
	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/console"
	"github.com/portcullis/portcullis/internal/keys"
	"github.com/portcullis/portcullis/internal/loopback"
	"github.com/portcullis/portcullis/internal/registry"
	"github.com/portcullis/portcullis/internal/store"
)

// consoleKeys are what the console derives from the master key: the
// sealer of its session cookies and its client's secret. Nil without the
// authz role.
type consoleKeys struct {
	sealer *keys.Sealer
	secret string
}

func newConsoleKeys(master []byte) (*consoleKeys, error) {
	s, err := keys.NewSealer(master, keys.PurposeConsoleSession)
	if err != nil {
		return nil, fmt.Errorf("console sealer: %w", err)
	}
	secret := base64.RawURLEncoding.EncodeToString(keys.DeriveKey(master, keys.PurposeConsoleClient))
	return &consoleKeys{sealer: s, secret: secret}, nil
}

// consoleScopes are the admin roles some policy role grants. Only those
// are registered for the console's client: a scope no policy role names
// is open to every user (policy.Issuance), and an admin role must never
// be.
func (w *wiring) consoleScopes() []string {
	var out []string
	for _, r := range console.AllRoles() {
		for _, scopes := range w.cfg.Policy.Roles {
			if slices.Contains(scopes, r) {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

// registerConsole serves the admin console on the admin listener when the
// authorization server runs here and the policy gives some role an admin
// scope; otherwise /console says why it is off. It registers (or
// updates) the console's OAuth client first.
func (w *wiring) registerConsole(ctx context.Context, mux *http.ServeMux, o admin.Options) {
	off := func(reason string) {
		w.logger.Info("admin console is off", "component", "console", "reason", reason)
		mux.HandleFunc(console.Path+"/", func(rw http.ResponseWriter, _ *http.Request) {
			plain(rw, http.StatusNotFound, "the admin console is off: "+reason+" (see docs/console.md)")
		})
	}
	if w.oauth == nil || w.console == nil || o.Verifier == nil || o.Clients == nil {
		off("the authz role does not run on this node")
		return
	}
	scopes := w.consoleScopes()
	if len(scopes) == 0 {
		off("no policy role grants an admin:* scope")
		return
	}
	base, err := adminBaseURL(w.cfg.Listen.Admin)
	if err != nil {
		off(err.Error())
		return
	}
	if !loopback.HTTPURL(base) {
		// Secure cookies are dropped on plain http off loopback.
		off("the admin listener is plain http on a non-loopback address")
		return
	}
	if err := w.seedConsoleClient(ctx, base+console.CallbackPath, scopes); err != nil {
		w.logger.Warn("admin console is off: its client cannot be registered", "component", "console", "err", err)
		off("its OAuth client cannot be registered")
		return
	}
	logger := w.logger.With("component", "console")
	ks := oidc.NewRemoteKeySet(context.WithoutCancel(ctx), w.issuer+"/jwks.json")
	idv := oidc.NewVerifier(w.issuer, ks, &oidc.Config{
		ClientID:             console.ClientID,
		SupportedSigningAlgs: []string{w.cfg.Keys.IDAlg},
		Now:                  w.now,
	})
	versions := consoleVersions{w.operatorPublisher()}
	au := audit.New(w.db, w.now)
	apps := consoleApplications{}
	apps.apps, apps.subs = w.applicationServices(w.registryClients(au), au)
	c, err := console.New(console.Options{
		Issuer:        w.issuer,
		BaseURL:       base,
		ClientSecret:  w.console.secret,
		Scopes:        scopes,
		Secure:        false, // loopback http, checked above
		Sealer:        w.console.sealer,
		Verifier:      o.Verifier,
		IDTokens:      idTokenVerifier{idv},
		Catalog:       consoleCatalog{w.db},
		Versions:      versions,
		Lifecycle:     versions,
		Clients:       o.Clients,
		Applications:  apps,
		Subscriptions: apps,
		Audit:         audit.New(w.db, w.now),
		Logger:        logger,
		Now:           w.now,
	})
	if err != nil {
		w.logger.Warn("admin console is off", "component", "console", "err", err)
		off("it could not be built")
		return
	}
	c.Register(mux)
	logger.Info("admin console", "url", base+console.Path+"/", "roles", scopes)
}

// seedConsoleClient makes the store hold the console's client as this
// node needs it; an unchanged client is left alone, so a restart writes
// (and audits) nothing.
func (w *wiring) seedConsoleClient(ctx context.Context, redirect string, scopes []string) error {
	spec := registry.ClientSpec{
		ID:           console.ClientID,
		Name:         "Portcullis console",
		GrantTypes:   []string{"authorization_code"},
		RedirectURIs: []string{redirect},
		Scopes:       append([]string{"openid", "profile"}, scopes...),
		Audience:     []string{admin.Audience},
		AuthMethod:   store.AuthSecretBasic,
		Format:       store.FormatJWT,
		SkipConsent:  true,
	}
	want, err := registry.NewClient(spec, w.now())
	if err != nil {
		return err
	}
	cur, err := w.db.GetClient(ctx, console.ClientID)
	if err == nil && slices.Equal(cur.RedirectURIs, want.RedirectURIs) && slices.Equal(cur.Scopes, want.Scopes) &&
		cur.SecretKeyID == w.keyID && hmac.Equal(cur.SecretDigest, clientauth.DigestSecret(w.secretKey, w.console.secret)) {
		return nil
	}
	key := registry.SecretKey{Key: w.secretKey, ID: w.keyID}
	clients := registry.NewClients(w.db, w.systemAuditor(), func(context.Context) (registry.SecretKey, error) { return key, nil }, w.now)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, _, err = clients.Put(ctx, spec, w.console.secret, true)
	return err
}

// adminBaseURL is the origin browsers reach the admin listener at; an
// unspecified address is reached through loopback.
func adminBaseURL(addr string) (string, error) {
	a, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("admin address %q: %w", addr, err)
	}
	return baseURL(a), nil
}

// idTokenVerifier checks the console's ID tokens with go-oidc (issuer,
// audience, expiry, signature against the issuer's JWKS).
type idTokenVerifier struct{ v *oidc.IDTokenVerifier }

func (i idTokenVerifier) VerifyIDToken(ctx context.Context, raw string) (console.IDToken, error) {
	t, err := i.v.Verify(ctx, raw)
	if err != nil {
		return console.IDToken{}, err
	}
	var claims struct {
		Username string `json:"preferred_username"`
	}
	if err := t.Claims(&claims); err != nil {
		return console.IDToken{}, err
	}
	return console.IDToken{Nonce: t.Nonce, Username: claims.Username}, nil
}
