package waf

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
)

// benchBody is a 2 KB JSON order of the warehouse API: 22 identical
// lines.
var benchBody = func() string {
	var b strings.Builder
	b.WriteString(`{"item_id":"SKU-10042","quantity":3,"customer":{"name":"Siobhan O'Brien","email":"orders@example.com"},"lines":[`)
	for i := 0; b.Len() < 1900; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"sku":"box-large","qty":2,"note":"Please select the best option, drop by tomorrow"}`)
	}
	b.WriteString(`],"notes":"Leave it with reception."}`)
	return b.String()
}()

// distinctBody is benchBody's size and shape with no two lines alike:
// what an order costs when no value repeats.
var distinctBody = func() string {
	var b strings.Builder
	b.WriteString(`{"item_id":"SKU-10042","quantity":3,"customer":{"name":"Siobhan O'Brien","email":"orders@example.com"},"lines":[`)
	for i := 0; b.Len() < 1900; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"sku":"box-%d","qty":%d,"note":"Please select option %d, drop by on day %d"}`, i, i+2, i, i+1)
	}
	b.WriteString(`],"notes":"Leave it with reception."}`)
	return b.String()
}()

// BenchmarkWAF inspects one 2 KB JSON request at paranoia 1.
func BenchmarkWAF(b *testing.B) { benchInspect(b, "POST", benchBody) }

// BenchmarkWAFDistinct inspects the same request with no repeated lines.
func BenchmarkWAFDistinct(b *testing.B) { benchInspect(b, "POST", distinctBody) }

// BenchmarkWAFGet inspects a GET with a query parameter: the cost of a
// transaction through every rule with next to nothing to read.
func BenchmarkWAFGet(b *testing.B) { benchInspect(b, "GET", "") }

func benchInspect(b *testing.B, method, body string) {
	w, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	r := httptest.NewRequest(method, "/warehouse/orders?dry_run=false", strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	r.Header.Set("User-Agent", "warehouse-client/1.4 (go1.26)")
	r.Header.Set("Accept", "application/json")
	req := Request{ID: "bench", HTTP: r, Body: []byte(body)}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if v := w.Inspect(req); v.Interrupted {
			b.Fatalf("benign request blocked: %v", v.Rules)
		}
	}
}
