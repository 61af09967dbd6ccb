// Package clientauth authenticates OAuth clients at the token,
// introspection and revocation endpoints (RFC 6749 §2.3): client_secret_basic,
// client_secret_post, private_key_jwt (RFC 7523 §2.2, with jti replay
// protection), tls_client_auth and self_signed_tls_client_auth (RFC 8705
// §2: the TLS client certificate, against configured trust anchors or
// the client's registered x5c) and none for public clients.
//
// It must never log or return a presented secret or assertion, and every
// secret comparison is constant-time.
package clientauth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/portcullis/portcullis/internal/clientcert"
	"github.com/portcullis/portcullis/internal/store"
)

// Store is what authentication reads and records.
type Store interface {
	GetClient(ctx context.Context, id string) (store.Client, error)
	UseJTI(ctx context.Context, issuer, jti string, exp time.Time) error
}

// Error codes an *Error carries (RFC 6749 §5.2).
const (
	// CodeInvalidClient means the credentials were missing, wrong or of
	// the wrong method.
	CodeInvalidClient = "invalid_client"
	// CodeInvalidRequest means the request was malformed: several
	// methods, repeated parameters, credentials in the URI, oversized.
	CodeInvalidRequest = "invalid_request"
	// CodeServerError means the store could not be asked; the client's
	// credentials were neither accepted nor refused.
	CodeServerError = "server_error"
)

// Error is an authentication failure, ready to be written as an RFC 6749
// §5.2 error response.
type Error struct {
	// Code is "invalid_client" or "invalid_request"; "server_error" when
	// the store failed (see CodeServerError).
	Code string
	// Description is safe to show the client: it never echoes a secret.
	Description string
	// Basic is true when the client tried HTTP Basic, so the response must
	// be 401 with WWW-Authenticate: Basic (RFC 6749 §5.2).
	Basic bool
	// Cause is the internal reason, for the log only.
	Cause error
}

// Error returns the code and the client-safe description; the cause is
// left to Unwrap, so printing the error never reveals more than the client
// was told.
func (e *Error) Error() string { return e.Code + ": " + e.Description }

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Cause }

// Status is the HTTP status to answer with: 401 for invalid_client when
// the client tried HTTP Basic (and the response then needs
// WWW-Authenticate: Basic, RFC 6749 §5.2), 500 for server_error, else 400.
func (e *Error) Status() int {
	switch {
	case e.Code == CodeServerError:
		return http.StatusInternalServerError
	case e.Code == CodeInvalidClient && e.Basic:
		return http.StatusUnauthorized
	default:
		return http.StatusBadRequest
	}
}

// Descriptions shown to clients. They are constants so no input can ever
// reach a response; the specific reason goes to Error.Cause.
const (
	descFailed          = "client authentication failed"
	descMissing         = "client authentication is required"
	descMultiple        = "more than one client authentication method was used"
	descRepeated        = "a client authentication parameter was repeated"
	descInQuery         = "client credentials must be sent in the request body"
	descTooLarge        = "client credentials are too large"
	descAssertionType   = "unsupported client_assertion_type"
	descAssertionParams = "client_assertion and client_assertion_type must both be present"
	descAssertion       = "client assertion is invalid"
	descAssertionExp    = "client assertion is expired or not yet valid"
	descAssertionReplay = "client assertion was already used"
	descUnavailable     = "client authentication is temporarily unavailable"
)

// Size limits, applied before any decoding or parsing, so oversized input
// costs nothing.
const (
	maxClientIDLen      = 256
	maxSecretLen        = 512
	maxAuthHeaderLen    = 4 * (maxClientIDLen + maxSecretLen) // worst case: every byte percent-encoded, then base64
	maxAssertionLen     = 8 << 10
	maxAssertionTypeLen = 128
)

// Authenticator checks client credentials.
type Authenticator struct {
	st        Store
	secretKey []byte
	// issuer is the one audience a client assertion is meant to carry;
	// tokenEndpoint is accepted too only with legacyTokenEndpoint.
	issuer              string
	tokenEndpoint       string
	legacyTokenEndpoint bool
	now                 func() time.Time
	// dummyDigest stands in for the digest of an unknown client, so a
	// miss costs the same HMAC and comparison as a hit.
	dummyDigest []byte
	// decoys counts signature checks against a decoy key (see
	// decoyVerify); tests read it to see the costly path was taken.
	decoys atomic.Int64
	// previous accepts digests made under the previous master key during
	// a master-key rotation (AcceptPreviousKey); zero otherwise.
	previous PreviousKey
	// certs and clientCAs serve the mutual-TLS methods (mtls.go).
	certs     clientcert.Source
	clientCAs *x509.CertPool
}

// Options configure how an Authenticator checks client assertions
// (private_key_jwt).
type Options struct {
	// Issuer is the authorization server's issuer identifier (RFC 8414
	// §2), the audience a client assertion must carry, as a single
	// string (draft-ietf-oauth-rfc7523bis). Empty makes every assertion
	// fail: misconfiguration fails closed.
	Issuer string
	// TokenEndpoint is the token endpoint URL. It is accepted as an
	// assertion's audience only when LegacyTokenEndpointAudience is set.
	TokenEndpoint string
	// LegacyTokenEndpointAudience also accepts TokenEndpoint as the
	// audience (still a single string), for clients written to RFC 7523
	// §3 and OpenID Connect Core §9, which suggested it. The default,
	// false, follows draft-ietf-oauth-rfc7523bis: an endpoint-URL audience
	// is what the 2025 audience-injection attack exploits.
	LegacyTokenEndpointAudience bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ClientCerts says where a request's TLS client certificate comes
	// from for tls_client_auth and self_signed_tls_client_auth (RFC 8705
	// §2): the zero Source reads only the TLS connection.
	ClientCerts clientcert.Source
	// ClientCAs are the trust anchors of tls_client_auth certificates
	// (RFC 8705 §2.1). Nil makes every tls_client_auth fail; it does not
	// affect self_signed_tls_client_auth, which checks no chain.
	ClientCAs *x509.CertPool
}

// New returns an authenticator whose assertion audience is audiences[0],
// the issuer identifier; further entries are ignored, so the token
// endpoint URL is not accepted (use NewAuthenticator with
// Options.LegacyTokenEndpointAudience for that). secretKey keys the
// HMAC-SHA-256 digests of client secrets.
//
// An empty secretKey makes every secret-based authentication fail and no
// audiences make every assertion fail: misconfiguration fails closed. A nil
// now means time.Now.
func New(st Store, secretKey []byte, audiences []string, now func() time.Time) *Authenticator {
	o := Options{Now: now}
	if len(audiences) > 0 {
		o.Issuer = audiences[0]
	}
	return NewAuthenticator(st, secretKey, o)
}

// NewAuthenticator returns an authenticator reading clients from st.
// secretKey keys the HMAC-SHA-256 digests of client secrets; an empty one
// makes every secret-based authentication fail.
func NewAuthenticator(st Store, secretKey []byte, o Options) *Authenticator {
	if o.Now == nil {
		o.Now = time.Now
	}
	dummy := make([]byte, sha256.Size)
	rand.Read(dummy) // crypto/rand.Read never fails (Go 1.24+).
	return &Authenticator{
		st:                  st,
		secretKey:           slices.Clone(secretKey),
		issuer:              o.Issuer,
		tokenEndpoint:       o.TokenEndpoint,
		legacyTokenEndpoint: o.LegacyTokenEndpointAudience,
		now:                 o.Now,
		dummyDigest:         dummy,
		certs:               o.ClientCerts,
		clientCAs:           o.ClientCAs,
	}
}

// Authenticate identifies the client of r from its Authorization header or
// its form (r.ParseForm must have run) and checks its credentials against
// the client's registered method. Exactly one method may be used (RFC 6749
// §2.3). On failure the error is an *Error.
//
// Credentials are read from the request body only (r.PostForm): RFC 6749
// §2.3.1 forbids them in the URI, and a request that puts them there is
// refused.
func (a *Authenticator) Authenticate(ctx context.Context, r *http.Request) (store.Client, error) {
	in, err := readCredentials(r)
	if err != nil {
		return store.Client{}, err
	}
	switch in.method {
	case store.AuthSecretBasic, store.AuthSecretPost:
		return a.authenticateSecret(ctx, in)
	case store.AuthPrivateKeyJWT:
		return a.authenticateAssertion(ctx, in)
	case store.AuthNone:
		// A client_id alone: a public client, or one that authenticates
		// with its TLS certificate (RFC 8705 §2), which the registration
		// decides.
		return a.authenticateClientID(ctx, r, in)
	default:
		return store.Client{}, &Error{Code: CodeInvalidClient, Description: descMissing,
			Cause: errors.New("no client authentication or client_id in the request")}
	}
}

// authenticateSecret checks client_secret_basic and client_secret_post.
// The HMAC and comparison run whether or not the client exists, so the
// response time does not tell which client ids are registered.
func (a *Authenticator) authenticateSecret(ctx context.Context, in credentials) (store.Client, error) {
	fail := func(cause error) error {
		return &Error{Code: CodeInvalidClient, Description: descFailed, Basic: in.basic, Cause: cause}
	}
	presented := DigestSecret(a.secretKey, in.secret)
	presentedPrevious := a.previousDigest(in.secret)
	c, err := a.st.GetClient(ctx, in.clientID)
	if err != nil {
		hmac.Equal(presented, a.dummyDigest)
		if errors.Is(err, store.ErrNotFound) {
			return store.Client{}, fail(errors.New("unknown client"))
		}
		return store.Client{}, unavailable(in.basic, err)
	}
	want := c.SecretDigest
	if len(want) == 0 {
		want = a.dummyDigest
	}
	match := hmac.Equal(presented, want)
	matchPrevious := hmac.Equal(presentedPrevious, want)
	switch {
	case len(a.secretKey) == 0:
		return store.Client{}, fail(errors.New("authenticator has no secret key"))
	case c.AuthMethod != in.method:
		return store.Client{}, fail(errors.New("client is registered for " + c.AuthMethod + ", used " + in.method))
	case len(c.SecretDigest) == 0:
		return store.Client{}, fail(errors.New("client has no secret"))
	case !match && !matchPrevious:
		return store.Client{}, fail(errors.New("wrong client secret"))
	case !match:
		a.redigest(ctx, c, presented)
	}
	return c, nil
}

// authenticateClientID accepts a public client that names itself with
// client_id and registered no authentication (RFC 6749 §2.1, RFC 7591 §2
// "none"), and hands a client registered for a mutual-TLS method to
// authenticateCert (RFC 8705 §2).
func (a *Authenticator) authenticateClientID(ctx context.Context, r *http.Request, in credentials) (store.Client, error) {
	c, err := a.st.GetClient(ctx, in.clientID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			a.decoyChain(r)
			return store.Client{}, &Error{Code: CodeInvalidClient, Description: descFailed, Cause: errors.New("unknown client")}
		}
		return store.Client{}, unavailable(false, err)
	}
	if IsTLSMethod(c.AuthMethod) {
		return a.authenticateCert(r, c)
	}
	if c.AuthMethod != store.AuthNone {
		a.decoyChain(r)
		// A confidential client that sent no credentials.
		return store.Client{}, &Error{Code: CodeInvalidClient, Description: descFailed,
			Cause: errors.New("client is registered for " + c.AuthMethod + ", sent no credentials")}
	}
	return c, nil
}

// unavailable reports a store failure: neither accept nor refuse the
// credentials, and let the endpoint answer 500.
func unavailable(basic bool, err error) error {
	return &Error{Code: CodeServerError, Description: descUnavailable, Basic: basic, Cause: err}
}

// DigestSecret returns the HMAC-SHA-256 of secret under key: what the store
// keeps for a client secret.
func DigestSecret(key []byte, secret string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(secret))
	return m.Sum(nil)
}

// GenerateSecret returns a new client secret of 256 random bits,
// base64url-encoded.
func GenerateSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
