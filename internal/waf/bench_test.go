package waf

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// benchBody is a 2 KB JSON order of the warehouse API.
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

// BenchmarkWAF inspects one 2 KB JSON request at paranoia 1.
func BenchmarkWAF(b *testing.B) {
	w, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(benchBody)
	r := httptest.NewRequest("POST", "/warehouse/orders?dry_run=false", strings.NewReader(benchBody))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("User-Agent", "warehouse-client/1.4 (go1.26)")
	r.Header.Set("Accept", "application/json")
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if v := w.Inspect(Request{ID: "bench", HTTP: r, Body: body}); v.Interrupted {
			b.Fatalf("benign body blocked: %v", v.Rules)
		}
	}
}
