package oauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	dto "github.com/prometheus/client_model/go"

	"github.com/portcullis/portcullis/internal/identity"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/pkg/verify"
)

// dpopKey makes DPoP proofs with go-jose, independently of the code
// under test, the way a client library would.
type dpopKey struct {
	t   *testing.T
	key *ecdsa.PrivateKey
}

func newDPoPKey(t *testing.T) *dpopKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &dpopKey{t: t, key: k}
}

// jkt is the RFC 7638 thumbprint of the key.
func (k *dpopKey) jkt() string {
	tp, err := (&jose.JSONWebKey{Key: k.key.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		k.t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(tp)
}

// proofClaims are the claims of a proof for a token request now; edit
// them before sign.
func proofClaims() map[string]any {
	return map[string]any{
		"jti": rand.Text(), "htm": "POST", "htu": harnessIssuer + pathToken, "iat": time.Now().Unix(),
	}
}

// sign signs claims with the key; opts, when given, replace the usual
// signer options (the public key embedded, typ dpop+jwt).
func (k *dpopKey) sign(claims map[string]any, opts *jose.SignerOptions) string {
	k.t.Helper()
	if opts == nil {
		opts = (&jose.SignerOptions{EmbedJWK: true}).WithType(verify.DPoPProofType)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k.key}, opts)
	if err != nil {
		k.t.Fatal(err)
	}
	b, _ := json.Marshal(claims)
	jws, err := s.Sign(b)
	if err != nil {
		k.t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		k.t.Fatal(err)
	}
	return out
}

// proof is a fresh, valid proof for the harness's token endpoint.
func (k *dpopKey) proof() string { return k.sign(proofClaims(), nil) }

// proofWithNonce is a fresh proof carrying nonce.
func (k *dpopKey) proofWithNonce(nonce string) string {
	c := proofClaims()
	c["nonce"] = nonce
	return k.sign(c, nil)
}

// tokenResult is a token endpoint answer.
type tokenResult struct {
	status int
	header http.Header
	body   map[string]any
}

// dpopToken posts form to the token endpoint with a DPoP header per
// proof. An empty secret sends the client id in the form (a public
// client, auth method none).
func (h *harness) dpopToken(id, secret string, form url.Values, proofs ...string) tokenResult {
	h.t.Helper()
	form = cloneValues(form)
	if secret == "" {
		form.Set("client_id", id)
	}
	r := httptest.NewRequest(http.MethodPost, harnessIssuer+pathToken, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	for _, p := range proofs {
		r.Header.Add("DPoP", p)
	}
	rec := h.do(r)
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		h.t.Fatalf("token response %d is not JSON: %v: %s", rec.Code, err, rec.Body)
	}
	return tokenResult{rec.Code, rec.Header(), m}
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// introspectJSON introspects tok as the resource server "rs".
func (h *harness) introspectJSON(rsSecret, tok, accept string) (int, []byte) {
	h.t.Helper()
	r := httptest.NewRequest(http.MethodPost, harnessIssuer+pathIntrospect, strings.NewReader(url.Values{"token": {tok}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if accept != "" {
		r.Header.Set("Accept", accept)
	}
	r.SetBasicAuth("rs", rsSecret)
	rec := h.do(r)
	return rec.Code, rec.Body.Bytes()
}

// jwtPayload decodes the claims of a compact JWS without checking it.
func jwtPayload(t *testing.T, jws string) map[string]any {
	t.Helper()
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// cnfJKT returns claims["cnf"]["jkt"], "" when absent.
func cnfJKT(claims map[string]any) string {
	cnf, _ := claims["cnf"].(map[string]any)
	jkt, _ := cnf["jkt"].(string)
	return jkt
}

// dpopHarness is a harness with a service client per access token
// format and an introspecting resource server.
func dpopHarness(t *testing.T, cfg Config) (*harness, map[string]string) {
	h := newHarness(t, cfg, harnessOptions{})
	secrets := map[string]string{}
	for _, f := range []string{store.FormatOpaque, store.FormatJWT, store.FormatSplit} {
		secrets[f] = h.client(store.Client{ID: "svc-" + f, GrantTypes: []string{"client_credentials"},
			Scopes: []string{"read"}, AccessTokenFormat: f})
	}
	secrets["rs"] = h.client(store.Client{ID: "rs", GrantTypes: []string{"client_credentials"}, CanIntrospect: true})
	return h, secrets
}

var ccForm = url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}

// TestDPoPClientCredentialsBound: a proof gets a DPoP token whose cnf.jkt
// is the proof key's thumbprint in every form the token takes (RFC 9449
// §5, §6.1, §6.2); no proof, a bearer token without cnf.
func TestDPoPClientCredentialsBound(t *testing.T) {
	h, secrets := dpopHarness(t, Config{})
	k := newDPoPKey(t)

	for _, f := range []string{store.FormatOpaque, store.FormatJWT, store.FormatSplit} {
		t.Run(f, func(t *testing.T) {
			res := h.dpopToken("svc-"+f, secrets[f], ccForm, k.proof())
			if res.status != http.StatusOK {
				t.Fatalf("token = %d %v", res.status, res.body)
			}
			if got := res.body["token_type"]; got != "DPoP" {
				t.Errorf("token_type = %v, want DPoP", got)
			}
			if got := res.header.Get("DPoP-Nonce"); got != "" {
				t.Errorf("DPoP-Nonce = %q without nonces configured", got)
			}
			access := res.body["access_token"].(string)
			if f == store.FormatJWT {
				if got := cnfJKT(jwtPayload(t, access)); got != k.jkt() {
					t.Errorf("JWT access token cnf.jkt = %q, want %q", got, k.jkt())
				}
			}
			status, body := h.introspectJSON(secrets["rs"], access, "")
			var m map[string]any
			if err := json.Unmarshal(body, &m); status != http.StatusOK || err != nil {
				t.Fatalf("introspect = %d %s", status, body)
			}
			if got := cnfJKT(m); m["active"] != true || got != k.jkt() {
				t.Errorf("introspection cnf.jkt = %q (active %v), want %q", got, m["active"], k.jkt())
			}
			if m["token_type"] != "DPoP" {
				t.Errorf("introspection token_type = %v, want DPoP", m["token_type"])
			}
			status, body = h.introspectJSON(secrets["rs"], access, "application/jwt")
			if status != http.StatusOK {
				t.Fatalf("introspect as JWT = %d %s", status, body)
			}
			if got := cnfJKT(jwtPayload(t, string(body))); got != k.jkt() {
				t.Errorf("phantom token cnf.jkt = %q, want %q", got, k.jkt())
			}
		})
	}

	res := h.dpopToken("svc-jwt", secrets[store.FormatJWT], ccForm)
	if res.status != http.StatusOK || res.body["token_type"] != "Bearer" {
		t.Fatalf("token without a proof = %d %v, want a Bearer token", res.status, res.body)
	}
	if c := jwtPayload(t, res.body["access_token"].(string)); c["cnf"] != nil {
		t.Errorf("bearer JWT carries cnf %v", c["cnf"])
	}
}

// refusals reads the DPoP refusal counter of reason.
func refusals(t *testing.T, h *harness, reason string) float64 {
	t.Helper()
	var m dto.Metric
	if err := h.srv.metrics.dpopRefused.WithLabelValues(reason).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestDPoPProofRefused: every malformed, misdirected or replayed proof is
// invalid_dpop_proof (RFC 9449 §4.3, §5.1, §12.2), the description never
// quotes it, and the refusal is counted by reason.
func TestDPoPProofRefused(t *testing.T) {
	h, secrets := dpopHarness(t, Config{})
	k, other := newDPoPKey(t), newDPoPKey(t)
	replayed := k.proof()
	if res := h.dpopToken("svc-opaque", secrets[store.FormatOpaque], ccForm, replayed); res.status != http.StatusOK {
		t.Fatalf("first use of the proof = %d %v", res.status, res.body)
	}
	with := func(key string, v any) string {
		c := proofClaims()
		c[key] = v
		return k.sign(c, nil)
	}
	// A proof whose jwk header is another key than the one it is signed
	// with.
	foreign := k.sign(proofClaims(), (&jose.SignerOptions{}).WithType(verify.DPoPProofType).
		WithHeader("jwk", jose.JSONWebKey{Key: other.key.Public()}))

	tests := []struct {
		name   string
		proofs []string
		reason string
	}{
		{"replayed", []string{replayed}, "replayed"},
		{"wrong htu", []string{with("htu", "https://as.example/oauth2/introspect")}, "htu"},
		{"other host", []string{with("htu", "https://evil.example/oauth2/token")}, "htu"},
		{"wrong htm", []string{with("htm", "GET")}, "htm"},
		{"stale iat", []string{with("iat", time.Now().Add(-10*time.Minute).Unix())}, "iat"},
		{"future iat", []string{with("iat", time.Now().Add(10*time.Minute).Unix())}, "iat"},
		{"signed by another key than its jwk", []string{foreign}, "signature"},
		{"wrong typ", []string{k.sign(proofClaims(), (&jose.SignerOptions{EmbedJWK: true}).WithType("JWT"))}, "malformed"},
		{"not a JWS", []string{"not-a-proof"}, "malformed"},
		{"empty", []string{""}, "malformed"},
		{"two DPoP headers", []string{k.proof(), k.proof()}, "multiple"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := refusals(t, h, tc.reason)
			res := h.dpopToken("svc-opaque", secrets[store.FormatOpaque], ccForm, tc.proofs...)
			if res.status != http.StatusBadRequest || res.body["error"] != "invalid_dpop_proof" {
				t.Fatalf("got %d %v, want 400 invalid_dpop_proof", res.status, res.body)
			}
			desc, _ := res.body["error_description"].(string)
			for _, p := range tc.proofs {
				if p != "" && strings.Contains(desc, p) {
					t.Errorf("the description quotes the proof: %q", desc)
				}
			}
			if got := refusals(t, h, tc.reason); got != before+1 {
				t.Errorf("dpop refusals with reason %q went from %v to %v, want +1", tc.reason, before, got)
			}
		})
	}
}

// publicCodeClient registers a public client (auth method none) with the
// code and refresh grants, and returns a logged-in user's cookie.
func publicCodeClient(h *harness, id string) *http.Cookie {
	h.t.Helper()
	c := store.Client{
		ID: id, AuthMethod: store.AuthNone, GrantTypes: []string{"authorization_code", "refresh_token"},
		RedirectURIs: []string{"https://app.example/cb"}, Scopes: []string{"openid", "read"}, SkipConsent: true,
		AccessTokenFormat: store.FormatOpaque, CreatedAt: time.Now(), UpdatedAt: time.Now(),
	}
	if err := h.db.CreateClient(context.Background(), c); err != nil {
		h.t.Fatal(err)
	}
	return h.session(h.user("user-of-" + id))
}

// code runs an authorization request of client id with extra parameters
// and returns the code.
func (h *harness) code(id string, cookie *http.Cookie, extra url.Values) string {
	h.t.Helper()
	r := httptest.NewRequest(http.MethodGet, authorizeURL(id, "openid read", extra), nil)
	r.AddCookie(cookie)
	q := redirectQuery(h.t, h.do(r))
	if q.Get("code") == "" {
		h.t.Fatalf("authorization response %v, want a code", q)
	}
	return q.Get("code")
}

func codeForm(code string) url.Values {
	verifier, _ := pkcePair()
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier},
		"redirect_uri": {"https://app.example/cb"}}
}

func refreshForm(rt any) url.Values {
	s, _ := rt.(string)
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {s}}
}

// TestDPoPPublicRefreshBound: a public client's refresh token is bound to
// the key of its code exchange (RFC 9449 §5.0): refreshing without a
// proof, or with another key's, is invalid_grant and spends nothing; with
// the key, it works and stays bound.
func TestDPoPPublicRefreshBound(t *testing.T) {
	h := newHarness(t, Config{}, harnessOptions{})
	cookie := publicCodeClient(h, "spa")
	k, other := newDPoPKey(t), newDPoPKey(t)

	res := h.dpopToken("spa", "", codeForm(h.code("spa", cookie, nil)), k.proof())
	if res.status != http.StatusOK || res.body["token_type"] != "DPoP" || res.body["refresh_token"] == nil {
		t.Fatalf("code exchange = %d %v", res.status, res.body)
	}
	rt := res.body["refresh_token"]

	for _, tc := range []struct {
		name   string
		proofs []string
	}{
		{"without a proof", nil},
		{"with another key's proof", []string{other.proof()}},
	} {
		got := h.dpopToken("spa", "", refreshForm(rt), tc.proofs...)
		if got.status != http.StatusBadRequest || got.body["error"] != "invalid_grant" {
			t.Errorf("refresh %s = %d %v, want 400 invalid_grant", tc.name, got.status, got.body)
		}
	}
	// Neither attempt spent the token (nor revoked its grant).
	res = h.dpopToken("spa", "", refreshForm(rt), k.proof())
	if res.status != http.StatusOK || res.body["token_type"] != "DPoP" {
		t.Fatalf("refresh with the key = %d %v", res.status, res.body)
	}
	// The rotated refresh token is bound to the same key.
	if got := h.dpopToken("spa", "", refreshForm(res.body["refresh_token"])); got.body["error"] != "invalid_grant" {
		t.Errorf("rotated refresh token without a proof = %d %v, want invalid_grant", got.status, got.body)
	}
	if got := h.dpopToken("spa", "", refreshForm(res.body["refresh_token"]), k.proof()); got.status != http.StatusOK {
		t.Errorf("rotated refresh token with the key = %d %v", got.status, got.body)
	}
}

// TestDPoPConfidentialRefreshUnbound: a confidential client's refresh
// token is not bound (RFC 9449 §5.0): without a proof it gets a bearer
// token, with any key's proof a token bound to that key.
func TestDPoPConfidentialRefreshUnbound(t *testing.T) {
	h, secrets := dpopHarness(t, Config{})
	secret := h.client(store.Client{
		ID: "web", GrantTypes: []string{"authorization_code", "refresh_token"},
		RedirectURIs: []string{"https://app.example/cb"}, Scopes: []string{"openid", "read"}, SkipConsent: true,
	})
	cookie := h.session(h.user("alice"))
	k, other := newDPoPKey(t), newDPoPKey(t)
	res := h.dpopToken("web", secret, codeForm(h.code("web", cookie, nil)), k.proof())
	if res.status != http.StatusOK || res.body["token_type"] != "DPoP" {
		t.Fatalf("code exchange = %d %v", res.status, res.body)
	}
	res = h.dpopToken("web", secret, refreshForm(res.body["refresh_token"]))
	if res.status != http.StatusOK || res.body["token_type"] != "Bearer" {
		t.Fatalf("refresh without a proof = %d %v, want a Bearer token", res.status, res.body)
	}
	res = h.dpopToken("web", secret, refreshForm(res.body["refresh_token"]), other.proof())
	if res.status != http.StatusOK || res.body["token_type"] != "DPoP" {
		t.Fatalf("refresh with another key's proof = %d %v, want a DPoP token", res.status, res.body)
	}
	_, body := h.introspectJSON(secrets["rs"], res.body["access_token"].(string), "")
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	if got := cnfJKT(m); got != other.jkt() {
		t.Errorf("refreshed token cnf.jkt = %q, want the new key's %q", got, other.jkt())
	}
}

// TestDPoPCodeBoundByDPoPJKT: a code requested with dpop_jkt is redeemed
// only with a proof by that key (RFC 9449 §10).
func TestDPoPCodeBoundByDPoPJKT(t *testing.T) {
	h := newHarness(t, Config{}, harnessOptions{})
	cookie := publicCodeClient(h, "spa")
	k, other := newDPoPKey(t), newDPoPKey(t)
	bound := url.Values{"dpop_jkt": {k.jkt()}}

	for _, tc := range []struct {
		name   string
		proofs []string
	}{
		{"without a proof", nil},
		{"with another key's proof", []string{other.proof()}},
	} {
		res := h.dpopToken("spa", "", codeForm(h.code("spa", cookie, bound)), tc.proofs...)
		if res.status != http.StatusBadRequest || res.body["error"] != "invalid_grant" {
			t.Errorf("code redeemed %s = %d %v, want 400 invalid_grant", tc.name, res.status, res.body)
		}
	}
	res := h.dpopToken("spa", "", codeForm(h.code("spa", cookie, bound)), k.proof())
	if res.status != http.StatusOK || res.body["token_type"] != "DPoP" {
		t.Fatalf("code redeemed with its key = %d %v", res.status, res.body)
	}
}

// TestDPoPJKTParameter: dpop_jkt is a base64url SHA-256 thumbprint or
// the authorization request is invalid_request, sent back to the client.
func TestDPoPJKTParameter(t *testing.T) {
	good := newDPoPKey(t).jkt()
	tests := []struct {
		name   string
		params url.Values
		want   string
		ok     bool
	}{
		{"absent", url.Values{}, "", true},
		{"thumbprint", url.Values{"dpop_jkt": {good}}, good, true},
		{"empty", url.Values{"dpop_jkt": {""}}, "", false},
		{"too short", url.Values{"dpop_jkt": {good[:42]}}, "", false},
		{"too long", url.Values{"dpop_jkt": {good + "A"}}, "", false},
		{"padded", url.Values{"dpop_jkt": {good[:42] + "="}}, "", false},
		{"standard base64", url.Values{"dpop_jkt": {"+" + good[1:]}}, "", false},
		// 43 characters whose last one has low bits set: not canonical.
		{"non-canonical", url.Values{"dpop_jkt": {strings.Repeat("A", 42) + "B"}}, "", false},
	}
	for _, tc := range tests {
		got, err := parseDPoPJKT(tc.params)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%s: parseDPoPJKT = %q, %v; want %q, ok %v", tc.name, got, err, tc.want, tc.ok)
		}
		if err != nil && errorCode(err) != errInvalidRequest {
			t.Errorf("%s: error code %q, want invalid_request", tc.name, errorCode(err))
		}
	}

	h := newHarness(t, Config{}, harnessOptions{})
	cookie := publicCodeClient(h, "spa")
	r := httptest.NewRequest(http.MethodGet, authorizeURL("spa", "openid read", url.Values{"dpop_jkt": {"nope"}}), nil)
	r.AddCookie(cookie)
	if q := redirectQuery(t, h.do(r)); q.Get("error") != errInvalidRequest || q.Get("code") != "" {
		t.Errorf("authorize with a malformed dpop_jkt = %v, want error=invalid_request", q)
	}
}

// TestDPoPNonceFlow: with nonces required, a proof without one is refused
// with use_dpop_nonce and a DPoP-Nonce header; the retry with that nonce
// succeeds and its answer carries a nonce too (RFC 9449 §8).
func TestDPoPNonceFlow(t *testing.T) {
	h, secrets := dpopHarness(t, Config{DPoP: DPoPConfig{RequireNonce: true}})
	k := newDPoPKey(t)
	res := h.dpopToken("svc-opaque", secrets[store.FormatOpaque], ccForm, k.proof())
	nonce := res.header.Get("DPoP-Nonce")
	if res.status != http.StatusBadRequest || res.body["error"] != "use_dpop_nonce" || nonce == "" {
		t.Fatalf("proof without a nonce = %d %v (DPoP-Nonce %q), want 400 use_dpop_nonce with a nonce", res.status, res.body, nonce)
	}
	if got := h.dpopToken("svc-opaque", secrets[store.FormatOpaque], ccForm, k.proofWithNonce("made-up")); got.body["error"] != "use_dpop_nonce" {
		t.Errorf("proof with a made-up nonce = %d %v, want use_dpop_nonce", got.status, got.body)
	}
	res = h.dpopToken("svc-opaque", secrets[store.FormatOpaque], ccForm, k.proofWithNonce(nonce))
	if res.status != http.StatusOK || res.body["token_type"] != "DPoP" {
		t.Fatalf("proof with the nonce = %d %v", res.status, res.body)
	}
	if res.header.Get("DPoP-Nonce") == "" {
		t.Error("successful token response without DPoP-Nonce")
	}
}

// TestNonceRotation: a nonce is good in its step and the next, not
// before it was made and not after (RFC 9449 §8.2).
func TestNonceRotation(t *testing.T) {
	key := make([]byte, 32)
	n, err := newNonceSource(key, harnessIssuer, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	made := time.Unix(1_800_000_000, 0) // the start of a step
	nonce := n.at(made)
	tests := []struct {
		name string
		at   time.Time
		want bool
	}{
		{"same step", made.Add(59 * time.Second), true},
		{"next step", made.Add(119 * time.Second), true},
		{"two steps on", made.Add(120 * time.Second), false},
		{"step before", made.Add(-time.Second), false},
	}
	for _, tc := range tests {
		if got := n.valid(nonce, tc.at); got != tc.want {
			t.Errorf("%s: valid = %v, want %v", tc.name, got, tc.want)
		}
	}
	// Another issuer under the same key has other nonces.
	o, _ := newNonceSource(key, "https://other.example", time.Minute)
	if o.valid(nonce, made) {
		t.Error("another issuer's nonce source accepts this one's nonce")
	}
	if _, err := newNonceSource(key[:16], harnessIssuer, time.Minute); err == nil {
		t.Error("a 16-byte nonce key was accepted")
	}
}

// TestDPoPDiscovery: the proof algorithms are advertised (RFC 9449 §5.1).
func TestDPoPDiscovery(t *testing.T) {
	for _, tc := range []struct {
		algs, want []string
	}{
		{nil, verify.DPoPAlgorithms},
		{[]string{"ES256", "EdDSA"}, []string{"ES256", "EdDSA"}},
	} {
		h := newHarness(t, Config{DPoP: DPoPConfig{Algorithms: tc.algs}}, harnessOptions{})
		rec := h.do(httptest.NewRequest(http.MethodGet, harnessIssuer+"/.well-known/oauth-authorization-server", nil))
		var doc struct {
			Algs []string `json:"dpop_signing_alg_values_supported"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(doc.Algs, tc.want) {
			t.Errorf("dpop_signing_alg_values_supported = %v, want %v", doc.Algs, tc.want)
		}
	}
}

// TestDPoPAlgorithmNotAllowed: a proof signed with an algorithm the
// configuration leaves out is refused.
func TestDPoPAlgorithmNotAllowed(t *testing.T) {
	h, secrets := dpopHarness(t, Config{DPoP: DPoPConfig{Algorithms: []string{"EdDSA"}}})
	res := h.dpopToken("svc-opaque", secrets[store.FormatOpaque], ccForm, newDPoPKey(t).proof())
	if res.status != http.StatusBadRequest || res.body["error"] != "invalid_dpop_proof" {
		t.Errorf("ES256 proof with only EdDSA allowed = %d %v, want invalid_dpop_proof", res.status, res.body)
	}
}

// TestDPoPCnfNotFromAttributes: a user attribute named cnf, should the
// configuration let one through, neither forges nor drops a binding.
func TestDPoPCnfNotFromAttributes(t *testing.T) {
	h := newHarness(t, Config{ClaimAttributes: []string{"cnf"}}, harnessOptions{})
	secret := h.client(store.Client{
		ID: "web", GrantTypes: []string{"authorization_code"}, AccessTokenFormat: store.FormatJWT,
		RedirectURIs: []string{"https://app.example/cb"}, Scopes: []string{"openid", "read"}, SkipConsent: true,
	})
	u, err := identity.NewUsers(h.db, identity.NewHasher(1), nil).Create(context.Background(), "mallory",
		"correct horse battery", nil, map[string]string{"cnf": "forged"})
	if err != nil {
		t.Fatal(err)
	}
	cookie := h.session(u.ID)
	for _, k := range []*dpopKey{nil, newDPoPKey(t)} {
		var proofs []string
		want := ""
		if k != nil {
			proofs, want = []string{k.proof()}, k.jkt()
		}
		res := h.dpopToken("web", secret, codeForm(h.code("web", cookie, nil)), proofs...)
		if res.status != http.StatusOK {
			t.Fatalf("code exchange = %d %v", res.status, res.body)
		}
		c := jwtPayload(t, res.body["access_token"].(string))
		if got := cnfJKT(c); got != want || (want == "" && c["cnf"] != nil) {
			t.Errorf("cnf = %v, want jkt %q", c["cnf"], want)
		}
	}
}

// FuzzParseDPoPJKT: whatever an authorization request carries as
// dpop_jkt, an accepted value is a canonical base64url encoding of a
// SHA-256 thumbprint, and a refusal is invalid_request.
func FuzzParseDPoPJKT(f *testing.F) {
	for _, s := range []string{"", "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I", strings.Repeat("A", 42) + "B", "a=b", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseDPoPJKT(url.Values{"dpop_jkt": {s}})
		if err != nil {
			if errorCode(err) != errInvalidRequest {
				t.Fatalf("error code %q, want invalid_request", errorCode(err))
			}
			return
		}
		b, derr := base64.RawURLEncoding.DecodeString(got)
		if got != s || derr != nil || len(b) != 32 || base64.RawURLEncoding.EncodeToString(b) != s {
			t.Fatalf("accepted %q, which is not a canonical SHA-256 thumbprint", s)
		}
	})
}
