package contract

import (
	"strings"
	"testing"
)

// benchBody is a 2 KB order of the warehouse example.
func benchBody(tb testing.TB) []byte {
	tb.Helper()
	var b strings.Builder
	b.WriteString(`{"sku":"ABC-1234","qty":5,"note":"leave at the back door, ring twice","contact":"ops@example.com","tags":[`)
	for i := range 60 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"tag-` + itoa(i) + `-warehouse"`)
	}
	b.WriteString(`],"lines":[`)
	for i := range 18 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"sku":"LIN-` + itoa(1000+i) + `","qty":` + itoa(i+1) + `,"price":12.5}`)
	}
	b.WriteString(`]}`)
	if b.Len() < 1800 || b.Len() > 2300 {
		tb.Fatalf("bench body of %d bytes, want about 2 KB", b.Len())
	}
	return []byte(b.String())
}

func benchSchema(tb testing.TB) *Schema {
	tb.Helper()
	s, err := CompileInline(benchSchemaValue())
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// benchSchemaValue is the schema of benchBody, as a configuration
// writes it.
func benchSchemaValue() map[string]any {
	return map[string]any{
		"type": "object", "required": []any{"sku", "qty"}, "additionalProperties": false,
		"properties": map[string]any{
			"sku":     map[string]any{"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"},
			"qty":     map[string]any{"type": "integer", "minimum": 1},
			"note":    map[string]any{"type": "string", "maxLength": 200},
			"contact": map[string]any{"type": "string", "format": "email"},
			"tags":    map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
			"lines": map[string]any{"type": "array", "items": map[string]any{
				"type": "object", "required": []any{"sku", "qty"},
				"properties": map[string]any{
					"sku": map[string]any{"type": "string"}, "qty": map[string]any{"type": "integer"},
					"price": map[string]any{"type": "number", "minimum": 0},
				}}},
		},
	}
}

func BenchmarkGuards(b *testing.B) {
	body := benchBody(b)
	g := Guards{}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if v := g.Scan(body); v != nil {
			b.Fatal(v)
		}
	}
}

func BenchmarkGuardsAndSchema(b *testing.B) {
	body := benchBody(b)
	s := benchSchema(b)
	g := Guards{}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if v := g.Scan(body); v != nil {
			b.Fatal(v)
		}
		doc, err := Decode(body)
		if err != nil {
			b.Fatal(err)
		}
		if vs := s.Validate("body", "", doc); vs != nil {
			b.Fatal(vs)
		}
	}
}

func TestBenchBodyValid(t *testing.T) {
	doc, err := Decode(benchBody(t))
	if err != nil {
		t.Fatal(err)
	}
	if vs := benchSchema(t).Validate("body", "", doc); vs != nil {
		t.Fatal(vs)
	}
}
