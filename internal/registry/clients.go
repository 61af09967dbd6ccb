package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/store"
)

// ClientStore is the part of the store the client service reads; its
// writes go through the Auditor, with their audit records.
type ClientStore interface {
	GetClient(ctx context.Context, id string) (store.Client, error)
	ListClients(ctx context.Context) ([]store.Client, error)
}

var _ ClientStore = (*store.DB)(nil)

// SecretKey is the key client secrets are digested with, and the id of
// the master key it is derived from (keys.KeyID), which is recorded with
// every digest so a master-key rotation can tell old digests from new.
type SecretKey struct {
	Key []byte
	ID  string
}

// Clients registers and manages OAuth clients. Safe for concurrent use.
type Clients struct {
	st    ClientStore
	audit Auditor
	// secretKey returns the key of client-secret digests. It is a
	// function so that commands which never touch a secret (list, show,
	// delete) work without the master key.
	secretKey func(ctx context.Context) (SecretKey, error)
	now       func() time.Time
}

// NewClients returns the client service over st; every mutation is
// written through au with its audit record, in one transaction. secretKey
// yields the key client secrets are digested with, as the server derives
// it; now is the clock (nil means time.Now).
func NewClients(st ClientStore, au Auditor, secretKey func(ctx context.Context) (SecretKey, error), now func() time.Time) *Clients {
	if now == nil {
		now = time.Now
	}
	return &Clients{st: st, audit: au, secretKey: secretKey, now: now}
}

// apply writes change with the audit record of action on the client
// around it; before or after is nil for a create or a delete.
func (s *Clients) apply(ctx context.Context, action string, before, after *store.Client, change store.Change) error {
	id := ""
	switch {
	case after != nil:
		id = after.ID
	case before != nil:
		id = before.ID
	}
	rec, err := record(action, TargetClient, id, newClientState, before, after)
	if err != nil {
		return err
	}
	return s.audit.Apply(ctx, rec, change)
}

// Create validates spec, stores the client and returns it with its
// one-time secret ("" for methods without one). A spec error is an
// *InvalidClientError; an existing id wraps ErrExists.
func (s *Clients) Create(ctx context.Context, spec ClientSpec) (store.Client, string, error) {
	c, err := NewClient(spec, s.now())
	if err != nil {
		return store.Client{}, "", err
	}
	secret, err := s.issue(ctx, &c)
	if err != nil {
		return store.Client{}, "", err
	}
	if err := s.apply(ctx, ActionClientCreate, nil, &c, store.CreateClientChange(c)); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return store.Client{}, "", exists("client", c.ID)
		}
		return store.Client{}, "", fmt.Errorf("create client: %w", err)
	}
	return c, secret, nil
}

// Get returns the client id; an unknown id wraps ErrNotFound.
func (s *Clients) Get(ctx context.Context, id string) (store.Client, error) {
	c, err := s.st.GetClient(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Client{}, notFound("client", id)
	}
	if err != nil {
		return store.Client{}, fmt.Errorf("get client: %w", err)
	}
	return c, nil
}

// List returns every client.
func (s *Clients) List(ctx context.Context) ([]store.Client, error) {
	list, err := s.st.ListClients(ctx)
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	return list, nil
}

// Delete removes the client with every token, code and consent of it.
func (s *Clients) Delete(ctx context.Context, id string) error {
	c, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	err = s.apply(ctx, ActionClientDelete, &c, nil, store.DeleteClientChange(id))
	if errors.Is(err, store.ErrNotFound) {
		return notFound("client", id)
	}
	if err != nil {
		return fmt.Errorf("delete client: %w", err)
	}
	return nil
}

// RotateSecret replaces the client's secret and returns the new one. The
// old secret stops working at once.
func (s *Clients) RotateSecret(ctx context.Context, id string) (string, error) {
	c, err := s.Get(ctx, id)
	if err != nil {
		return "", err
	}
	if !UsesSecret(c.AuthMethod) {
		return "", fmt.Errorf("client %q authenticates with %s: it has no secret to rotate", c.ID, c.AuthMethod)
	}
	before := c
	secret, err := s.issue(ctx, &c)
	if err != nil {
		return "", err
	}
	c.UpdatedAt = s.now()
	if err := s.apply(ctx, ActionClientRotateSecret, &before, &c, store.UpdateClientChange(c)); err != nil {
		return "", fmt.Errorf("update client: %w", err)
	}
	return secret, nil
}

// Put makes the store hold the client of spec, for seeding a known
// installation (the demo). A missing client is created; an existing one is
// replaced only when replace is set, keeping its creation time. secret is
// the client's known secret; "" issues a new one when the method uses a
// secret. It returns the secret in force ("" when none was set here).
func (s *Clients) Put(ctx context.Context, spec ClientSpec, secret string, replace bool) (store.Client, string, error) {
	c, err := NewClient(spec, s.now())
	if err != nil {
		return store.Client{}, "", err
	}
	switch {
	case !UsesSecret(c.AuthMethod):
		secret = ""
	case secret == "":
		if secret, err = s.issue(ctx, &c); err != nil {
			return store.Client{}, "", err
		}
	default:
		key, err := s.secretKey(ctx)
		if err != nil {
			return store.Client{}, "", err
		}
		c.SecretDigest = clientauth.DigestSecret(key.Key, secret)
		c.SecretKeyID = key.ID
	}
	old, err := s.st.GetClient(ctx, c.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if err := s.apply(ctx, ActionClientPut, nil, &c, store.CreateClientChange(c)); err != nil {
			return store.Client{}, "", fmt.Errorf("put client %s: %w", c.ID, err)
		}
		return c, secret, nil
	case err != nil:
		return store.Client{}, "", fmt.Errorf("put client %s: %w", c.ID, err)
	case !replace:
		return old, secret, nil
	}
	c.CreatedAt = old.CreatedAt
	if err := s.apply(ctx, ActionClientPut, &old, &c, store.UpdateClientChange(c)); err != nil {
		return store.Client{}, "", fmt.Errorf("put client %s: %w", c.ID, err)
	}
	return c, secret, nil
}

func (s *Clients) issue(ctx context.Context, c *store.Client) (string, error) {
	if !UsesSecret(c.AuthMethod) {
		c.SecretDigest, c.SecretKeyID = nil, ""
		return "", nil
	}
	key, err := s.secretKey(ctx)
	if err != nil {
		return "", err
	}
	return IssueSecret(c, key)
}

// ClientInfo is how a client is shown to operators and developers (RFC
// 7591 §2 names where one exists). It never holds the secret digest;
// ClientSecret is set only in the answer of create and rotate-secret.
type ClientInfo struct {
	ClientID                string   `json:"client_id"`
	ClientSecret            string   `json:"client_secret,omitempty"`
	Name                    string   `json:"client_name"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	GrantTypes              []string `json:"grant_types"`
	RedirectURIs            []string `json:"redirect_uris"`
	PostLogoutRedirectURIs  []string `json:"post_logout_redirect_uris"`
	Scope                   string   `json:"scope"`
	Audience                []string `json:"audience"`
	AccessTokenFormat       string   `json:"access_token_format"`
	Introspect              bool     `json:"introspect"`
	SkipConsent             bool     `json:"skip_consent"`
	HasJWKS                 bool     `json:"has_jwks"`
	// The RFC 8705 metadata: the subject of a tls_client_auth client
	// (one set, the rest empty and omitted) and whether its access
	// tokens are certificate-bound.
	TLSClientAuthSubjectDN string    `json:"tls_client_auth_subject_dn,omitempty"`
	TLSClientAuthSANDNS    string    `json:"tls_client_auth_san_dns,omitempty"`
	TLSClientAuthSANURI    string    `json:"tls_client_auth_san_uri,omitempty"`
	TLSClientAuthSANIP     string    `json:"tls_client_auth_san_ip,omitempty"`
	TLSClientAuthSANEmail  string    `json:"tls_client_auth_san_email,omitempty"`
	CertBoundAccessTokens  bool      `json:"tls_client_certificate_bound_access_tokens"`
	CreatedAt              time.Time `json:"created_at"`
	UpdatedAt              time.Time `json:"updated_at"`
}

// NewClientInfo describes c; secret is the one-time secret to show, or "".
func NewClientInfo(c store.Client, secret string) ClientInfo {
	return ClientInfo{
		ClientID:                c.ID,
		ClientSecret:            secret,
		Name:                    c.Name,
		TokenEndpointAuthMethod: c.AuthMethod,
		GrantTypes:              nonNil(c.GrantTypes),
		RedirectURIs:            nonNil(c.RedirectURIs),
		PostLogoutRedirectURIs:  nonNil(c.PostLogoutRedirectURIs),
		Scope:                   strings.Join(c.Scopes, " "),
		Audience:                nonNil(c.Audience),
		AccessTokenFormat:       c.AccessTokenFormat,
		Introspect:              c.CanIntrospect,
		SkipConsent:             c.SkipConsent,
		HasJWKS:                 len(c.JWKS) > 0,
		TLSClientAuthSubjectDN:  c.TLSClientAuth.SubjectDN,
		TLSClientAuthSANDNS:     c.TLSClientAuth.SANDNS,
		TLSClientAuthSANURI:     c.TLSClientAuth.SANURI,
		TLSClientAuthSANIP:      c.TLSClientAuth.SANIP,
		TLSClientAuthSANEmail:   c.TLSClientAuth.SANEmail,
		CertBoundAccessTokens:   c.CertBoundAccessTokens,
		CreatedAt:               c.CreatedAt,
		UpdatedAt:               c.UpdatedAt,
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
