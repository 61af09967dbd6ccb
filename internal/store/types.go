package store

import (
	"errors"
	"time"
)

// Errors returned by every method of *DB. Callers test them with errors.Is.
var (
	// ErrNotFound means the record does not exist (or has been purged).
	ErrNotFound = errors.New("store: not found")
	// ErrConflict means a record with the same primary key already exists.
	ErrConflict = errors.New("store: already exists")
	// ErrAlreadyUsed means a single-use record (authorization code) was
	// consumed before.
	ErrAlreadyUsed = errors.New("store: already used")
	// ErrWrongClient means a code or refresh token exists but is bound to
	// another client; it was left untouched.
	ErrWrongClient = errors.New("store: bound to another client")
	// ErrReplay means a one-time identifier (a client assertion jti) was seen
	// before.
	ErrReplay = errors.New("store: replayed identifier")
	// ErrChanged means a compare-and-swap write (Rekey,
	// RedigestClientSecret) found the records changed since the caller
	// read them; nothing was written.
	ErrChanged = errors.New("store: changed since read")
)

// Token endpoint authentication methods (RFC 7591 §2).
const (
	AuthSecretBasic   = "client_secret_basic"
	AuthSecretPost    = "client_secret_post"
	AuthPrivateKeyJWT = "private_key_jwt"
	AuthNone          = "none"
	// AuthTLSClient is RFC 8705 §2.1: a certificate issued by a trusted
	// CA whose subject matches the client's TLSClientAuth.
	AuthTLSClient = "tls_client_auth"
	// AuthSelfSignedTLSClient is RFC 8705 §2.2: a certificate registered
	// in the client's JWKS (x5c).
	AuthSelfSignedTLSClient = "self_signed_tls_client_auth"
)

// Access token formats a client may be given.
const (
	FormatOpaque = "opaque"
	FormatJWT    = "jwt"
	FormatSplit  = "split"
)

// Token kinds.
const (
	KindAccess  = "access"
	KindRefresh = "refresh"
)

// Client is a registered OAuth client.
type Client struct {
	ID   string
	Name string
	// SecretDigest is the HMAC-SHA-256 of the client secret under the
	// server's secret key; empty for clients that use no secret.
	SecretDigest []byte
	// SecretKeyID is the id of the master key (keys.KeyID) whose derived
	// key made SecretDigest, so a master-key rotation can tell which
	// digests still need the previous key; empty when unknown (a row
	// written before key ids were recorded) or when there is no secret.
	SecretKeyID string
	// AuthMethod is one of the Auth* constants.
	AuthMethod   string
	GrantTypes   []string
	RedirectURIs []string
	// PostLogoutRedirectURIs are where the end-session endpoint may send
	// the browser after a logout (OpenID Connect RP-Initiated Logout 1.0
	// §3.1), compared verbatim; nil or empty means none.
	PostLogoutRedirectURIs []string
	// Scopes the client may ever be granted.
	Scopes []string
	// Audience is the default audience of its access tokens when the
	// request names no resource (RFC 8707).
	Audience []string
	// AccessTokenFormat is one of the Format* constants.
	AccessTokenFormat string
	// JWKS holds the client's public keys (a JWK Set, JSON) for
	// private_key_jwt; empty otherwise.
	JWKS []byte
	// TLSClientAuth names the certificate a tls_client_auth client
	// presents (RFC 8705 §2.1.2); zero for every other method.
	TLSClientAuth TLSClientAuth
	// CertBoundAccessTokens is RFC 8705 §3.4's
	// tls_client_certificate_bound_access_tokens: the client's access
	// tokens carry cnf x5t#S256 of the certificate it called with, and
	// it may not get one without presenting a certificate.
	CertBoundAccessTokens bool
	// CanIntrospect allows the client to call the introspection endpoint.
	CanIntrospect bool
	// SkipConsent marks a first-party client whose users are not asked for
	// consent.
	SkipConsent bool
	// AccessTokenTTL and RefreshTokenTTL override the server defaults when
	// non-zero.
	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// TLSClientAuth is the client metadata of RFC 8705 §2.1.2: exactly one
// field is set for a tls_client_auth client, and the certificate it
// presents must carry that value. Empty strings mean "not registered".
type TLSClientAuth struct {
	// SubjectDN is tls_client_auth_subject_dn, in RFC 4514 string form.
	SubjectDN string
	// SANDNS is tls_client_auth_san_dns: a dNSName SAN entry.
	SANDNS string
	// SANURI is tls_client_auth_san_uri: a uniformResourceIdentifier
	// SAN entry.
	SANURI string
	// SANIP is tls_client_auth_san_ip: an iPAddress SAN entry, in the
	// textual form of RFC 4291 §2.2 (IPv6) or dotted decimal (IPv4).
	SANIP string
	// SANEmail is tls_client_auth_san_email: an rfc822Name SAN entry.
	SANEmail string
}

// IsZero reports whether no field is set.
func (t TLSClientAuth) IsZero() bool { return t == TLSClientAuth{} }

// MasterKeyCheck identifies the master key of record: the key the
// store's sealed values and client-secret digests are made with. The store
// holds at most one.
type MasterKeyCheck struct {
	// KeyID is a short, public id of the key (keys.KeyID), for messages.
	KeyID string
	// Value is a MAC of a fixed label under a key derived from the master
	// key (keys.NewKeyCheck); only the same master key reproduces it.
	Value     []byte
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Reseal is one signing key's private half sealed again under a new
// master key: Old is the sealed value the store must still hold, New
// replaces it.
type Reseal struct {
	KID string
	Old []byte
	New []byte
}

// User is an end user who logs in at the authorization endpoint.
type User struct {
	// ID is the stable subject identifier (the "sub" claim).
	ID       string
	Username string
	// PasswordHash is an argon2id PHC string; empty means login disabled.
	PasswordHash string
	Roles        []string
	Attrs        map[string]string
	Disabled     bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// SigningKey is one asymmetric key pair of the authorization server.
type SigningKey struct {
	KID string
	// Alg is the JWS algorithm: ES256, RS256, PS256 or EdDSA.
	Alg string
	// Use is what the key signs: "access" (access tokens, phantom tokens)
	// or "id" (ID tokens).
	Use string
	// PrivateSealed is the private key (PKCS #8 DER) sealed with the master
	// key.
	PrivateSealed []byte
	// PublicJWK is the public key as a JWK (JSON).
	PublicJWK []byte
	CreatedAt time.Time
	// ActivatedAt is when the key started signing; zero while it is only
	// published as the next key.
	ActivatedAt time.Time
	// RetiredAt is when the key stopped signing; zero while it signs or
	// waits. A retired key stays published until every token it signed
	// has expired.
	RetiredAt time.Time
}

// Token is an issued access or refresh token, stored under the SHA-256
// digest of what the client holds (the opaque string, the JWT, or the
// signature part of a split token).
type Token struct {
	Digest []byte
	// Kind is KindAccess or KindRefresh.
	Kind string
	// Format is the access token format (Format*); FormatOpaque for refresh
	// tokens.
	Format   string
	JTI      string
	ClientID string
	// Subject is the user id; for client credentials, the client id.
	Subject  string
	Scope    string
	Audience []string
	// Claims is a JSON object of extra claims (roles, chosen attributes)
	// carried into phantom tokens and introspection responses.
	Claims []byte
	// Payload is the header.payload part of a split token, kept so the
	// gateway can reassemble the JWT; empty for other formats.
	Payload string
	// GrantID ties together every token issued from one authorization
	// (the code and all rotations of its refresh tokens), so reuse of a
	// code or a rotated refresh token revokes them all.
	GrantID   string
	AuthTime  time.Time
	IssuedAt  time.Time
	ExpiresAt time.Time
	// UsedAt is when a refresh token was exchanged; zero while unused.
	UsedAt  time.Time
	Revoked bool
}

// AuthCode is an authorization code (RFC 6749 §4.1.2), stored by digest.
type AuthCode struct {
	Digest              []byte
	ClientID            string
	Subject             string
	RedirectURI         string
	Scope               string
	Audience            []string
	Nonce               string
	CodeChallenge       string
	CodeChallengeMethod string
	GrantID             string
	AuthTime            time.Time
	ExpiresAt           time.Time
	// UsedAt is when the code was redeemed; zero while unused.
	UsedAt time.Time
	// DPoPJKT is the dpop_jkt of the authorization request (RFC 9449
	// §10): the JWK thumbprint the proof of the token request must be
	// signed with. Empty when the code is not bound to a key.
	DPoPJKT string
}

// Session is a browser login session at the authorization server, stored
// by the digest of its cookie value.
type Session struct {
	Digest    []byte
	Subject   string
	AuthTime  time.Time
	ExpiresAt time.Time
}

// Consent records the scopes a user granted a client.
type Consent struct {
	Subject   string
	ClientID  string
	Scopes    []string
	GrantedAt time.Time
}
