package clientauth_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/store"
)

const (
	issuer   = "https://as.example"
	tokenURL = "https://as.example/oauth2/token"

	// basicID and basicSecret need form-url-encoding inside Basic
	// credentials (RFC 6749 §2.3.1): ':' '+' '%' '/' and non-ASCII.
	basicID     = "app:one é"
	basicSecret = "s:e/c+r%t é"
	postID      = "post-client"
	postSecret  = "post-secret"
	jwtID       = "jwt-client"
	weakJWTID   = "weak-jwt-client"
	publicID    = "spa"
	noSecretID  = "no-secret"

	jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

var (
	secretKey = bytes.Repeat([]byte{9}, 32)
	now0      = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
)

// testKeys are the client keys, generated once: RSA generation is slow.
type testKeys struct {
	es256, es384, unregistered *ecdsa.PrivateKey
	rsa, weakRSA               *rsa.PrivateKey
	ed                         ed25519.PrivateKey
}

var getKeys = sync.OnceValue(func() testKeys {
	must := func(k crypto.Signer, err error) crypto.Signer {
		if err != nil {
			panic(err)
		}
		return k
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	return testKeys{
		es256:        must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)).(*ecdsa.PrivateKey),
		es384:        must(ecdsa.GenerateKey(elliptic.P384(), rand.Reader)).(*ecdsa.PrivateKey),
		unregistered: must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)).(*ecdsa.PrivateKey),
		rsa:          must(rsa.GenerateKey(rand.Reader, 2048)).(*rsa.PrivateKey),
		weakRSA:      must(rsa.GenerateKey(rand.Reader, 1024)).(*rsa.PrivateKey),
		ed:           ed,
	}
})

func jwks(t testing.TB, keys ...jose.JSONWebKey) []byte {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testClients registers one client per authentication method.
func testClients(t testing.TB) []store.Client {
	k := getKeys()
	return []store.Client{
		{ID: basicID, AuthMethod: store.AuthSecretBasic, SecretDigest: clientauth.DigestSecret(secretKey, basicSecret)},
		{ID: postID, AuthMethod: store.AuthSecretPost, SecretDigest: clientauth.DigestSecret(secretKey, postSecret)},
		{ID: noSecretID, AuthMethod: store.AuthSecretBasic},
		{ID: publicID, AuthMethod: store.AuthNone},
		{ID: jwtID, AuthMethod: store.AuthPrivateKeyJWT, JWKS: jwks(t,
			jose.JSONWebKey{Key: k.es256.Public(), KeyID: "k-es256", Algorithm: "ES256", Use: "sig"},
			jose.JSONWebKey{Key: k.rsa.Public(), KeyID: "k-rsa"},
			jose.JSONWebKey{Key: k.ed.Public(), KeyID: "k-ed"},
			jose.JSONWebKey{Key: k.es384.Public(), KeyID: "k-es384"},
			jose.JSONWebKey{Key: []byte("a-shared-secret-of-32-bytes-long"), KeyID: "k-hmac"},
		)},
		{ID: weakJWTID, AuthMethod: store.AuthPrivateKeyJWT, JWKS: jwks(t,
			jose.JSONWebKey{Key: k.weakRSA.Public(), KeyID: "k-weak"},
		)},
	}
}

func basicHeader(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

func rawBasicHeader(s string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(s))
}

func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

// assertionClaims are valid claims for jwtID at now0; mod changes them.
func assertionClaims(mod func(map[string]any)) map[string]any {
	c := map[string]any{
		"iss": jwtID,
		"sub": jwtID,
		"aud": issuer,
		"exp": now0.Add(5 * time.Minute).Unix(),
		"iat": now0.Unix(),
		"jti": rand.Text(),
	}
	if mod != nil {
		mod(c)
	}
	return c
}

func signAssertion(t testing.TB, key any, alg jose.SignatureAlgorithm, kid string, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// unsignedAssertion is an "alg":"none" JWT (RFC 7519 §6).
func unsignedAssertion(claims map[string]any) string {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	p, _ := json.Marshal(claims)
	return h + "." + base64.RawURLEncoding.EncodeToString(p) + "."
}

func assertionForm(assertion string, kv ...string) url.Values {
	v := form(kv...)
	v.Set("client_assertion_type", jwtBearer)
	v.Set("client_assertion", assertion)
	return v
}

// newRequest builds a parsed token request, as the endpoint hands it over.
func newRequest(t testing.TB, authz []string, body url.Values, query string) *http.Request {
	t.Helper()
	target := "/oauth2/token"
	if query != "" {
		target += "?" + query
	}
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, h := range authz {
		r.Header.Add("Authorization", h)
	}
	if err := r.ParseForm(); err != nil {
		t.Fatalf("ParseForm() error = %v", err)
	}
	return r
}

func newAuthenticator(st clientauth.Store) *clientauth.Authenticator {
	return clientauth.NewAuthenticator(st, secretKey, clientauth.Options{
		Issuer: issuer, TokenEndpoint: tokenURL, Now: func() time.Time { return now0 },
	})
}

type authCase struct {
	name  string
	authz []string
	form  url.Values
	query string
	// wantID is the authenticated client on success.
	wantID string
	// wantCode, wantDesc and wantBasic describe the failure.
	wantCode  string
	wantDesc  string
	wantBasic bool
}

func runAuthCases(t *testing.T, tests []authCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newMemStore(testClients(t)...)
			a := newAuthenticator(st)
			got, err := a.Authenticate(t.Context(), newRequest(t, tt.authz, tt.form, tt.query))
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("Authenticate() error = %v (cause %v), want client %q", err, errors.Unwrap(err), tt.wantID)
				}
				if got.ID != tt.wantID {
					t.Errorf("Authenticate() client = %q, want %q", got.ID, tt.wantID)
				}
				return
			}
			var ae *clientauth.Error
			if !errors.As(err, &ae) {
				t.Fatalf("Authenticate() error = %v (client %q), want *clientauth.Error %s", err, got.ID, tt.wantCode)
			}
			if got.ID != "" {
				t.Errorf("Authenticate() returned client %q with an error", got.ID)
			}
			gotErr := struct {
				Code  string
				Basic bool
			}{ae.Code, ae.Basic}
			wantErr := struct {
				Code  string
				Basic bool
			}{tt.wantCode, tt.wantBasic}
			if diff := cmp.Diff(wantErr, gotErr); diff != "" {
				t.Errorf("Authenticate() error (-want +got):\n%s\ncause: %v", diff, ae.Cause)
			}
			if tt.wantDesc != "" && ae.Description != tt.wantDesc {
				t.Errorf("Description = %q, want %q", ae.Description, tt.wantDesc)
			}
			t.Logf("%s: %v", ae.Description, ae.Cause)
			if ae.Cause == nil {
				t.Error("Cause is nil: the log would not say why")
			}
			for _, secret := range []string{basicSecret, postSecret, "wrong-secret"} {
				if strings.Contains(ae.Error(), secret) {
					t.Errorf("error %q echoes a secret", ae.Error())
				}
			}
		})
	}
}

const failed = "client authentication failed"

func TestAuthenticateSecrets(t *testing.T) {
	runAuthCases(t, []authCase{
		{name: "basic", authz: []string{basicHeader(basicID, basicSecret)}, wantID: basicID},
		{name: "basic scheme is case-insensitive", authz: []string{strings.Replace(basicHeader(basicID, basicSecret), "Basic", "bASIC", 1)}, wantID: basicID},
		{name: "basic with matching client_id param", authz: []string{basicHeader(basicID, basicSecret)}, form: form("client_id", basicID), wantID: basicID},
		{name: "post", form: form("client_id", postID, "client_secret", postSecret), wantID: postID},
		{name: "none", form: form("client_id", publicID, "grant_type", "authorization_code"), wantID: publicID},

		{name: "basic wrong secret", authz: []string{basicHeader(basicID, "wrong-secret")},
			wantCode: "invalid_client", wantDesc: failed, wantBasic: true},
		{name: "basic unknown client", authz: []string{basicHeader("nobody", "wrong-secret")},
			wantCode: "invalid_client", wantDesc: failed, wantBasic: true},
		{name: "basic without form-url-encoding", authz: []string{rawBasicHeader(basicID + ":" + basicSecret)},
			wantCode: "invalid_client", wantBasic: true},
		{name: "basic not base64", authz: []string{"Basic !!!"}, wantCode: "invalid_client", wantBasic: true},
		{name: "basic without colon", authz: []string{rawBasicHeader("justanid")}, wantCode: "invalid_client", wantBasic: true},
		{name: "basic empty id", authz: []string{rawBasicHeader(":" + postSecret)}, wantCode: "invalid_client", wantBasic: true},
		{name: "basic scheme only", authz: []string{"Basic"}, wantCode: "invalid_client", wantBasic: true},
		{name: "basic control character in id", authz: []string{basicHeader("a\x00b", "x")}, wantCode: "invalid_client", wantBasic: true},
		{name: "basic client_id param mismatch", authz: []string{basicHeader(basicID, basicSecret)}, form: form("client_id", postID),
			wantCode: "invalid_client", wantBasic: true},
		{name: "basic client without secret, empty secret", authz: []string{basicHeader(noSecretID, "")},
			wantCode: "invalid_client", wantBasic: true},
		{name: "basic oversized", authz: []string{basicHeader(basicID, strings.Repeat("x", 5000))},
			wantCode: "invalid_request", wantBasic: true},
		{name: "two authorization headers", authz: []string{basicHeader(basicID, basicSecret), basicHeader(basicID, basicSecret)},
			wantCode: "invalid_request", wantBasic: true},

		{name: "post wrong secret", form: form("client_id", postID, "client_secret", "wrong-secret"),
			wantCode: "invalid_client", wantDesc: failed},
		{name: "post unknown client", form: form("client_id", "nobody", "client_secret", postSecret),
			wantCode: "invalid_client", wantDesc: failed},
		{name: "post empty secret", form: form("client_id", postID, "client_secret", ""), wantCode: "invalid_client"},
		{name: "post without client_id", form: form("client_secret", postSecret), wantCode: "invalid_client"},
		{name: "post oversized secret", form: form("client_id", postID, "client_secret", strings.Repeat("x", 600)),
			wantCode: "invalid_request"},
		{name: "post oversized client_id", form: form("client_id", strings.Repeat("x", 300), "client_secret", postSecret),
			wantCode: "invalid_request"},
		{name: "secret in query string", form: form("client_id", postID), query: "client_secret=" + postSecret,
			wantCode: "invalid_request"},
		{name: "repeated client_id", form: form("client_id", postID, "client_id", basicID, "client_secret", postSecret),
			wantCode: "invalid_request"},
		{name: "repeated client_secret", form: form("client_id", postID, "client_secret", postSecret, "client_secret", "x"),
			wantCode: "invalid_request"},

		{name: "basic and post", authz: []string{basicHeader(basicID, basicSecret)}, form: form("client_id", basicID, "client_secret", basicSecret),
			wantCode: "invalid_request", wantBasic: true},
		{name: "post and assertion", form: assertionForm("x.y.z", "client_id", postID, "client_secret", postSecret),
			wantCode: "invalid_request"},

		{name: "basic client uses post", form: form("client_id", basicID, "client_secret", basicSecret),
			wantCode: "invalid_client", wantDesc: failed},
		{name: "post client uses basic", authz: []string{basicHeader(postID, postSecret)},
			wantCode: "invalid_client", wantDesc: failed, wantBasic: true},
		{name: "confidential client sends only client_id", form: form("client_id", basicID),
			wantCode: "invalid_client", wantDesc: failed},
		{name: "public client sends a secret", form: form("client_id", publicID, "client_secret", "anything"),
			wantCode: "invalid_client", wantDesc: failed},
		{name: "jwt client uses basic", authz: []string{basicHeader(jwtID, "guess")},
			wantCode: "invalid_client", wantDesc: failed, wantBasic: true},
		{name: "none for unknown client", form: form("client_id", "nobody"), wantCode: "invalid_client", wantDesc: failed},

		{name: "no credentials", form: form("grant_type", "client_credentials"),
			wantCode: "invalid_client", wantDesc: "client authentication is required"},
		{name: "bearer is not client authentication", authz: []string{"Bearer abc"},
			wantCode: "invalid_client", wantDesc: "client authentication is required"},
	})
}

func TestAuthenticateAssertions(t *testing.T) {
	k := getKeys()
	valid := func(mod func(map[string]any)) map[string]any { return assertionClaims(mod) }
	es := func(claims map[string]any) string { return signAssertion(t, k.es256, jose.ES256, "k-es256", claims) }
	tooLarge := es(valid(func(c map[string]any) { c["pad"] = strings.Repeat("x", 9000) }))

	runAuthCases(t, []authCase{
		{name: "ES256", form: assertionForm(es(valid(nil))), wantID: jwtID},
		{name: "ES256 with client_id", form: assertionForm(es(valid(nil)), "client_id", jwtID), wantID: jwtID},
		{name: "RS256", form: assertionForm(signAssertion(t, k.rsa, jose.RS256, "k-rsa", valid(nil))), wantID: jwtID},
		{name: "PS256", form: assertionForm(signAssertion(t, k.rsa, jose.PS256, "k-rsa", valid(nil))), wantID: jwtID},
		{name: "EdDSA", form: assertionForm(signAssertion(t, k.ed, jose.EdDSA, "k-ed", valid(nil))), wantID: jwtID},
		{name: "ES384", form: assertionForm(signAssertion(t, k.es384, jose.ES384, "k-es384", valid(nil))), wantID: jwtID},
		{name: "no kid", form: assertionForm(signAssertion(t, k.ed, jose.EdDSA, "", valid(nil))), wantID: jwtID},
		{name: "aud is the issuer", form: assertionForm(es(valid(func(c map[string]any) { c["aud"] = issuer }))), wantID: jwtID},
		{name: "expired within leeway", form: assertionForm(es(valid(func(c map[string]any) { c["exp"] = now0.Add(-20 * time.Second).Unix() }))), wantID: jwtID},
		{name: "no iat", form: assertionForm(es(valid(func(c map[string]any) { delete(c, "iat") }))), wantID: jwtID},

		{name: "wrong aud", form: assertionForm(es(valid(func(c map[string]any) { c["aud"] = "https://evil.example" }))),
			wantCode: "invalid_client"},
		// draft-ietf-oauth-rfc7523bis: the issuer alone, as a string.
		{name: "aud is the token endpoint", form: assertionForm(es(valid(func(c map[string]any) { c["aud"] = tokenURL }))),
			wantCode: "invalid_client", wantDesc: "client assertion is invalid"},
		{name: "aud array holding the issuer", form: assertionForm(es(valid(func(c map[string]any) { c["aud"] = []string{issuer} }))),
			wantCode: "invalid_client", wantDesc: "client assertion is invalid"},
		{name: "aud array with another audience", form: assertionForm(es(valid(func(c map[string]any) { c["aud"] = []string{"https://other", issuer} }))),
			wantCode: "invalid_client", wantDesc: "client assertion is invalid"},
		{name: "aud is the issuer with a trailing slash", form: assertionForm(es(valid(func(c map[string]any) { c["aud"] = issuer + "/" }))),
			wantCode: "invalid_client"},
		{name: "aud null", form: assertionForm(es(valid(func(c map[string]any) { c["aud"] = nil }))),
			wantCode: "invalid_client"},
		{name: "no aud", form: assertionForm(es(valid(func(c map[string]any) { delete(c, "aud") }))),
			wantCode: "invalid_client"},
		{name: "expired", form: assertionForm(es(valid(func(c map[string]any) { c["exp"] = now0.Add(-time.Minute).Unix() }))),
			wantCode: "invalid_client", wantDesc: "client assertion is expired or not yet valid"},
		{name: "no exp", form: assertionForm(es(valid(func(c map[string]any) { delete(c, "exp") }))),
			wantCode: "invalid_client"},
		{name: "exp too far ahead", form: assertionForm(es(valid(func(c map[string]any) { c["exp"] = now0.Add(time.Hour).Unix() }))),
			wantCode: "invalid_client"},
		{name: "nbf in the future", form: assertionForm(es(valid(func(c map[string]any) { c["nbf"] = now0.Add(2 * time.Minute).Unix() }))),
			wantCode: "invalid_client"},
		{name: "iat in the future", form: assertionForm(es(valid(func(c map[string]any) { c["iat"] = now0.Add(2 * time.Minute).Unix() }))),
			wantCode: "invalid_client"},
		{name: "exp not a number", form: assertionForm(es(valid(func(c map[string]any) { c["exp"] = "tomorrow" }))),
			wantCode: "invalid_client"},
		{name: "missing jti", form: assertionForm(es(valid(func(c map[string]any) { delete(c, "jti") }))),
			wantCode: "invalid_client"},
		{name: "iss differs from sub", form: assertionForm(es(valid(func(c map[string]any) { c["iss"] = "someone-else" }))),
			wantCode: "invalid_client"},
		{name: "sub names another client", form: assertionForm(es(valid(func(c map[string]any) { c["sub"] = postID }))),
			wantCode: "invalid_client"},
		{name: "client_id param differs", form: assertionForm(es(valid(nil)), "client_id", postID),
			wantCode: "invalid_client"},
		{name: "bad signature", form: assertionForm(signAssertion(t, k.unregistered, jose.ES256, "k-es256", valid(nil))),
			wantCode: "invalid_client", wantDesc: failed},
		{name: "bad signature without kid", form: assertionForm(signAssertion(t, k.unregistered, jose.ES256, "", valid(nil))),
			wantCode: "invalid_client", wantDesc: failed},
		{name: "unknown kid", form: assertionForm(signAssertion(t, k.es256, jose.ES256, "k-missing", valid(nil))),
			wantCode: "invalid_client"},
		{name: "alg differs from the key's registered alg", form: assertionForm(signAssertion(t, k.rsa, jose.RS256, "k-es256", valid(nil))),
			wantCode: "invalid_client"},
		{name: "HS256 with a registered oct key", form: assertionForm(signAssertion(t, []byte("a-shared-secret-of-32-bytes-long"), jose.HS256, "k-hmac", valid(nil))),
			wantCode: "invalid_client"},
		{name: "alg none", form: assertionForm(unsignedAssertion(valid(nil))), wantCode: "invalid_client"},
		{name: "weak RSA key", form: assertionForm(signAssertion(t, k.weakRSA, jose.RS256, "k-weak",
			valid(func(c map[string]any) { c["iss"], c["sub"] = weakJWTID, weakJWTID }))), wantCode: "invalid_client"},
		{name: "unknown client", form: assertionForm(es(valid(func(c map[string]any) { c["iss"], c["sub"] = "nobody", "nobody" }))),
			wantCode: "invalid_client", wantDesc: failed},
		{name: "secret client uses an assertion", form: assertionForm(es(valid(func(c map[string]any) { c["iss"], c["sub"] = postID, postID }))),
			wantCode: "invalid_client", wantDesc: failed},
		{name: "not a jwt", form: assertionForm("not-a-jwt"), wantCode: "invalid_client"},
		{name: "oversized assertion", form: assertionForm(tooLarge), wantCode: "invalid_request"},
		{name: "wrong assertion type", form: form("client_assertion_type", "urn:example:saml", "client_assertion", es(valid(nil))),
			wantCode: "invalid_client"},
		{name: "assertion without type", form: form("client_assertion", es(valid(nil))), wantCode: "invalid_request"},
		{name: "type without assertion", form: form("client_assertion_type", jwtBearer), wantCode: "invalid_request"},
		{name: "assertion in query string", query: "client_assertion=" + es(valid(nil)), form: form("client_assertion_type", jwtBearer),
			wantCode: "invalid_request"},
		{name: "basic and assertion", authz: []string{basicHeader(basicID, basicSecret)}, form: assertionForm(es(valid(nil))),
			wantCode: "invalid_request", wantBasic: true},
	})
}

// TestAssertionLegacyTokenEndpointAudience: with the legacy option on, the
// token endpoint URL is accepted as well as the issuer, still only as a
// single string.
func TestAssertionLegacyTokenEndpointAudience(t *testing.T) {
	k := getKeys()
	tests := []struct {
		name   string
		legacy bool
		aud    any
		wantOK bool
	}{
		{"issuer", false, issuer, true},
		{"token endpoint", false, tokenURL, false},
		{"legacy issuer", true, issuer, true},
		{"legacy token endpoint", true, tokenURL, true},
		{"legacy token endpoint in an array", true, []string{tokenURL}, false},
		{"legacy other URL", true, issuer + "/oauth2/introspect", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := clientauth.NewAuthenticator(newMemStore(testClients(t)...), secretKey, clientauth.Options{
				Issuer: issuer, TokenEndpoint: tokenURL, LegacyTokenEndpointAudience: tc.legacy,
				Now: func() time.Time { return now0 },
			})
			assertion := signAssertion(t, k.es256, jose.ES256, "k-es256", assertionClaims(func(c map[string]any) { c["aud"] = tc.aud }))
			_, err := a.Authenticate(t.Context(), newRequest(t, nil, assertionForm(assertion), ""))
			if gotOK := err == nil; gotOK != tc.wantOK {
				t.Errorf("Authenticate() error = %v, want success %v", err, tc.wantOK)
			}
		})
	}
}

// TestAssertionUnknownClientCostsASignatureCheck: an assertion that names
// an unknown client, or a client that has no key for it, still pays for a
// signature check, so timing does not tell which client ids exist.
func TestAssertionUnknownClientCostsASignatureCheck(t *testing.T) {
	k := getKeys()
	as := func(id string, key any, alg jose.SignatureAlgorithm, kid string) url.Values {
		return assertionForm(signAssertion(t, key, alg, kid, assertionClaims(func(c map[string]any) { c["iss"], c["sub"] = id, id })))
	}
	tests := []struct {
		name       string
		form       url.Values
		wantDecoys int64
	}{
		{"unknown client ES256", as("nobody", k.es256, jose.ES256, "k-es256"), 1},
		{"unknown client RS256", as("nobody", k.rsa, jose.RS256, "k-rsa"), 1},
		{"unknown client EdDSA", as("nobody", k.ed, jose.EdDSA, ""), 1},
		{"secret client", as(postID, k.es256, jose.ES256, "k-es256"), 1},
		{"unknown kid", as(jwtID, k.es256, jose.ES256, "k-missing"), 1},
		{"registered key, bad signature", as(jwtID, k.unregistered, jose.ES256, "k-es256"), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newAuthenticator(newMemStore(testClients(t)...))
			if _, err := a.Authenticate(t.Context(), newRequest(t, nil, tc.form, "")); err == nil {
				t.Fatal("Authenticate() accepted the assertion")
			}
			if got := clientauth.DecoyChecks(a); got != tc.wantDecoys {
				t.Errorf("decoy signature checks = %d, want %d", got, tc.wantDecoys)
			}
		})
	}
}

func TestAssertionReplay(t *testing.T) {
	st := newMemStore(testClients(t)...)
	a := newAuthenticator(st)
	k := getKeys()
	claims := assertionClaims(nil)
	assertion := signAssertion(t, k.es256, jose.ES256, "k-es256", claims)

	if _, err := a.Authenticate(t.Context(), newRequest(t, nil, assertionForm(assertion), "")); err != nil {
		t.Fatalf("first use error = %v", err)
	}
	// The replay record outlives the assertion's leeway.
	exp, ok := st.jtiExpiry(jwtID, claims["jti"].(string))
	if want := now0.Add(5*time.Minute + 30*time.Second); !ok || !exp.Equal(want) {
		t.Errorf("jti recorded until %v (found %v), want %v", exp, ok, want)
	}
	_, err := a.Authenticate(t.Context(), newRequest(t, nil, assertionForm(assertion), ""))
	var ae *clientauth.Error
	if !errors.As(err, &ae) || ae.Code != "invalid_client" || ae.Description != "client assertion was already used" {
		t.Errorf("replay error = %v, want invalid_client: client assertion was already used", err)
	}

	// A failed check does not burn the jti: a corrected retry succeeds.
	claims = assertionClaims(nil)
	bad := signAssertion(t, k.unregistered, jose.ES256, "k-es256", claims)
	if _, err := a.Authenticate(t.Context(), newRequest(t, nil, assertionForm(bad), "")); err == nil {
		t.Fatal("bad signature accepted")
	}
	if _, ok := st.jtiExpiry(jwtID, claims["jti"].(string)); ok {
		t.Error("an assertion with a bad signature recorded its jti")
	}
}

func TestStoreFailureIsNotInvalidClient(t *testing.T) {
	tests := []struct {
		name  string
		authz []string
		form  url.Values
		basic bool
	}{
		{"basic", []string{basicHeader(basicID, basicSecret)}, nil, true},
		{"post", nil, form("client_id", postID, "client_secret", postSecret), false},
		{"none", nil, form("client_id", publicID), false},
		{"assertion", nil, assertionForm(signAssertion(t, getKeys().es256, jose.ES256, "k-es256", assertionClaims(nil))), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newMemStore(testClients(t)...)
			outage := errors.New("database is down")
			st.err = outage
			_, err := newAuthenticator(st).Authenticate(t.Context(), newRequest(t, tt.authz, tt.form, ""))
			var ae *clientauth.Error
			if !errors.As(err, &ae) || ae.Code != clientauth.CodeServerError || ae.Status() != http.StatusInternalServerError {
				t.Fatalf("Authenticate() error = %v, want server_error with status 500", err)
			}
			if !errors.Is(err, outage) {
				t.Errorf("error does not wrap the store's: %v", err)
			}
		})
	}
}

func TestErrorStatus(t *testing.T) {
	tests := []struct {
		err  clientauth.Error
		want int
	}{
		{clientauth.Error{Code: "invalid_client", Basic: true}, http.StatusUnauthorized},
		{clientauth.Error{Code: "invalid_client"}, http.StatusBadRequest},
		{clientauth.Error{Code: "invalid_request", Basic: true}, http.StatusBadRequest},
		{clientauth.Error{Code: "server_error"}, http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.err.Code, func(t *testing.T) {
			if got := tt.err.Status(); got != tt.want {
				t.Errorf("Status() = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestMisconfiguredAuthenticatorFailsClosed(t *testing.T) {
	st := newMemStore(testClients(t)...)
	tests := []struct {
		name string
		a    *clientauth.Authenticator
		r    *http.Request
	}{
		{"no secret key", clientauth.New(st, nil, []string{issuer}, nil),
			newRequest(t, nil, form("client_id", "empty-key-client", "client_secret", ""), "")},
		{"no audiences", clientauth.New(st, secretKey, nil, func() time.Time { return now0 }),
			newRequest(t, nil, assertionForm(signAssertion(t, getKeys().es256, jose.ES256, "k-es256", assertionClaims(nil))), "")},
		{"no issuer", clientauth.NewAuthenticator(st, secretKey, clientauth.Options{TokenEndpoint: tokenURL, LegacyTokenEndpointAudience: true,
			Now: func() time.Time { return now0 }}),
			newRequest(t, nil, assertionForm(signAssertion(t, getKeys().es256, jose.ES256, "k-es256", assertionClaims(func(c map[string]any) { c["aud"] = "" }))), "")},
	}
	// A client whose digest is that of the empty secret under the empty key.
	st.clients["empty-key-client"] = store.Client{ID: "empty-key-client", AuthMethod: store.AuthSecretPost,
		SecretDigest: clientauth.DigestSecret(nil, "")}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c, err := tt.a.Authenticate(t.Context(), tt.r); err == nil {
				t.Errorf("Authenticate() accepted client %q", c.ID)
			}
		})
	}
}

func TestDigestSecret(t *testing.T) {
	// RFC 4231 §4.3 (test case 2), HMAC-SHA-256.
	got := clientauth.DigestSecret([]byte("Jefe"), "what do ya want for nothing?")
	want := "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
	if diff := cmp.Diff(want, hexString(got)); diff != "" {
		t.Errorf("DigestSecret(RFC 4231 case 2) (-want +got):\n%s", diff)
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&0xf])
	}
	return string(out)
}

func TestGenerateSecret(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		s, err := clientauth.GenerateSecret()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(raw) != 32 {
			t.Fatalf("GenerateSecret() = %q: not base64url of 32 bytes (%v)", s, err)
		}
		if seen[s] {
			t.Fatal("GenerateSecret() repeated a secret")
		}
		seen[s] = true
	}
}
