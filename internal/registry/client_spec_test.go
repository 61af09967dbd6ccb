package registry

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/portcullis/portcullis/internal/store"
)

func TestNewClientValid(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		spec ClientSpec
		want store.Client
	}{
		{
			name: "confidential service defaults",
			spec: ClientSpec{ID: "svc", Scopes: []string{"list_items order_item", "list_items"}},
			want: store.Client{
				ID: "svc", Name: "svc", AuthMethod: store.AuthSecretBasic,
				GrantTypes: []string{GrantClientCredentials}, Scopes: []string{"list_items", "order_item"},
				Audience: []string{}, AccessTokenFormat: store.FormatOpaque,
			},
		},
		{
			name: "web app with comma-separated grants and loopback redirect",
			spec: ClientSpec{
				ID: "web", Name: " Web ", GrantTypes: []string{"authorization_code,refresh_token"},
				RedirectURIs: []string{"http://127.0.0.1:9999/callback", "https://app.example.com/cb?x=1"},
				AuthMethod:   store.AuthSecretPost, Format: store.FormatSplit, Audience: []string{"https://api.example.com"},
			},
			want: store.Client{
				ID: "web", Name: "Web", AuthMethod: store.AuthSecretPost,
				GrantTypes:   []string{GrantAuthorizationCode, GrantRefreshToken},
				RedirectURIs: []string{"http://127.0.0.1:9999/callback", "https://app.example.com/cb?x=1"},
				Scopes:       []string{}, Audience: []string{"https://api.example.com"}, AccessTokenFormat: store.FormatSplit,
			},
		},
		{
			name: "public native app with private-use scheme and ipv6 loopback",
			spec: ClientSpec{
				ID: "native", Public: true,
				RedirectURIs: []string{"com.example.app:/oauth2redirect", "http://[::1]:5173/cb", "http://localhost/cb"},
				SkipConsent:  true,
			},
			want: store.Client{
				ID: "native", Name: "native", AuthMethod: store.AuthNone,
				GrantTypes:   []string{GrantAuthorizationCode},
				RedirectURIs: []string{"com.example.app:/oauth2redirect", "http://[::1]:5173/cb", "http://localhost/cb"},
				Scopes:       []string{}, Audience: []string{}, AccessTokenFormat: store.FormatOpaque, SkipConsent: true,
			},
		},
		{
			name: "service that exchanges tokens",
			spec: ClientSpec{ID: "orders", GrantTypes: []string{"client_credentials," + GrantTokenExchange}},
			want: store.Client{
				ID: "orders", Name: "orders", AuthMethod: store.AuthSecretBasic,
				GrantTypes: []string{GrantClientCredentials, GrantTokenExchange}, Scopes: []string{}, Audience: []string{},
				AccessTokenFormat: store.FormatOpaque,
			},
		},
		{
			name: "introspecting gateway",
			spec: ClientSpec{ID: "gateway", GrantTypes: []string{GrantClientCredentials}, CanIntrospect: true, Format: store.FormatJWT},
			want: store.Client{
				ID: "gateway", Name: "gateway", AuthMethod: store.AuthSecretBasic,
				GrantTypes: []string{GrantClientCredentials}, Scopes: []string{}, Audience: []string{},
				AccessTokenFormat: store.FormatJWT, CanIntrospect: true,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewClient(tt.spec, now)
			if err != nil {
				t.Fatalf("NewClient: %v", err)
			}
			tt.want.CreatedAt, tt.want.UpdatedAt = now, now
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("NewClient mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewClientRandomID(t *testing.T) {
	a, err := NewClient(ClientSpec{}, time.Now())
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	b, err := NewClient(ClientSpec{}, time.Now())
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	if len(a.ID) != 2*generatedIDBytes || a.ID == b.ID {
		t.Errorf("random ids %q, %q: want two different %d-character ids", a.ID, b.ID, 2*generatedIDBytes)
	}
}

func TestNewClientInvalid(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	privateSet, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: priv, KeyID: "k", Algorithm: "ES256"}}})
	code := []string{GrantAuthorizationCode}
	tests := []struct {
		name      string
		spec      ClientSpec
		wantField string
		wantIn    string
	}{
		{"unknown grant type", ClientSpec{GrantTypes: []string{"password"}}, "grant-type", `"password"`},
		{"implicit grant", ClientSpec{GrantTypes: []string{"implicit"}}, "grant-type", "not client_credentials"},
		{"refresh without code", ClientSpec{GrantTypes: []string{"client_credentials", "refresh_token"}}, "grant-type", "needs authorization_code"},
		{"public client credentials", ClientSpec{Public: true, GrantTypes: []string{"client_credentials"}}, "grant-type", "public client"},
		{"public token exchange", ClientSpec{Public: true, GrantTypes: []string{GrantAuthorizationCode, GrantTokenExchange},
			RedirectURIs: []string{"https://a.example/cb"}}, "grant-type", "public client cannot use token exchange"},
		{"code without redirect", ClientSpec{GrantTypes: code}, "redirect-uri", "at least one"},
		{"redirect without code", ClientSpec{RedirectURIs: []string{"https://a.example/cb"}}, "redirect-uri", "only by authorization_code"},
		{"relative redirect", ClientSpec{GrantTypes: code, RedirectURIs: []string{"/cb"}}, "redirect-uri", "absolute"},
		{"fragment", ClientSpec{GrantTypes: code, RedirectURIs: []string{"https://a.example/cb#frag"}}, "redirect-uri", "fragment"},
		{"empty fragment", ClientSpec{GrantTypes: code, RedirectURIs: []string{"https://a.example/cb#"}}, "redirect-uri", "fragment"},
		{"plain http remote", ClientSpec{GrantTypes: code, RedirectURIs: []string{"http://app.example.com/cb"}}, "redirect-uri", "loopback"},
		{"http on 0.0.0.0", ClientSpec{GrantTypes: code, RedirectURIs: []string{"http://0.0.0.0/cb"}}, "redirect-uri", "loopback"},
		{"user info", ClientSpec{GrantTypes: code, RedirectURIs: []string{"https://u:p@a.example/cb"}}, "redirect-uri", "user information"},
		{"https without host", ClientSpec{GrantTypes: code, RedirectURIs: []string{"https:/cb"}}, "redirect-uri", "no host"},
		{"space", ClientSpec{GrantTypes: code, RedirectURIs: []string{"https://a.example/c b"}}, "redirect-uri", "spaces"},
		{"custom scheme for confidential", ClientSpec{GrantTypes: code, RedirectURIs: []string{"com.example.app:/cb"}}, "redirect-uri", "confidential"},
		{"javascript scheme", ClientSpec{Public: true, RedirectURIs: []string{"javascript:alert(1)"}}, "redirect-uri", "reverse domain"},
		{"bad scope character", ClientSpec{Scopes: []string{`a"b`}}, "scope", "RFC 6749 §3.3"},
		{"bad format", ClientSpec{Format: "paseto"}, "format", "paseto"},
		{"bad auth method", ClientSpec{AuthMethod: "client_secret_jwt"}, "auth-method", "client_secret_jwt"},
		{"none for confidential", ClientSpec{AuthMethod: store.AuthNone}, "auth-method", "--public"},
		{"secret for public", ClientSpec{Public: true, AuthMethod: store.AuthSecretBasic, RedirectURIs: []string{"https://a.example/cb"}}, "auth-method", "public"},
		{"public introspection", ClientSpec{Public: true, CanIntrospect: true, RedirectURIs: []string{"https://a.example/cb"}}, "introspect", "cannot"},
		{"id with colon", ClientSpec{ID: "a:b"}, "id", "letters"},
		{"id with space", ClientSpec{ID: "a b"}, "id", "letters"},
		{"id like a flag", ClientSpec{ID: "-x"}, "id", "flag"},
		{"long id", ClientSpec{ID: strings.Repeat("a", maxClientIDLen+1)}, "id", "at most"},
		{"name with newline", ClientSpec{ID: "x", Name: "a\nb"}, "name", "printable"},
		{"empty audience", ClientSpec{Audience: []string{""}}, "audience", "1 to"},
		{"private_key_jwt without jwks", ClientSpec{AuthMethod: store.AuthPrivateKeyJWT}, "jwks-file", "needs"},
		{"jwks not json", ClientSpec{AuthMethod: store.AuthPrivateKeyJWT, JWKS: []byte("{")}, "jwks-file", "not a JWK Set"},
		{"jwks empty", ClientSpec{AuthMethod: store.AuthPrivateKeyJWT, JWKS: []byte(`{"keys":[]}`)}, "jwks-file", "no keys"},
		{"jwks with private key", ClientSpec{AuthMethod: store.AuthPrivateKeyJWT, JWKS: privateSet}, "jwks-file", "private"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewClient(tt.spec, time.Now())
			var ice *InvalidClientError
			if !errors.As(err, &ice) {
				t.Fatalf("NewClient error = %v, want *InvalidClientError", err)
			}
			if ice.Field != tt.wantField {
				t.Errorf("Field = %q, want %q (error %q)", ice.Field, tt.wantField, err)
			}
			if !strings.Contains(err.Error(), tt.wantIn) {
				t.Errorf("error = %q, want it to mention %q", err, tt.wantIn)
			}
		})
	}
}

func TestNewClientJWKSKeepsOnlyPublicKeys(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	in, _ := json.Marshal(map[string]any{"keys": []any{jose.JSONWebKey{Key: &priv.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	c, err := NewClient(ClientSpec{ID: "pkj", AuthMethod: store.AuthPrivateKeyJWT, JWKS: in}, time.Now())
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	var got jose.JSONWebKeySet
	if err := json.Unmarshal(c.JWKS, &got); err != nil {
		t.Fatalf("stored JWKS does not parse: %v", err)
	}
	if len(got.Keys) != 1 || got.Keys[0].KeyID != "k1" || !got.Keys[0].IsPublic() {
		t.Errorf("stored JWKS = %s, want the one public key k1", c.JWKS)
	}
}

// An admin client as docs/admin-api.md registers it: admin roles as
// scopes, the admin API's URN as audience, JWT access tokens.
func TestAdminClientSpec(t *testing.T) {
	c, err := NewClient(ClientSpec{
		ID: "ops", GrantTypes: []string{GrantClientCredentials},
		Scopes: []string{"admin:platform admin:auditor"}, Audience: []string{"urn:portcullis:admin"},
		Format: store.FormatJWT,
	}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"admin:platform", "admin:auditor"}; !slices.Equal(c.Scopes, want) || !slices.Equal(c.Audience, []string{"urn:portcullis:admin"}) {
		t.Errorf("scopes %v audience %v", c.Scopes, c.Audience)
	}
}
