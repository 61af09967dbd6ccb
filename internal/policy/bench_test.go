package policy

import (
	"net/netip"
	"testing"
	"time"
)

// BenchmarkGrant measures one token request's scope decision under the
// warehouse policy: alice asks for everything from loopback, so the
// order_item condition runs and passes.
func BenchmarkGrant(b *testing.B) {
	p, err := Compile(warehouseSpec())
	if err != nil {
		b.Fatal(err)
	}
	requested := []string{"openid", "list_items", "order_item"}
	client := []string{"openid", "profile", "list_items", "order_item"}
	in := Input{
		GrantType: "authorization_code",
		ClientID:  "warehouse-spa",
		User:      alice(),
		IP:        netip.MustParseAddr("127.0.0.1"),
		Time:      time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC),
	}
	b.ReportAllocs()
	for b.Loop() {
		if got := p.Grant(requested, client, in); len(got) != 3 {
			b.Fatalf("Grant() = %v, want 3 scopes", got)
		}
	}
}

// BenchmarkGrantNoCondition is the common case of a request whose scopes
// carry no condition: no CEL runs at all.
func BenchmarkGrantNoCondition(b *testing.B) {
	p, err := Compile(warehouseSpec())
	if err != nil {
		b.Fatal(err)
	}
	requested := []string{"openid", "list_items"}
	client := []string{"openid", "profile", "list_items", "order_item"}
	in := Input{GrantType: "authorization_code", ClientID: "warehouse-spa", User: bob()}
	b.ReportAllocs()
	for b.Loop() {
		if got := p.Grant(requested, client, in); len(got) != 2 {
			b.Fatalf("Grant() = %v, want 2 scopes", got)
		}
	}
}
