package phantom_test

import (
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/phantom"
	"github.com/portcullis/portcullis/internal/token"
)

// BenchmarkResolveCached measures the warm path every gateway request
// takes: a cache hit, for each resolver, on one core and on all.
func BenchmarkResolveCached(b *testing.B) {
	f := newFixture(b, phantom.IntrospectorConfig{})
	raw := opaque(b)
	f.issue(b, raw, "alice", time.Hour)
	sf := newSplitFixture(b, phantom.IntrospectorConfig{})
	_, sig := sf.issue(b, "alice", time.Hour)

	cases := []struct {
		name    string
		resolve func() (*token.Verified, error)
	}{
		{name: "introspector", resolve: func() (*token.Verified, error) { return f.in.Resolve(b.Context(), raw) }},
		{name: "split", resolve: func() (*token.Verified, error) { return sf.r.Resolve(b.Context(), sig) }},
	}
	for _, c := range cases {
		if _, err := c.resolve(); err != nil {
			b.Fatalf("%s: warm-up Resolve: %v", c.name, err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.resolve(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.resolve(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkResolveNegative measures a flood of one junk token.
func BenchmarkResolveNegative(b *testing.B) {
	f := newFixture(b, phantom.IntrospectorConfig{NegativeTTL: time.Hour})
	junk := opaque(b)
	_, _ = f.in.Resolve(b.Context(), junk)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = f.in.Resolve(b.Context(), junk)
	}
}
