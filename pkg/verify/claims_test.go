package verify

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestClaimsParsed(t *testing.T) {
	f := newFxIssuer(t)
	tok := f.mint(func(c map[string]any) {
		c["aud"] = []string{fxAudience, "urn:other"}
		c["scope"] = "list_items  order_item"
		c["act"] = map[string]any{"sub": "svc-b", "client_id": "orders", "act": map[string]any{"sub": "svc-a", "iss": "https://other.example"}}
		c["cnf"] = map[string]any{"jkt": "abc", "x5t#S256": "def"}
		c["office"] = "head"
	})
	got, err := f.verifier(nil).Verify(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	now := f.clock.Now()
	want := &Claims{
		Issuer: f.issuer(), Subject: "alice", Audience: []string{fxAudience, "urn:other"},
		ExpiresAt: now.Add(300 * time.Second), IssuedAt: now, NotBefore: now,
		ClientID: "warehouse-spa", Scopes: []string{"list_items", "order_item"}, JTI: "jti-1", Type: TypeAccessToken,
		Act:          &Actor{Subject: "svc-b", ClientID: "orders", Act: &Actor{Subject: "svc-a", Issuer: "https://other.example"}},
		Confirmation: Confirmation{JWKThumbprint: "abc", CertificateThumbprint: "def"},
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(Claims{}, "Raw"), cmpopts.IgnoreFields(Actor{}, "Raw"),
		cmpopts.IgnoreFields(Confirmation{}, "Raw")); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
	if got.Raw["office"] != "head" || got.Raw["sub"] != "alice" {
		t.Errorf("Raw = %v, want every claim", got.Raw)
	}
	if !got.Confirmation.Bound() {
		t.Error("Confirmation.Bound() = false for a token with cnf")
	}
	if got.Act.Raw["client_id"] != "orders" {
		t.Errorf("Actor.Raw = %v", got.Act.Raw)
	}
}

func TestClaimsUnbound(t *testing.T) {
	c, err := parseClaims([]byte(`{"iss":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Confirmation.Bound() || c.Act != nil || c.ActorChain() != nil || len(c.Scopes) != 0 {
		t.Errorf("claims without cnf, act or scope: %+v", c)
	}
}

func TestClaimGetters(t *testing.T) {
	c, err := parseClaims([]byte(`{
		"s": "text", "n": 42, "big": 9007199254740993, "f": 1.5, "b": true,
		"list": ["a", "b"], "mixed": ["a", 1], "auth_time": 1800000000, "obj": {"k": "v"}, "null": null
	}`))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("String", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			want string
			ok   bool
		}{{"s", "text", true}, {"n", "", false}, {"absent", "", false}} {
			if got, ok := c.String(tc.name); got != tc.want || ok != tc.ok {
				t.Errorf("String(%q) = %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.ok)
			}
		}
	})
	t.Run("Strings", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			want []string
			ok   bool
		}{{"list", []string{"a", "b"}, true}, {"s", []string{"text"}, true}, {"mixed", nil, false}, {"n", nil, false}, {"absent", nil, false}} {
			if got, ok := c.Strings(tc.name); !slices.Equal(got, tc.want) || ok != tc.ok {
				t.Errorf("Strings(%q) = %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.ok)
			}
		}
	})
	t.Run("Int64", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			want int64
			ok   bool
		}{{"n", 42, true}, {"big", 9007199254740993, true}, {"f", 0, false}, {"s", 0, false}, {"absent", 0, false}} {
			if got, ok := c.Int64(tc.name); got != tc.want || ok != tc.ok {
				t.Errorf("Int64(%q) = %d, %v; want %d, %v", tc.name, got, ok, tc.want, tc.ok)
			}
		}
	})
	t.Run("Bool", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			want   bool
			wantOK bool
		}{{"b", true, true}, {"s", false, false}, {"null", false, false}} {
			if got, ok := c.Bool(tc.name); got != tc.want || ok != tc.wantOK {
				t.Errorf("Bool(%q) = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.wantOK)
			}
		}
	})
	t.Run("Time", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			want time.Time
			ok   bool
		}{{"auth_time", time.Unix(1800000000, 0), true}, {"f", time.Unix(1, 5e8), true}, {"s", time.Time{}, false}, {"absent", time.Time{}, false}} {
			if got, ok := c.Time(tc.name); !got.Equal(tc.want) || ok != tc.ok {
				t.Errorf("Time(%q) = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.ok)
			}
		}
	})
	t.Run("Object", func(t *testing.T) {
		if got, ok := c.Object("obj"); !ok || got["k"] != "v" {
			t.Errorf("Object(obj) = %v, %v", got, ok)
		}
		if _, ok := c.Object("s"); ok {
			t.Error("Object(s) ok for a string")
		}
	})
	if _, ok := c.Raw["n"].(json.Number); !ok {
		t.Errorf("Raw numbers are %T, want json.Number", c.Raw["n"])
	}
}

func TestScopes(t *testing.T) {
	c := &Claims{Scopes: []string{"list_items", "order_item"}}
	tests := []struct {
		require []string
		missing []string
	}{
		{nil, nil},
		{[]string{"list_items"}, nil},
		{[]string{"list_items", "order_item"}, nil},
		{[]string{"admin"}, []string{"admin"}},
		{[]string{"admin", "list_items", "audit"}, []string{"admin", "audit"}},
		{[]string{"list"}, []string{"list"}}, // no prefix matching
	}
	for _, tc := range tests {
		err := c.RequireScopes(tc.require...)
		var se *InsufficientScopeError
		switch {
		case tc.missing == nil && err != nil:
			t.Errorf("RequireScopes(%q) = %v, want nil", tc.require, err)
		case tc.missing != nil && (!errors.As(err, &se) || !slices.Equal(se.Missing, tc.missing)):
			t.Errorf("RequireScopes(%q) = %v, want missing %q", tc.require, err, tc.missing)
		}
		for _, s := range tc.require {
			if got, want := c.HasScope(s), !slices.Contains(tc.missing, s); got != want {
				t.Errorf("HasScope(%q) = %v, want %v", s, got, want)
			}
		}
	}
	if got := (&InsufficientScopeError{Missing: []string{"a", "b"}}).Error(); got != "verify: insufficient scope: missing a b" {
		t.Errorf("Error() = %q", got)
	}
}

func TestActorChain(t *testing.T) {
	// RFC 8693 §4.1's example, with client_id: the token's subject is
	// user@example.com; consumer.example.com-web-application acted first,
	// then service16 exchanged the token and is the current actor.
	c, err := parseClaims([]byte(`{"sub":"user@example.com","act":{"sub":"https://service16.example.com","client_id":"service16",
		"act":{"sub":"https://service77.example.com","client_id":"service77",
		"act":{"sub":"consumer.example.com-web-application","client_id":"web"}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range c.ActorChain() {
		ids = append(ids, a.ClientID)
	}
	if want := []string{"service16", "service77", "web"}; !slices.Equal(ids, want) {
		t.Errorf("ActorChain client IDs = %q, want %q (current actor first)", ids, want)
	}
	tests := []struct {
		name string
		got  bool
		want bool
	}{
		{"ActedBy current actor", c.ActedBy("service16"), true},
		{"ActedBy a prior actor", c.ActedBy("service77"), false},
		{"ActedBy empty", c.ActedBy(""), false},
		{"ActorChainIs exact", c.ActorChainIs("service16", "service77", "web"), true},
		{"ActorChainIs prefix", c.ActorChainIs("service16", "service77"), false},
		{"ActorChainIs longer", c.ActorChainIs("service16", "service77", "web", "x"), false},
		{"ActorChainIs reversed", c.ActorChainIs("web", "service77", "service16"), false},
		{"ActorChainIs none", c.ActorChainIs(), false},
		{"no act: ActorChainIs none", (&Claims{}).ActorChainIs(), true},
		{"no act: ActedBy", (&Claims{ClientID: "service16"}).ActedBy("service16"), false},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

func TestActorChainDepthBounded(t *testing.T) {
	nest := func(n int) []byte {
		var act any = map[string]any{"sub": "last"}
		for i := 1; i < n; i++ {
			act = map[string]any{"sub": "hop", "act": act}
		}
		b, _ := json.Marshal(map[string]any{"act": act})
		return b
	}
	if c, err := parseClaims(nest(maxActorDepth)); err != nil || len(c.ActorChain()) != maxActorDepth {
		t.Errorf("chain of %d: %v", maxActorDepth, err)
	}
	if _, err := parseClaims(nest(maxActorDepth + 1)); !errors.Is(err, ErrMalformed) {
		t.Errorf("chain of %d: got %v, want ErrMalformed", maxActorDepth+1, err)
	}
}
