package oauth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/clientcert"
	"github.com/portcullis/portcullis/internal/identity"
	"github.com/portcullis/portcullis/internal/keys"
	"github.com/portcullis/portcullis/internal/logtest"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/store"
)

// harness is a whole authorization server on a SQLite store in a temporary
// directory, driven through its http.Handler.
type harness struct {
	t         *testing.T
	srv       *Server
	db        *store.DB
	sessions  *identity.Sessions
	secretKey []byte
	logs      *logtest.Buffer
}

const harnessIssuer = "https://as.example"

// harnessOptions change what newHarness builds.
type harnessOptions struct {
	// store wraps the store the server reads (to make it fail); nil means
	// the store itself.
	store func(*store.DB) Store
	// sessionStore wraps the sessions' store; nil means the store itself.
	sessionStore func(*store.DB) identity.SessionStore
	// clientCAs and certs configure mutual TLS (RFC 8705) for both the
	// authenticator and the server.
	clientCAs *x509.CertPool
	certs     clientcert.Source
}

func newHarness(t *testing.T, cfg Config, ho harnessOptions) *harness {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "as.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	master := bytes.Repeat([]byte{9}, 32)
	km, err := keys.NewManager(db, master, keys.Config{}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := km.Init(ctx); err != nil {
		t.Fatal(err)
	}
	sealer, err := keys.NewSealer(master, keys.PurposeAuthorizeRequest)
	if err != nil {
		t.Fatal(err)
	}
	pages, err := identity.NewPages(nil)
	if err != nil {
		t.Fatal(err)
	}
	issuance, err := policy.Compile(policy.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	var st Store = db
	if ho.store != nil {
		st = ho.store(db)
	}
	var ss identity.SessionStore = db
	if ho.sessionStore != nil {
		ss = ho.sessionStore(db)
	}
	secretKey := keys.DeriveKey(master, keys.PurposeClientSecrets)
	logs := &logtest.Buffer{}
	sessions := identity.NewSessions(ss, identity.SessionConfig{Secure: true}, nil)
	if cfg.Issuer == "" {
		cfg.Issuer = harnessIssuer
	}
	srv, err := New(Options{
		Config: cfg,
		Store:  st,
		Keys:   km,
		Clients: clientauth.NewAuthenticator(db, secretKey, clientauth.Options{Issuer: cfg.Issuer,
			ClientCAs: ho.clientCAs, ClientCerts: ho.certs}),
		ClientCerts: ho.certs,
		Users:       identity.NewUsers(db, identity.NewHasher(1), nil),
		Sessions:    sessions,
		CSRF:        identity.NewCSRF(keys.DeriveKey(master, keys.PurposeCSRF), true),
		Pages:       pages,
		Policy:      issuance,
		Sealer:      sealer,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})).
			With("component", "oauth"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, srv: srv, db: db, sessions: sessions, secretKey: secretKey, logs: logs}
}

// client registers c, confidential with client_secret_basic, and returns
// its secret.
func (h *harness) client(c store.Client) string {
	h.t.Helper()
	secret, err := clientauth.GenerateSecret()
	if err != nil {
		h.t.Fatal(err)
	}
	c.AuthMethod = store.AuthSecretBasic
	c.SecretDigest = clientauth.DigestSecret(h.secretKey, secret)
	if c.AccessTokenFormat == "" {
		c.AccessTokenFormat = store.FormatOpaque
	}
	c.CreatedAt, c.UpdatedAt = time.Now(), time.Now()
	if err := h.db.CreateClient(context.Background(), c); err != nil {
		h.t.Fatal(err)
	}
	return secret
}

// user creates an active user and returns its id.
func (h *harness) user(name string) string {
	h.t.Helper()
	u, err := identity.NewUsers(h.db, identity.NewHasher(1), nil).Create(context.Background(), name, "correct horse battery", nil, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	return u.ID
}

// session starts a login session for subject and returns its cookie.
func (h *harness) session(subject string) *http.Cookie {
	h.t.Helper()
	rec := httptest.NewRecorder()
	if _, err := h.sessions.Start(context.Background(), rec, subject, time.Now().Add(-time.Minute)); err != nil {
		h.t.Fatal(err)
	}
	return rec.Result().Cookies()[0]
}

// do serves r and returns the recorded response.
func (h *harness) do(r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(rec, r)
	return rec
}

// token posts form to the token endpoint as client id and decodes the
// JSON answer.
func (h *harness) token(id, secret string, form url.Values) (int, map[string]any) {
	h.t.Helper()
	r := httptest.NewRequest(http.MethodPost, harnessIssuer+pathToken, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	rec := h.do(r)
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		h.t.Fatalf("token response %d is not JSON: %v: %s", rec.Code, err, rec.Body)
	}
	return rec.Code, m
}

// audienceOf returns the stored audience of an opaque access token.
func (h *harness) audienceOf(access any) []string {
	h.t.Helper()
	s, _ := access.(string)
	d := sha256.Sum256([]byte(s))
	tok, err := h.db.GetToken(context.Background(), d[:])
	if err != nil {
		h.t.Fatalf("stored token: %v", err)
	}
	return tok.Audience
}

// pkcePair returns a fixed verifier and its S256 challenge.
func pkcePair() (verifier, challenge string) {
	verifier = strings.Repeat("v", 43)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// authorizeURL is an authorization request of client id for scope, with
// extra parameters.
func authorizeURL(id, scope string, extra url.Values) string {
	_, challenge := pkcePair()
	q := url.Values{
		"response_type": {"code"}, "client_id": {id}, "redirect_uri": {"https://app.example/cb"},
		"scope": {scope}, "state": {"st"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}
	for k, v := range extra {
		q[k] = v
	}
	return harnessIssuer + pathAuthorize + "?" + q.Encode()
}

// redirectQuery returns the query of rec's redirect, failing the test
// when rec is not one.
func redirectQuery(t *testing.T, rec *httptest.ResponseRecorder) url.Values {
	t.Helper()
	if rec.Code != http.StatusFound && rec.Code != http.StatusSeeOther {
		t.Fatalf("status %d, want a redirect: %s", rec.Code, rec.Body)
	}
	u, err := url.Parse(rec.Header().Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}
