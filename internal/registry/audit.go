package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/identity"
	"github.com/portcullis/portcullis/internal/store"
)

// Auditor records every mutation of the registry. Apply must run changes
// and append rec in one transaction, so a mutation and its record are
// committed together or not at all: a change the trail could not record
// does not happen (*audit.Auditor does this).
type Auditor interface {
	Apply(ctx context.Context, rec audit.Record, changes ...store.Change) error
}

var _ Auditor = (*audit.Auditor)(nil)

// Actions recorded in the audit trail.
const (
	ActionClientCreate       = "client.create"
	ActionClientDelete       = "client.delete"
	ActionClientRotateSecret = "client.rotate-secret"
	ActionClientPut          = "client.put"
	ActionUserCreate         = "user.create"
	ActionUserDelete         = "user.delete"
	ActionUserSetPassword    = "user.set-password"
	ActionUserPut            = "user.put"
)

// Audit target types.
const (
	TargetClient = "client"
	// TargetUser records are named by username, which is how operators
	// know users; the state holds the user's id.
	TargetUser = "user"
)

// clientState is how a client appears in Before and After. It holds
// every field an operator may want to compare, but never the secret
// digest: only whether there is one (audit.Redact would remove it, and
// the registry does not hand it over in the first place). The JWKS is
// recorded by its SHA-256, which tells a change without copying keys.
type clientState struct {
	ID           string   `json:"client_id"`
	Name         string   `json:"client_name"`
	SecretDigest string   `json:"secret_digest,omitempty"`
	SecretKeyID  string   `json:"secret_key_id,omitempty"`
	AuthMethod   string   `json:"token_endpoint_auth_method"`
	GrantTypes   []string `json:"grant_types"`
	RedirectURIs []string `json:"redirect_uris"`
	// PostLogoutRedirectURIs is omitted when empty, so the records of
	// clients without any read as they did before the field existed.
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
	Scopes                 []string `json:"scopes"`
	Audience               []string `json:"audience"`
	AccessTokenFormat      string   `json:"access_token_format"`
	JWKSSHA256             string   `json:"jwks_sha256,omitempty"`
	// The RFC 8705 metadata, omitted when unset so the records of
	// clients without it read as they did before it existed.
	TLSClientAuthSubjectDN string    `json:"tls_client_auth_subject_dn,omitempty"`
	TLSClientAuthSANDNS    string    `json:"tls_client_auth_san_dns,omitempty"`
	TLSClientAuthSANURI    string    `json:"tls_client_auth_san_uri,omitempty"`
	TLSClientAuthSANIP     string    `json:"tls_client_auth_san_ip,omitempty"`
	TLSClientAuthSANEmail  string    `json:"tls_client_auth_san_email,omitempty"`
	CertBoundAccessTokens  bool      `json:"tls_client_certificate_bound_access_tokens,omitempty"`
	Introspect             bool      `json:"introspect"`
	SkipConsent            bool      `json:"skip_consent"`
	AccessTokenTTL         string    `json:"access_token_ttl"`
	RefreshTokenTTL        string    `json:"refresh_token_ttl"`
	CreatedAt              time.Time `json:"created_at"`
	UpdatedAt              time.Time `json:"updated_at"`
}

func newClientState(c *store.Client) (json.RawMessage, error) {
	if c == nil {
		return nil, nil
	}
	st := clientState{
		ID: c.ID, Name: c.Name, SecretKeyID: c.SecretKeyID, AuthMethod: c.AuthMethod,
		GrantTypes: nonNil(c.GrantTypes), RedirectURIs: nonNil(c.RedirectURIs),
		PostLogoutRedirectURIs: c.PostLogoutRedirectURIs,
		Scopes:                 nonNil(c.Scopes), Audience: nonNil(c.Audience),
		AccessTokenFormat: c.AccessTokenFormat, Introspect: c.CanIntrospect, SkipConsent: c.SkipConsent,
		TLSClientAuthSubjectDN: c.TLSClientAuth.SubjectDN, TLSClientAuthSANDNS: c.TLSClientAuth.SANDNS,
		TLSClientAuthSANURI: c.TLSClientAuth.SANURI, TLSClientAuthSANIP: c.TLSClientAuth.SANIP,
		TLSClientAuthSANEmail: c.TLSClientAuth.SANEmail, CertBoundAccessTokens: c.CertBoundAccessTokens,
		AccessTokenTTL: c.AccessTokenTTL.String(), RefreshTokenTTL: c.RefreshTokenTTL.String(),
		CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC(),
	}
	if len(c.SecretDigest) > 0 {
		st.SecretDigest = audit.Redacted
	}
	if len(c.JWKS) > 0 {
		sum := sha256.Sum256(c.JWKS)
		st.JWKSSHA256 = hex.EncodeToString(sum[:])
	}
	return audit.State(st)
}

// userState is how a user appears in Before and After: never the
// password hash, only whether there is one.
type userState struct {
	ID           string            `json:"id"`
	Username     string            `json:"username"`
	PasswordHash string            `json:"password_hash,omitempty"`
	Roles        []string          `json:"roles"`
	Attrs        map[string]string `json:"attrs"`
	Disabled     bool              `json:"disabled"`
	CreatedAt    time.Time         `json:"created_at"`
	UpdatedAt    time.Time         `json:"updated_at"`
}

func newUserState(u *store.User) (json.RawMessage, error) {
	if u == nil {
		return nil, nil
	}
	st := userState{
		ID: u.ID, Username: u.Username, Roles: nonNil(u.Roles), Attrs: u.Attrs, Disabled: u.Disabled,
		CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC(),
	}
	if st.Attrs == nil {
		st.Attrs = map[string]string{}
	}
	if u.PasswordHash != "" {
		st.PasswordHash = audit.Redacted
	}
	return audit.State(st)
}

// record builds the audit record of action on target from the states
// around it.
func record[T any](action, targetType, targetID string, state func(*T) (json.RawMessage, error), before, after *T) (audit.Record, error) {
	rec := audit.Record{Action: action, Target: audit.Target{Type: targetType, ID: targetID}}
	var err error
	if rec.Before, err = state(before); err != nil {
		return audit.Record{}, err
	}
	if rec.After, err = state(after); err != nil {
		return audit.Record{}, err
	}
	return rec, nil
}

// userWriter is the identity.UserStore that identity's user service
// writes through for one audited mutation: reads go to the store, and
// the single write identity makes (after validating and hashing, which
// stay identity's) becomes a store.Change applied with its audit record
// in one transaction. Building identity's service over it per mutation
// keeps the password rules and hashing in identity and still records the
// write atomically.
type userWriter struct {
	identity.UserStore
	audit  Auditor
	action string
	// before is the user as identity read it, for the record.
	before *store.User
}

// errUnexpectedWrite: identity made a write the registry did not ask for.
var errUnexpectedWrite = errors.New("registry: unexpected user write")

// GetUserByUsername reads through and remembers the user as before.
func (w *userWriter) GetUserByUsername(ctx context.Context, username string) (store.User, error) {
	u, err := w.UserStore.GetUserByUsername(ctx, username)
	if err == nil {
		w.before = &u
	}
	return u, err
}

// CreateUser applies the create with its record.
func (w *userWriter) CreateUser(ctx context.Context, u store.User) error {
	rec, err := record(w.action, TargetUser, u.Username, newUserState, nil, &u)
	if err != nil {
		return err
	}
	return w.audit.Apply(ctx, rec, store.CreateUserChange(u))
}

// UpdateUser applies the update with its record.
func (w *userWriter) UpdateUser(ctx context.Context, u store.User) error {
	rec, err := record(w.action, TargetUser, u.Username, newUserState, w.before, &u)
	if err != nil {
		return err
	}
	return w.audit.Apply(ctx, rec, store.UpdateUserChange(u))
}

// DeleteUser is never called by the identity operations the registry
// uses; refusing keeps an unrecorded delete impossible.
func (w *userWriter) DeleteUser(context.Context, string) error { return errUnexpectedWrite }
