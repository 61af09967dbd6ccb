package registry

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/loopback"
	"github.com/portcullis/portcullis/internal/printable"
	"github.com/portcullis/portcullis/internal/scope"
	"github.com/portcullis/portcullis/internal/store"
)

// Grant types a client may be registered for.
const (
	GrantClientCredentials = "client_credentials"
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	// GrantTokenExchange is RFC 8693's; the server accepts it only when
	// token_exchange is enabled, and only as its policy allows.
	GrantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
)

// Limits on what an operator may register; generous, but bounded so a
// typo or a script gone wrong cannot store megabytes.
const (
	maxClientIDLen    = 128
	maxClientNameLen  = 200
	maxURIs           = 32
	maxURILen         = 2048
	maxScopes         = 128
	maxAudienceLen    = 512
	maxJWKSBytes      = 64 << 10
	generatedIDBytes  = 16
	clientIDCharsHelp = "letters, digits and . _ ~ -"
)

// TLSClientAuth is the certificate subject a tls_client_auth client
// registers (RFC 8705 §2.1.2), for callers that do not reach the store.
type TLSClientAuth = store.TLSClientAuth

// ClientSpec is what an operator asks for when registering a client.
type ClientSpec struct {
	// ID is the client_id; empty means a random one.
	ID string
	// Name is shown on the consent page; empty means the ID.
	Name       string
	GrantTypes []string
	// RedirectURIs are compared verbatim at the authorization endpoint.
	RedirectURIs []string
	// PostLogoutRedirectURIs are where the end-session endpoint may send
	// the browser after a logout (OpenID Connect RP-Initiated Logout 1.0
	// §3.1), compared verbatim; the same rules as RedirectURIs.
	PostLogoutRedirectURIs []string
	// Scopes may each hold several space-separated scopes.
	Scopes   []string
	Audience []string
	// AuthMethod is a store.Auth* constant; empty means
	// client_secret_basic, or none for a public client.
	AuthMethod string
	// Public marks a client that cannot keep a secret (an SPA, a native
	// app): it authenticates with nothing but PKCE.
	Public bool
	// Format is the access token format; empty means opaque.
	Format string
	// JWKS is the client's public JWK Set (clientJWKS): signing keys
	// for private_key_jwt and signed requests, encryption keys for
	// response fields encrypted to the client. Empty means none;
	// private_key_jwt needs one.
	JWKS []byte
	// TLSClientAuth is the certificate subject of a tls_client_auth
	// client (RFC 8705 §2.1.2): exactly one field set. It must be zero
	// for every other method.
	TLSClientAuth TLSClientAuth
	// CertBoundAccessTokens binds the client's access tokens to its TLS
	// client certificate (RFC 8705 §3.4); any client may ask for it.
	CertBoundAccessTokens bool
	CanIntrospect         bool
	SkipConsent           bool
}

// InvalidClientError says which part of a ClientSpec is wrong and why.
type InvalidClientError struct {
	// Field is the command line flag of the bad value ("redirect-uri").
	Field  string
	Reason string
}

// Error names the flag and the reason; it quotes only what the operator
// typed, never a secret.
func (e *InvalidClientError) Error() string { return "invalid --" + e.Field + ": " + e.Reason }

func invalid(field, format string, args ...any) error {
	return &InvalidClientError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// NewClient validates spec and returns the client to store, without a
// secret (IssueSecret adds one). Every error is an *InvalidClientError.
func NewClient(spec ClientSpec, now time.Time) (store.Client, error) {
	c := store.Client{
		ID:                    spec.ID,
		Name:                  strings.TrimSpace(spec.Name),
		AccessTokenFormat:     spec.Format,
		CertBoundAccessTokens: spec.CertBoundAccessTokens,
		CanIntrospect:         spec.CanIntrospect,
		SkipConsent:           spec.SkipConsent,
		CreatedAt:             now,
		UpdatedAt:             now,
	}
	if c.ID == "" {
		id, err := randomClientID()
		if err != nil {
			return store.Client{}, err
		}
		c.ID = id
	}
	if err := checkClientID(c.ID); err != nil {
		return store.Client{}, err
	}
	if c.Name == "" {
		c.Name = c.ID
	}
	if len(c.Name) > maxClientNameLen || strings.ContainsFunc(c.Name, printable.IsControl) {
		return store.Client{}, invalid("name", "at most %d printable characters", maxClientNameLen)
	}

	var err error
	if c.AuthMethod, err = authMethod(spec); err != nil {
		return store.Client{}, err
	}
	if c.GrantTypes, err = grantTypes(spec); err != nil {
		return store.Client{}, err
	}
	if c.RedirectURIs, err = redirectURIs(spec.RedirectURIs, spec.Public, c.GrantTypes); err != nil {
		return store.Client{}, err
	}
	if c.PostLogoutRedirectURIs, err = postLogoutRedirectURIs(spec.PostLogoutRedirectURIs, spec.Public, c.GrantTypes); err != nil {
		return store.Client{}, err
	}
	if c.Scopes, err = scopes(spec.Scopes); err != nil {
		return store.Client{}, err
	}
	if c.Audience, err = audience(spec.Audience); err != nil {
		return store.Client{}, err
	}
	switch c.AccessTokenFormat {
	case "":
		c.AccessTokenFormat = store.FormatOpaque
	case store.FormatOpaque, store.FormatJWT, store.FormatSplit:
	default:
		return store.Client{}, invalid("format", "%q is not opaque, jwt or split", c.AccessTokenFormat)
	}
	if spec.Public && spec.CanIntrospect {
		// RFC 7662 §2.1: the caller of introspection must be authorized,
		// and a public client cannot authenticate.
		return store.Client{}, invalid("introspect", "a public client cannot authenticate, so it cannot introspect")
	}
	if c.JWKS, err = clientJWKS(spec.JWKS, c.AuthMethod); err != nil {
		return store.Client{}, err
	}
	if c.TLSClientAuth, err = tlsClientAuth(spec.TLSClientAuth, c.AuthMethod, c.JWKS); err != nil {
		return store.Client{}, err
	}
	return c, nil
}

// tlsClientAuth checks what a mutual-TLS client registers (RFC 8705
// §2.1.2, §2.2): a tls_client_auth client names exactly one subject
// value, a self_signed_tls_client_auth client registers its certificate
// as the x5c of a key in its JWK Set, and no other client names a
// subject (it would never be checked, and an operator would think it
// was).
func tlsClientAuth(t store.TLSClientAuth, method string, jwks []byte) (store.TLSClientAuth, error) {
	switch method {
	case store.AuthTLSClient:
		if err := clientauth.CheckTLSClientAuth(t); err != nil {
			return store.TLSClientAuth{}, invalid(tlsFlag(t), "%s", err)
		}
		return t, nil
	case store.AuthSelfSignedTLSClient:
		if !t.IsZero() {
			return store.TLSClientAuth{}, invalid(tlsFlag(t), "a self_signed_tls_client_auth client is known by the certificate in its jwks, not by a subject")
		}
		if _, err := clientauth.RegisteredCertificates(jwks); err != nil {
			return store.TLSClientAuth{}, invalid("jwks-file", "self_signed_tls_client_auth needs a key whose x5c holds the client's certificate (RFC 8705 §2.2)")
		}
		return t, nil
	default:
		if !t.IsZero() {
			return store.TLSClientAuth{}, invalid(tlsFlag(t), "only a tls_client_auth client registers a certificate subject")
		}
		return t, nil
	}
}

// tlsFlag is the flag of the first subject field set (or of the DN when
// none is), for error messages.
func tlsFlag(t store.TLSClientAuth) string {
	switch {
	case t.SANDNS != "":
		return "tls-client-auth-san-dns"
	case t.SANURI != "":
		return "tls-client-auth-san-uri"
	case t.SANIP != "":
		return "tls-client-auth-san-ip"
	case t.SANEmail != "":
		return "tls-client-auth-san-email"
	}
	return "tls-client-auth-subject-dn"
}

// IssueSecret generates a secret for c when its method uses one, stores
// its digest (and the id of the key that made it) in c and returns it: the
// only time the secret exists in the clear. It returns "" for none and
// private_key_jwt.
func IssueSecret(c *store.Client, secretKey SecretKey) (string, error) {
	if !UsesSecret(c.AuthMethod) {
		c.SecretDigest, c.SecretKeyID = nil, ""
		return "", nil
	}
	secret, err := clientauth.GenerateSecret()
	if err != nil {
		return "", fmt.Errorf("generate client secret: %w", err)
	}
	c.SecretDigest = clientauth.DigestSecret(secretKey.Key, secret)
	c.SecretKeyID = secretKey.ID
	return secret, nil
}

// UsesSecret reports whether clients of method authenticate with a shared
// secret (client_secret_basic, client_secret_post).
func UsesSecret(method string) bool {
	return method == store.AuthSecretBasic || method == store.AuthSecretPost
}

// minEncRSABits is the smallest RSA key registered for encryption.
const minEncRSABits = 2048

// checkEncryptionKey refuses an encryption key the gateway cannot
// encrypt fields to: an EC key on P-256, P-384 or P-521 for
// ECDH-ES+A256KW (RFC 7518 §4.6), or an RSA key of at least 2048 bits
// for RSA-OAEP-256 (§4.3). An alg on the key must be that algorithm.
// (internal/fieldrules picks the key by the same rule; the registry may
// not import it.)
func checkEncryptionKey(k jose.JSONWebKey) error {
	var alg jose.KeyAlgorithm
	switch key := k.Key.(type) {
	case *ecdsa.PublicKey:
		switch key.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return fmt.Errorf("curve %s is not P-256, P-384 or P-521", key.Curve.Params().Name)
		}
		alg = jose.ECDH_ES_A256KW
	case *rsa.PublicKey:
		if key.N.BitLen() < minEncRSABits {
			return fmt.Errorf("an RSA key needs at least %d bits, not %d", minEncRSABits, key.N.BitLen())
		}
		alg = jose.RSA_OAEP_256
	default:
		return fmt.Errorf("an encryption key is EC (P-256, P-384, P-521) or RSA, not %T", k.Key)
	}
	if k.Algorithm != "" && k.Algorithm != string(alg) {
		return fmt.Errorf("alg %q does not fit the key; want %s (or no alg)", k.Algorithm, alg)
	}
	return nil
}

func randomClientID() (string, error) {
	b := make([]byte, generatedIDBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate client id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// checkClientID keeps ids to unreserved characters (RFC 3986 §2.3), so they
// travel unchanged in URLs, forms and the Basic scheme, whose user part
// cannot hold a colon (RFC 6749 §2.3.1).
func checkClientID(id string) error {
	if len(id) > maxClientIDLen {
		return invalid("id", "at most %d characters", maxClientIDLen)
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '.' || r == '_' || r == '~' || r == '-'
		if !ok {
			return invalid("id", "use only %s", clientIDCharsHelp)
		}
	}
	if strings.HasPrefix(id, "-") {
		return invalid("id", "must not start with '-' (it would read as a flag)")
	}
	return nil
}

func authMethod(spec ClientSpec) (string, error) {
	m := spec.AuthMethod
	if spec.Public {
		if m != "" && m != store.AuthNone {
			return "", invalid("auth-method", "a public client has no credentials: its method is none")
		}
		return store.AuthNone, nil
	}
	switch m {
	case "":
		return store.AuthSecretBasic, nil
	case store.AuthSecretBasic, store.AuthSecretPost, store.AuthPrivateKeyJWT,
		store.AuthTLSClient, store.AuthSelfSignedTLSClient:
		return m, nil
	case store.AuthNone:
		return "", invalid("auth-method", "none is for public clients: add --public")
	default:
		return "", invalid("auth-method", "%q is not client_secret_basic, client_secret_post, private_key_jwt, tls_client_auth, self_signed_tls_client_auth or none", m)
	}
}

func grantTypes(spec ClientSpec) ([]string, error) {
	var out []string
	for _, g := range spec.GrantTypes {
		for g := range strings.SplitSeq(g, ",") {
			g = strings.TrimSpace(g)
			switch g {
			case "":
				continue
			case GrantClientCredentials, GrantAuthorizationCode, GrantRefreshToken, GrantTokenExchange:
			default:
				return nil, invalid("grant-type", "%q is not client_credentials, authorization_code, refresh_token or %s", g, GrantTokenExchange)
			}
			if !slices.Contains(out, g) {
				out = append(out, g)
			}
		}
	}
	if len(out) == 0 {
		// The usual shape of each kind of client.
		if spec.Public {
			out = []string{GrantAuthorizationCode}
		} else {
			out = []string{GrantClientCredentials}
		}
	}
	if spec.Public && slices.Contains(out, GrantClientCredentials) {
		// RFC 6749 §4.4: the client credentials grant is for confidential
		// clients only.
		return nil, invalid("grant-type", "a public client cannot use client_credentials")
	}
	if spec.Public && slices.Contains(out, GrantTokenExchange) {
		// The exchanging client becomes the acting party of the token
		// (RFC 8693 §4.1), so it must be one that authenticates.
		return nil, invalid("grant-type", "a public client cannot use token exchange")
	}
	if slices.Contains(out, GrantRefreshToken) && !slices.Contains(out, GrantAuthorizationCode) {
		// RFC 6749 §4.4.3: client credentials issue no refresh tokens, so
		// only the code grant can lead to one.
		return nil, invalid("grant-type", "refresh_token needs authorization_code")
	}
	return out, nil
}

func redirectURIs(uris []string, public bool, grants []string) ([]string, error) {
	var out []string
	for _, raw := range uris {
		if err := checkRedirectURI("redirect-uri", raw, public); err != nil {
			return nil, err
		}
		if !slices.Contains(out, raw) {
			out = append(out, raw)
		}
	}
	if len(out) > maxURIs {
		return nil, invalid("redirect-uri", "at most %d", maxURIs)
	}
	code := slices.Contains(grants, GrantAuthorizationCode)
	if code && len(out) == 0 {
		return nil, invalid("redirect-uri", "authorization_code needs at least one redirect URI")
	}
	if !code && len(out) > 0 {
		return nil, invalid("redirect-uri", "redirect URIs are used only by authorization_code")
	}
	return out, nil
}

// checkRedirectURI applies RFC 6749 §3.1.2 (absolute, no fragment) and the
// current best practice (RFC 9700 §2.1, RFC 8252 §7): https, or plain http
// only to a loopback address, or for native (public) apps a private-use
// scheme named after a domain they own. field is the flag its errors
// name: post-logout redirect URIs follow the same rules.
func checkRedirectURI(field, raw string, public bool) error {
	if raw == "" || len(raw) > maxURILen {
		return invalid(field, "must be 1 to %d characters", maxURILen)
	}
	if strings.ContainsFunc(raw, func(r rune) bool { return r == ' ' || printable.IsControl(r) }) {
		return invalid(field, "%q contains spaces or control characters", raw)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return invalid(field, "%q is not an absolute URI", raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return invalid(field, "%q must not contain a fragment (RFC 6749 §3.1.2)", raw)
	}
	if u.User != nil {
		return invalid(field, "%q must not contain user information", raw)
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return invalid(field, "%q has no host", raw)
		}
	case "http":
		if !loopback.Host(u.Hostname()) {
			return invalid(field, "%q: plain http is allowed only to a loopback host (127.0.0.1, [::1], localhost); use https", raw)
		}
	default:
		if !public {
			return invalid(field, "%q: a confidential client needs https (or http on loopback)", raw)
		}
		if !strings.Contains(u.Scheme, ".") {
			return invalid(field, "%q: a private-use scheme must be a reverse domain name such as com.example.app (RFC 8252 §7.1)", raw)
		}
	}
	return nil
}

// scopes splits space-separated values and checks each scope-token
// (RFC 6749 §3.3).
func scopes(in []string) ([]string, error) {
	out := []string{}
	for _, s := range in {
		for _, tok := range strings.Fields(s) {
			if !scope.IsToken(tok) {
				return nil, invalid("scope", "%q has a character RFC 6749 §3.3 does not allow", tok)
			}
			if !slices.Contains(out, tok) {
				out = append(out, tok)
			}
		}
	}
	if len(out) > maxScopes {
		return nil, invalid("scope", "at most %d scopes", maxScopes)
	}
	return out, nil
}

func audience(in []string) ([]string, error) {
	out := []string{}
	for _, a := range in {
		if a == "" || len(a) > maxAudienceLen || strings.ContainsFunc(a, func(r rune) bool { return r == ' ' || printable.IsControl(r) }) {
			return nil, invalid("audience", "%q must be 1 to %d characters without spaces", a, maxAudienceLen)
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

// clientJWKS checks a client's key set. Any client may register one:
// keys of use "sig" (or no use) verify what the client signs (its
// private_key_jwt assertions, signed requests), keys of use "enc" are
// what the gateway encrypts response fields to. A private_key_jwt
// client needs at least one signing key. Only public keys are kept: a
// private key pasted by mistake must not be stored.
func clientJWKS(raw []byte, method string) ([]byte, error) {
	if len(raw) == 0 {
		if method == store.AuthPrivateKeyJWT {
			return nil, invalid("jwks-file", "private_key_jwt needs the client's public keys")
		}
		return nil, nil
	}
	if len(raw) > maxJWKSBytes {
		return nil, invalid("jwks-file", "larger than %d bytes", maxJWKSBytes)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, invalid("jwks-file", "not a JWK Set: %v", err)
	}
	if len(set.Keys) == 0 {
		return nil, invalid("jwks-file", "the key set has no keys")
	}
	signing := 0
	kids := map[string]bool{}
	for i, k := range set.Keys {
		if !k.Valid() || !k.IsPublic() {
			return nil, invalid("jwks-file", "key %d is not a valid public key (private and symmetric keys are refused)", i)
		}
		switch k.Use {
		case "", "sig":
			signing++
		case "enc":
			if err := checkEncryptionKey(k); err != nil {
				return nil, invalid("jwks-file", "key %d (use enc): %s", i, err)
			}
		default:
			return nil, invalid("jwks-file", "key %d has use %q; want sig or enc", i, k.Use)
		}
		// RFC 7517 §4.5: with several keys, the kid is how a verifier
		// or a decrypting client picks one.
		if len(set.Keys) > 1 && k.KeyID == "" {
			return nil, invalid("jwks-file", "key %d has no kid: every key of a set with several needs one", i)
		}
		if k.KeyID != "" {
			if kids[k.KeyID] {
				return nil, invalid("jwks-file", "key %d repeats kid %q", i, k.KeyID)
			}
			kids[k.KeyID] = true
		}
	}
	if method == store.AuthPrivateKeyJWT && signing == 0 {
		return nil, invalid("jwks-file", "private_key_jwt needs a key of use sig to verify the client's assertions")
	}
	out, err := json.Marshal(set)
	if err != nil {
		return nil, invalid("jwks-file", "cannot encode the key set: %v", err)
	}
	return out, nil
}
