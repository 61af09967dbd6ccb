package gateway

import (
	"net/http"
	"net/netip"
	"testing"

	"github.com/portcullis/portcullis/internal/catalog"
)

// FuzzLimitKey: a key's parts come from the client (a header) and the
// token (sub, a claim), so two requests whose parts differ must never
// share a counter, however the values are chosen ("1:a|" inside a value
// must not pass for a separator).
func FuzzLimitKey(f *testing.F) {
	ol := &opLimits{t: &limitTable{rt: newLimitRuntime(nil, nil, nil)}, api: "warehouse", op: "GET /items"}
	spec := &limitSpec{name: "k", key: []keyPart{
		{kind: catalog.KeySub},
		{kind: catalog.KeyHeader, name: "X-Tenant"},
		{kind: catalog.KeyClaim, name: "org"},
		{kind: catalog.KeyIP, bits4: 24, bits6: 64},
	}}
	sc := newLimitScratch(1)
	key := func(sub, header, claim, ip string) string {
		a, _ := netip.ParseAddr(ip)
		ex := &exchange{client: a}
		r := &http.Request{Header: http.Header{"X-Tenant": {header}}}
		return ol.key(sc, spec, ex, r, "spa", sub, map[string]any{"org": claim})
	}
	f.Fuzz(func(t *testing.T, sub1, h1, c1, ip1, sub2, h2, c2, ip2 string) {
		k1, k2 := key(sub1, h1, c1, ip1), key(sub2, h2, c2, ip2)
		if len(k1) > 4*(maxKeyValue+24) {
			t.Fatalf("key of %d bytes: values are not bounded", len(k1))
		}
		same := sub1 == sub2 && h1 == h2 && c1 == c2 && sameNet(ip1, ip2)
		if same != (k1 == k2) {
			t.Fatalf("parts (%q %q %q %q) and (%q %q %q %q): same %v, keys %q and %q", sub1, h1, c1, ip1, sub2, h2, c2, ip2, same, k1, k2)
		}
	})
}

// sameNet reports whether two address strings fall in one key: the same
// /24 or /64, or both unparsable.
func sameNet(a, b string) bool {
	pa, pb := netOf(a), netOf(b)
	return pa == pb
}

func netOf(s string) netip.Prefix {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}
	}
	bits := 64
	if a.Is4() {
		bits = 24
	}
	p, _ := a.Prefix(bits)
	return p
}
