package openapi

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// BenchmarkParse measures an import: the warehouse document, and one just
// under MaxDocumentSize (thousands of operations, half the bytes in schemas the
// importer skips) for the worst a config reload can meet.
func BenchmarkParse(b *testing.B) {
	warehouse, err := os.ReadFile("testdata/warehouse.yaml")
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		data []byte
	}{
		{"warehouse", warehouse},
		{"large", largeDocument(MaxDocumentSize - 64<<10)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(bc.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// largeDocument builds a valid document of about size bytes.
func largeDocument(size int) []byte {
	var b strings.Builder
	b.WriteString("openapi: 3.1.0\ninfo: {title: Large, version: '1'}\nservers: [{url: /large}]\n")
	b.WriteString("components:\n  securitySchemes:\n    o: {type: oauth2, flows: {}}\n  schemas:\n")
	for i := 0; b.Len() < size/2; i++ {
		fmt.Fprintf(&b, "    S%d:\n      type: object\n      properties:\n        a: {type: string, description: %q}\n        b: {type: integer}\n", i, strings.Repeat("d", 200))
	}
	b.WriteString("paths:\n")
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "  /r%d/{id}:\n    get:\n      operationId: get%d\n      security: [{o: [read]}]\n      responses: {'200': {description: %q}}\n", i, i, strings.Repeat("r", 2000))
	}
	return []byte(b.String())
}
