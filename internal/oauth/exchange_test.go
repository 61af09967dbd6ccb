package oauth

import (
	"context"
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
	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/token"
)

// Audiences of the exchange tests.
const (
	audInventory = "https://inventory.example"
	audBilling   = "https://billing.example"
	audPayroll   = "https://payroll.example"
)

// exchangeRules is the policy of the exchange tests: svc1 may reach
// inventory and billing, svc2 only billing (with less), svc3 impersonates
// at inventory, svc4 has the grant type but no rule.
var exchangeRules = []policy.ExchangeRule{
	{Name: "svc1", Clients: []string{"svc1"}, Audiences: []string{audInventory, audBilling},
		Scopes: []string{"list_items", "order_item"}},
	{Name: "svc2", Clients: []string{"svc2"}, Audiences: []string{audBilling}, Scopes: []string{"list_items"}},
	{Name: "svc3", Clients: []string{"svc3"}, Audiences: []string{audInventory}, Scopes: []string{"list_items"},
		Impersonation: true},
	{Name: "svc1-head-office", Clients: []string{"svc1"}, Audiences: []string{audPayroll}, Scopes: []string{"list_items"},
		Condition: `has(subject.claims.office) && subject.claims.office == "head"`},
}

// exchangeEnv is a harness with token exchange on, its clients and an
// external issuer.
type exchangeEnv struct {
	*harness
	secrets map[string]string
	alice   string
	ext     *externalIssuer
}

func newExchangeEnv(t *testing.T) *exchangeEnv {
	t.Helper()
	h := newHarness(t, Config{}, harnessOptions{})
	p, err := policy.CompileExchange(exchangeRules)
	if err != nil {
		t.Fatal(err)
	}
	ext := newExternalIssuer(t)
	h.srv.o.Exchange = &ExchangeOptions{
		Policy:  p,
		Issuers: map[string]*token.Verifier{ext.issuer: ext.verifier(t, harnessIssuer)},
	}
	e := &exchangeEnv{harness: h, secrets: map[string]string{}, ext: ext}
	both := []string{"client_credentials", grantTokenExchange}
	for _, c := range []store.Client{
		{ID: "svc1", GrantTypes: both, Scopes: []string{"svc"}},
		{ID: "svc2", GrantTypes: both, AccessTokenFormat: store.FormatJWT},
		{ID: "svc3", GrantTypes: both},
		{ID: "svc4", GrantTypes: both},
		{ID: "nogrant", GrantTypes: []string{"client_credentials"}},
		{ID: "spa", GrantTypes: []string{"authorization_code"}},
		{ID: "gateway", GrantTypes: []string{"client_credentials"}, CanIntrospect: true},
	} {
		e.secrets[c.ID] = h.client(c)
	}
	e.alice = h.user("alice")
	return e
}

// mint stores an access token like issue does and returns what its
// client holds. Zero fields get a user token of alice for spa.
func (e *exchangeEnv) mint(rec store.Token) string {
	e.t.Helper()
	now := time.Now().Truncate(time.Second)
	if rec.Kind == "" {
		rec.Kind = store.KindAccess
	}
	if rec.ClientID == "" {
		rec.ClientID = "spa"
	}
	if rec.Subject == "" {
		rec.Subject = e.alice
	}
	if rec.Scope == "" {
		rec.Scope = "list_items order_item"
	}
	if rec.Audience == nil {
		rec.Audience = []string{"https://warehouse.example"}
	}
	if rec.Claims == nil {
		rec.Claims = []byte(`{"roles":["warehouse_admin"]}`)
	}
	if rec.IssuedAt.IsZero() {
		rec.IssuedAt = now.Add(-time.Minute)
	}
	if rec.ExpiresAt.IsZero() {
		rec.ExpiresAt = now.Add(time.Hour)
	}
	rec.JTI = token.NewID()
	raw, err := e.srv.mintAccess(&rec)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.db.CreateToken(context.Background(), rec); err != nil {
		e.t.Fatal(err)
	}
	return raw
}

// exchange posts a token exchange request as client id.
func (e *exchangeEnv) exchange(id string, form url.Values) (int, map[string]any) {
	e.t.Helper()
	form.Set("grant_type", grantTokenExchange)
	return e.token(id, e.secrets[id], form)
}

// introspect returns the introspection answer for tok.
func (e *exchangeEnv) introspect(tok string) map[string]any {
	e.t.Helper()
	r := httptest.NewRequest(http.MethodPost, harnessIssuer+pathIntrospect, strings.NewReader(url.Values{"token": {tok}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth("gateway", url.QueryEscape(e.secrets["gateway"]))
	rec := e.do(r)
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		e.t.Fatalf("introspection %d: %v: %s", rec.Code, err, rec.Body)
	}
	return m
}

// phantom returns the claims of the phantom token of tok.
func (e *exchangeEnv) phantom(tok string) map[string]any {
	e.t.Helper()
	r := httptest.NewRequest(http.MethodPost, harnessIssuer+pathIntrospect, strings.NewReader(url.Values{"token": {tok}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Accept", "application/jwt")
	r.SetBasicAuth("gateway", url.QueryEscape(e.secrets["gateway"]))
	rec := e.do(r)
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/jwt" {
		e.t.Fatalf("phantom token: %d %s", rec.Code, rec.Body)
	}
	return jwtClaims(e.t, rec.Body.String())
}

// jwtClaims decodes a JWT's payload without verifying it.
func jwtClaims(t *testing.T, jws string) map[string]any {
	t.Helper()
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jws)
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

func exchangeForm(subject, typ string, kv ...string) url.Values {
	f := url.Values{"subject_token": {subject}, "subject_token_type": {typ}}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Add(kv[i], kv[i+1])
	}
	return f
}

func TestExchangeDelegation(t *testing.T) {
	e := newExchangeEnv(t)
	for _, format := range []string{store.FormatOpaque, store.FormatJWT, store.FormatSplit} {
		t.Run(format, func(t *testing.T) {
			subject := e.mint(store.Token{Format: format, GrantID: "g1", AuthTime: time.Now().Add(-time.Hour).Truncate(time.Second)})
			code, resp := e.exchange("svc1", exchangeForm(subject, tokenTypeAccess,
				"audience", audInventory, "scope", "list_items"))
			if code != http.StatusOK {
				t.Fatalf("exchange: %d %v", code, resp)
			}
			for k, want := range map[string]any{
				"issued_token_type": tokenTypeAccess, "token_type": "Bearer", "scope": "list_items",
			} {
				if resp[k] != want {
					t.Errorf("response %s = %v, want %v", k, resp[k], want)
				}
			}
			if _, ok := resp["refresh_token"]; ok {
				t.Error("response has a refresh_token, want none (RFC 8693 §2.2.1)")
			}
			if exp, _ := resp["expires_in"].(float64); exp <= 0 || exp > defaultExchangeTTL.Seconds() {
				t.Errorf("expires_in = %v, want within (0, %v]", exp, defaultExchangeTTL.Seconds())
			}
			tok := resp["access_token"].(string)
			got := e.introspect(tok)
			want := map[string]any{
				"active": true, "sub": e.alice, "client_id": "svc1", "aud": audInventory, "scope": "list_items",
				"act": map[string]any{"sub": "svc1"}, "roles": []any{"warehouse_admin"},
			}
			for k, w := range want {
				if diff := cmp.Diff(w, got[k]); diff != "" {
					t.Errorf("introspection %s mismatch (-want +got):\n%s", k, diff)
				}
			}
			if got["auth_time"] == nil {
				t.Error("introspection has no auth_time, want the subject token's")
			}
			if diff := cmp.Diff(map[string]any{"sub": "svc1"}, e.phantom(tok)["act"]); diff != "" {
				t.Errorf("phantom act mismatch (-want +got):\n%s", diff)
			}
			// The exchanged token shares the subject token's grant, so
			// revoking the grant revokes it too.
			stored, err := e.db.GetToken(context.Background(), token.Digest(tok))
			if err != nil {
				t.Fatal(err)
			}
			if stored.GrantID != "g1" {
				t.Errorf("stored GrantID = %q, want g1", stored.GrantID)
			}
		})
	}
}

// TestExchangeTwoHops exchanges a user's token at service 1, then the
// result at service 2: the act chain nests service 1 under service 2.
func TestExchangeTwoHops(t *testing.T) {
	e := newExchangeEnv(t)
	subject := e.mint(store.Token{})
	code, first := e.exchange("svc1", exchangeForm(subject, tokenTypeAccess, "audience", audBilling))
	if code != http.StatusOK {
		t.Fatalf("first hop: %d %v", code, first)
	}
	if first["scope"] != "list_items order_item" {
		t.Errorf("first hop scope = %v, want every subject scope the policy allows", first["scope"])
	}
	code, second := e.exchange("svc2", exchangeForm(first["access_token"].(string), tokenTypeAccess,
		"resource", audBilling))
	if code != http.StatusOK {
		t.Fatalf("second hop: %d %v", code, second)
	}
	if second["scope"] != "list_items" {
		t.Errorf("second hop scope = %v, want list_items (narrowed by policy)", second["scope"])
	}
	wantAct := map[string]any{"sub": "svc2", "act": map[string]any{"sub": "svc1"}}
	// svc2's tokens are JWTs: the act chain is in the token itself, in
	// introspection and in the phantom token.
	tok := second["access_token"].(string)
	jwt := jwtClaims(t, tok)
	for name, claims := range map[string]map[string]any{
		"jwt": jwt, "introspection": e.introspect(tok), "phantom": e.phantom(tok),
	} {
		if diff := cmp.Diff(wantAct, claims["act"]); diff != "" {
			t.Errorf("%s act mismatch (-want +got):\n%s", name, diff)
		}
		if claims["sub"] != e.alice {
			t.Errorf("%s sub = %v, want %s", name, claims["sub"], e.alice)
		}
	}
}

// TestExchangeRequestedJWT: a client of JWT access tokens may ask for the
// JWT token type (RFC 8693 §3) and gets a JWT named so; a client of
// opaque tokens may not, and nothing is issued.
func TestExchangeRequestedJWT(t *testing.T) {
	e := newExchangeEnv(t)
	subject := e.mint(store.Token{})
	for _, tt := range []struct {
		client, requested, wantType string
	}{
		{"svc2", tokenTypeJWT, tokenTypeJWT},
		{"svc2", tokenTypeAccess, tokenTypeAccess},
		{"svc2", "", tokenTypeAccess},
	} {
		code, resp := e.exchange(tt.client, exchangeForm(subject, tokenTypeAccess, "audience", audBilling,
			"requested_token_type", tt.requested))
		if code != http.StatusOK {
			t.Fatalf("%s asking %q: %d %v", tt.client, tt.requested, code, resp)
		}
		if resp["issued_token_type"] != tt.wantType || resp["token_type"] != "Bearer" {
			t.Errorf("%s asking %q: issued_token_type %v token_type %v, want %s Bearer",
				tt.client, tt.requested, resp["issued_token_type"], resp["token_type"], tt.wantType)
		}
		if claims := jwtClaims(t, resp["access_token"].(string)); claims["sub"] != e.alice {
			t.Errorf("%s asking %q: sub %v, want %s", tt.client, tt.requested, claims["sub"], e.alice)
		}
	}
	code, resp := e.exchange("svc1", exchangeForm(subject, tokenTypeAccess, "audience", audBilling,
		"requested_token_type", tokenTypeJWT))
	if code != http.StatusBadRequest || resp["error"] != errInvalidRequest || resp["access_token"] != nil {
		t.Errorf("opaque client asking for a JWT: %d %v, want 400 invalid_request", code, resp)
	}
}

func TestExchangeLifetime(t *testing.T) {
	e := newExchangeEnv(t)
	subject := e.mint(store.Token{ExpiresAt: time.Now().Add(90 * time.Second)})
	code, resp := e.exchange("svc1", exchangeForm(subject, tokenTypeAccess, "audience", audInventory))
	if code != http.StatusOK {
		t.Fatalf("exchange: %d %v", code, resp)
	}
	if exp, _ := resp["expires_in"].(float64); exp > 90 || exp < 80 {
		t.Errorf("expires_in = %v, want no longer than the subject token's remaining 90s", exp)
	}
	e.srv.o.Exchange.MaxTTL = 30 * time.Second
	_, resp = e.exchange("svc1", exchangeForm(e.mint(store.Token{}), tokenTypeAccess, "audience", audInventory))
	if resp["expires_in"] != 30.0 {
		t.Errorf("expires_in = %v, want 30 (MaxTTL)", resp["expires_in"])
	}
}

func TestExchangeActorAndImpersonation(t *testing.T) {
	e := newExchangeEnv(t)
	actor := e.mint(store.Token{ClientID: "svc1", Subject: "svc1", Scope: "svc", Claims: []byte(`{}`)})
	tests := []struct {
		name    string
		client  string
		subject store.Token
		form    []string
		wantAct any
	}{
		{"actor token names the actor", "svc1", store.Token{},
			[]string{"actor_token", actor, "actor_token_type", tokenTypeAccess}, map[string]any{"sub": "svc1"}},
		{"impersonation: no act", "svc3", store.Token{}, nil, nil},
		{"impersonation keeps the subject's chain", "svc3",
			store.Token{Claims: []byte(`{"act":{"sub":"svc0"}}`)}, nil, map[string]any{"sub": "svc0"}},
		{"actor token means delegation even under impersonation", "svc3", store.Token{},
			[]string{"actor_token", actor, "actor_token_type", tokenTypeAccess}, map[string]any{"sub": "svc1"}},
		{"may_act names the client", "svc1", store.Token{Claims: []byte(`{"may_act":{"sub":"svc1"}}`)}, nil,
			map[string]any{"sub": "svc1"}},
		{"may_act names the actor token's subject", "svc2", store.Token{Claims: []byte(`{"may_act":{"sub":"svc1"}}`)},
			[]string{"actor_token", actor, "actor_token_type", tokenTypeAccess, "audience", audBilling},
			map[string]any{"sub": "svc1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := exchangeForm(e.mint(tt.subject), tokenTypeAccess, tt.form...)
			if !form.Has("audience") {
				form.Set("audience", audInventory)
			}
			code, resp := e.exchange(tt.client, form)
			if code != http.StatusOK {
				t.Fatalf("exchange: %d %v", code, resp)
			}
			got := e.introspect(resp["access_token"].(string))
			if diff := cmp.Diff(tt.wantAct, got["act"]); diff != "" {
				t.Errorf("act mismatch (-want +got):\n%s", diff)
			}
			if got["may_act"] != nil {
				t.Errorf("may_act = %v, want it not carried on", got["may_act"])
			}
		})
	}
}

func TestExchangeIDToken(t *testing.T) {
	e := newExchangeEnv(t)
	u, err := e.db.GetUser(context.Background(), e.alice)
	if err != nil {
		t.Fatal(err)
	}
	id, err := e.srv.idToken(grant{client: store.Client{ID: "spa"}, user: &u, authTime: time.Now()}, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	code, resp := e.exchange("svc1", exchangeForm(id, tokenTypeID, "audience", audInventory))
	if code != http.StatusOK {
		t.Fatalf("exchange: %d %v", code, resp)
	}
	got := e.introspect(resp["access_token"].(string))
	if got["sub"] != e.alice || got["scope"] != nil {
		t.Errorf("introspection = %v, want sub %s and no scope (an ID token grants none)", got, e.alice)
	}
	// A scope is more than an ID token grants.
	code, resp = e.exchange("svc1", exchangeForm(id, tokenTypeID, "audience", audInventory, "scope", "list_items"))
	if code != http.StatusBadRequest || resp["error"] != errInvalidScope {
		t.Errorf("scope from an ID token: %d %v, want invalid_scope", code, resp)
	}
}

func TestExchangeExternalIssuer(t *testing.T) {
	e := newExchangeEnv(t)
	now := time.Now()
	ok := e.ext.sign(t, map[string]any{"iss": e.ext.issuer, "sub": "partner-user", "aud": harnessIssuer,
		"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "scope": "list_items", "client_id": "partner-app"})
	code, resp := e.exchange("svc1", exchangeForm(ok, tokenTypeJWT, "audience", audInventory))
	if code != http.StatusOK {
		t.Fatalf("exchange: %d %v", code, resp)
	}
	got := e.introspect(resp["access_token"].(string))
	if got["sub"] != "partner-user" || got["scope"] != "list_items" {
		t.Errorf("introspection = %v, want the partner's subject and scope", got)
	}
	if diff := cmp.Diff(map[string]any{"sub": "svc1"}, got["act"]); diff != "" {
		t.Errorf("act mismatch (-want +got):\n%s", diff)
	}
}

// TestExchangeRefused is every way an exchange must fail, with the error
// of RFC 8693 §2.2.2 (or RFC 6749 §5.2).
func TestExchangeRefused(t *testing.T) {
	e := newExchangeEnv(t)
	now := time.Now()
	good := e.mint(store.Token{})
	revoked := e.mint(store.Token{})
	if err := e.db.RevokeToken(context.Background(), token.Digest(revoked)); err != nil {
		t.Fatal(err)
	}
	expired := e.mint(store.Token{IssuedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)})
	refresh := e.mint(store.Token{Kind: store.KindRefresh})
	jwtAccess := e.mint(store.Token{Format: store.FormatJWT})
	mayActOther := e.mint(store.Token{Claims: []byte(`{"may_act":{"sub":"svc2"}}`)})
	mayActOtherIssuer := e.mint(store.Token{Claims: []byte(`{"may_act":{"sub":"svc1","iss":"https://elsewhere.example"}}`)})
	deep := e.mint(store.Token{Claims: []byte(`{"act":{"sub":"a","act":{"sub":"b","act":{"sub":"c","act":{"sub":"d","act":{"sub":"e"}}}}}}`)})
	untrusted := (&externalIssuer{issuer: "https://evil.example", key: newKey(t)}).sign(t, map[string]any{
		"iss": "https://evil.example", "sub": "mallory", "aud": harnessIssuer, "exp": now.Add(time.Hour).Unix()})
	forged := (&externalIssuer{issuer: e.ext.issuer, key: newKey(t)}).sign(t, map[string]any{
		"iss": e.ext.issuer, "sub": "mallory", "aud": harnessIssuer, "exp": now.Add(time.Hour).Unix()})
	wrongAud := e.ext.sign(t, map[string]any{"iss": e.ext.issuer, "sub": "partner-user", "aud": "https://other.example",
		"exp": now.Add(time.Hour).Unix()})
	extExpired := e.ext.sign(t, map[string]any{"iss": e.ext.issuer, "sub": "partner-user", "aud": harnessIssuer,
		"exp": now.Add(-time.Hour).Unix()})
	inv := "audience"
	tests := []struct {
		name     string
		client   string
		form     url.Values
		wantCode int
		wantErr  string
	}{
		{"scope wider than the subject token", "svc1",
			exchangeForm(good, tokenTypeAccess, inv, audInventory, "scope", "list_items admin"), 400, errInvalidScope},
		{"scope the policy does not allow", "svc2",
			exchangeForm(good, tokenTypeAccess, inv, audBilling, "scope", "order_item"), 400, errInvalidScope},
		{"audience wider than the policy", "svc1",
			exchangeForm(good, tokenTypeAccess, inv, audInventory, inv, audPayroll), 400, errInvalidTarget},
		{"unknown audience", "svc1", exchangeForm(good, tokenTypeAccess, inv, "https://unknown.example"), 400, errInvalidTarget},
		{"audience of another client's rule", "svc2", exchangeForm(good, tokenTypeAccess, inv, audInventory), 400, errInvalidTarget},
		{"resource with a fragment", "svc1", exchangeForm(good, tokenTypeAccess, "resource", audInventory+"#x"), 400, errInvalidTarget},
		{"no audience", "svc1", exchangeForm(good, tokenTypeAccess), 400, errInvalidRequest},
		{"policy default deny", "svc4", exchangeForm(good, tokenTypeAccess, inv, audInventory), 400, errInvalidTarget},
		{"condition false", "svc1", exchangeForm(good, tokenTypeAccess, inv, audPayroll), 400, errInvalidTarget},
		{"revoked subject token", "svc1", exchangeForm(revoked, tokenTypeAccess, inv, audInventory), 400, errInvalidRequest},
		{"expired subject token", "svc1", exchangeForm(expired, tokenTypeAccess, inv, audInventory), 400, errInvalidRequest},
		{"unknown subject token", "svc1", exchangeForm("pc_at_nothing", tokenTypeAccess, inv, audInventory), 400, errInvalidRequest},
		{"refresh token as subject", "svc1", exchangeForm(refresh, tokenTypeAccess, inv, audInventory), 400, errInvalidRequest},
		{"access token as id token", "svc1", exchangeForm(jwtAccess, tokenTypeID, inv, audInventory), 400, errInvalidRequest},
		{"untrusted issuer", "svc1", exchangeForm(untrusted, tokenTypeJWT, inv, audInventory), 400, errInvalidRequest},
		{"trusted issuer, wrong key", "svc1", exchangeForm(forged, tokenTypeJWT, inv, audInventory), 400, errInvalidRequest},
		{"trusted issuer, wrong audience", "svc1", exchangeForm(wrongAud, tokenTypeJWT, inv, audInventory), 400, errInvalidRequest},
		{"trusted issuer, expired", "svc1", exchangeForm(extExpired, tokenTypeJWT, inv, audInventory), 400, errInvalidRequest},
		{"actor not in may_act", "svc1", exchangeForm(mayActOther, tokenTypeAccess, inv, audInventory), 400, errInvalidRequest},
		{"may_act of another issuer", "svc1", exchangeForm(mayActOtherIssuer, tokenTypeAccess, inv, audInventory), 400, errInvalidRequest},
		{"delegation chain too long", "svc1", exchangeForm(deep, tokenTypeAccess, inv, audInventory), 400, errInvalidRequest},
		{"invalid actor token", "svc1",
			exchangeForm(good, tokenTypeAccess, inv, audInventory, "actor_token", revoked, "actor_token_type", tokenTypeAccess), 400, errInvalidRequest},
		{"client without the grant type", "nogrant", exchangeForm(good, tokenTypeAccess, inv, audInventory), 400, errUnauthorizedClient},
		{"missing subject_token", "svc1", url.Values{"subject_token_type": {tokenTypeAccess}, inv: {audInventory}}, 400, errInvalidRequest},
		{"missing subject_token_type", "svc1", url.Values{"subject_token": {good}, inv: {audInventory}}, 400, errInvalidRequest},
		{"unsupported subject_token_type", "svc1",
			exchangeForm(good, "urn:ietf:params:oauth:token-type:saml2", inv, audInventory), 400, errInvalidRequest},
		{"unsupported requested_token_type", "svc1",
			exchangeForm(good, tokenTypeAccess, inv, audInventory, "requested_token_type", "urn:ietf:params:oauth:token-type:refresh_token"), 400, errInvalidRequest},
		{"actor_token_type without actor_token", "svc1",
			exchangeForm(good, tokenTypeAccess, inv, audInventory, "actor_token_type", tokenTypeAccess), 400, errInvalidRequest},
		{"actor_token without actor_token_type", "svc1",
			exchangeForm(good, tokenTypeAccess, inv, audInventory, "actor_token", good), 400, errInvalidRequest},
		{"subject_token repeated", "svc1",
			exchangeForm(good, tokenTypeAccess, inv, audInventory, "subject_token", good), 400, errInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, resp := e.exchange(tt.client, tt.form)
			if code != tt.wantCode || resp["error"] != tt.wantErr {
				t.Errorf("exchange: %d %v, want %d %s", code, resp, tt.wantCode, tt.wantErr)
			}
			if _, ok := resp["access_token"]; ok {
				t.Error("an error response carries an access token")
			}
		})
	}
}

func TestExchangeDisabled(t *testing.T) {
	h := newHarness(t, Config{}, harnessOptions{})
	secret := h.client(store.Client{ID: "svc1", GrantTypes: []string{grantTokenExchange}})
	code, resp := h.token("svc1", secret, url.Values{"grant_type": {grantTokenExchange},
		"subject_token": {"x"}, "subject_token_type": {tokenTypeAccess}, "audience": {audInventory}})
	if code != http.StatusBadRequest || resp["error"] != errUnsupportedGrantType {
		t.Errorf("exchange while off: %d %v, want unsupported_grant_type", code, resp)
	}
}

func TestExchangeDiscovery(t *testing.T) {
	h := newHarness(t, Config{}, harnessOptions{})
	listed := func() bool {
		var doc discoveryDoc
		if err := json.Unmarshal(h.srv.discoveryJSON(), &doc); err != nil {
			t.Fatal(err)
		}
		return slices.Contains(doc.GrantTypesSupported, grantTokenExchange)
	}
	if listed() {
		t.Error("grant_types_supported lists token exchange while it is off")
	}
	h.srv.o.Exchange = &ExchangeOptions{}
	if !listed() {
		t.Error("grant_types_supported does not list token exchange while it is on")
	}
}

func TestMayAct(t *testing.T) {
	const us = "https://as.example"
	client := policy.Party{Sub: "svc1", Issuer: us, ClientID: "svc1"}
	tests := []struct {
		name string
		may  map[string]any
		want bool
	}{
		{"sub matches", map[string]any{"sub": "svc1"}, true},
		{"sub differs", map[string]any{"sub": "svc2"}, false},
		{"sub and iss match", map[string]any{"sub": "svc1", "iss": us}, true},
		{"iss differs", map[string]any{"sub": "svc1", "iss": "https://other.example"}, false},
		{"client_id matches", map[string]any{"client_id": "svc1"}, true},
		{"unknown claim", map[string]any{"sub": "svc1", "email": "x@example.com"}, false},
		{"empty names no one", map[string]any{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mayAct(tt.may, client, us); got != tt.want {
				t.Errorf("mayAct(%v) = %v, want %v", tt.may, got, tt.want)
			}
		})
	}
	if mayAct(map[string]any{"sub": "svc1"}, client, "https://partner.example") {
		t.Error("may_act without iss matched an actor of another issuer than the subject token's")
	}
}

// externalIssuer is a trusted issuer other than the server: its keys are
// served by an httptest server.
type externalIssuer struct {
	issuer string
	key    *ecdsa.PrivateKey
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newExternalIssuer(t *testing.T) *externalIssuer {
	t.Helper()
	x := &externalIssuer{key: newKey(t)}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: x.key.Public(), KeyID: "ext1", Algorithm: "ES256", Use: "sig"}}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(srv.Close)
	x.issuer = srv.URL
	return x
}

// verifier is the verifier the server wiring builds for a trusted issuer.
func (x *externalIssuer) verifier(t *testing.T, audience string) *token.Verifier {
	t.Helper()
	cache := token.NewJWKSCache(token.JWKSConfig{Issuer: x.issuer, JWKSURI: x.issuer + "/jwks"}, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := cache.Start(ctx); err != nil {
		t.Fatal(err)
	}
	v, err := token.NewVerifier(token.VerifierConfig{Issuer: x.issuer, Audiences: []string{audience},
		Types: []string{token.TypeAccessJWT, "JWT"}}, cache, nil)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (x *externalIssuer) sign(t *testing.T, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: x.key, KeyID: "ext1"}},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// FuzzExchangeParams feeds arbitrary subject tokens and targets to the
// parsing that runs before any signature is checked: it must never panic,
// and an unverified issuer is only ever a string read from the payload.
func FuzzExchangeParams(f *testing.F) {
	f.Add("eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIn0.c2ln", "https://inventory.example", "billing")
	f.Add("pca_abc", "urn:example:api", "")
	f.Add("a.b.c", "https://x.example/#frag", "with space")
	f.Fuzz(func(t *testing.T, raw, resource, audience string) {
		_ = unverifiedIssuer(raw)
		targets, err := exchangeTargets(url.Values{"resource": {resource}, "audience": {audience}})
		if err == nil && len(targets) == 0 {
			t.Error("exchangeTargets accepted a request without targets")
		}
	})
}

// TestExchangeDPoP: a DPoP proof on the exchange binds the new token to
// the proof's key (RFC 9449 §5); the subject token's own binding (cnf) is
// never carried over, since the exchanging client does not hold that key.
func TestExchangeDPoP(t *testing.T) {
	e := newExchangeEnv(t)
	subject := e.mint(store.Token{Claims: []byte(`{"cnf":{"jkt":"c3ViamVjdC1ob2xkZXI"}}`)})
	form := exchangeForm(subject, tokenTypeAccess, "audience", audInventory, "grant_type", grantTokenExchange)

	res := e.dpopToken("svc1", e.secrets["svc1"], form)
	if res.status != http.StatusOK || res.body["token_type"] != "Bearer" {
		t.Fatalf("exchange without proof: %d %v, want a Bearer token", res.status, res.body)
	}
	if got := e.introspect(res.body["access_token"].(string)); got["cnf"] != nil {
		t.Errorf("cnf = %v, want the subject token's binding not carried over", got["cnf"])
	}

	k := newDPoPKey(t)
	res = e.dpopToken("svc1", e.secrets["svc1"], form, k.proof())
	if res.status != http.StatusOK || res.body["token_type"] != "DPoP" {
		t.Fatalf("exchange with proof: %d %v, want a DPoP token", res.status, res.body)
	}
	got := e.introspect(res.body["access_token"].(string))
	if cnfJKT(got) != k.jkt() {
		t.Errorf("cnf.jkt = %q, want the proof key's %q", cnfJKT(got), k.jkt())
	}
	if diff := cmp.Diff(map[string]any{"sub": "svc1"}, got["act"]); diff != "" {
		t.Errorf("act mismatch (-want +got):\n%s", diff)
	}
}
