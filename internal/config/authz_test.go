package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestResourceServers: the authorization server's RFC 8707 allow-list is
// tokens.resources plus the audiences of the gateway APIs that trust its
// own issuer, each once; APIs of another issuer and audiences that are no
// URI are left out.
func TestResourceServers(t *testing.T) {
	c := &Config{
		Tokens: Tokens{Resources: []string{"https://api.example.com/billing", "urn:example:api:orders"}},
		Gateway: Gateway{
			Issuers: []Issuer{{Issuer: "https://auth.example.com/"}, {Issuer: "https://other-idp.example"}},
			APIs: []API{
				{Name: "orders", Issuer: "https://auth.example.com/", Audiences: []string{"urn:example:api:orders", "https://api.example.com/orders"}},
				{Name: "hr", Issuer: "https://other-idp.example", Audiences: []string{"https://hr.example.com"}},
				{Name: "legacy", Issuer: "https://auth.example.com/", Audiences: []string{"warehouse"}},
				{Name: "unnamed issuer", Audiences: []string{"https://ambiguous.example"}},
			},
		},
	}
	want := []string{"https://api.example.com/billing", "urn:example:api:orders", "https://api.example.com/orders"}
	if diff := cmp.Diff(want, c.ResourceServers("https://auth.example.com")); diff != "" {
		t.Errorf("ResourceServers (-want +got):\n%s", diff)
	}

	t.Run("a single issuer needs no name", func(t *testing.T) {
		c := &Config{Gateway: Gateway{
			Issuers: []Issuer{{Issuer: "http://127.0.0.1:8080"}},
			APIs:    []API{{Name: "warehouse", Audiences: []string{"urn:portcullis:api:warehouse"}}},
		}}
		if diff := cmp.Diff([]string{"urn:portcullis:api:warehouse"}, c.ResourceServers("http://127.0.0.1:8080")); diff != "" {
			t.Errorf("ResourceServers (-want +got):\n%s", diff)
		}
	})
	t.Run("no gateway section", func(t *testing.T) {
		if got := (&Config{}).ResourceServers("https://auth.example.com"); len(got) != 0 {
			t.Errorf("ResourceServers = %q, want none", got)
		}
	})
}
