package token

import (
	"strconv"
	"testing"
)

// BenchmarkVerifyCached is the gateway's hot path: a token seen before.
func BenchmarkVerifyCached(b *testing.B) {
	e := newTestEnv(b, VerifierConfig{})
	raw := e.token(b, nil)
	if _, err := e.v.Verify(b.Context(), raw); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := e.v.Verify(b.Context(), raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCachedParallel shows contention on the cache's locks.
func BenchmarkVerifyCachedParallel(b *testing.B) {
	e := newTestEnv(b, VerifierConfig{})
	toks := make([]string, 64)
	for i := range toks {
		toks[i] = e.token(b, func(c map[string]any) { c["jti"] = strconv.Itoa(i) })
		if _, err := e.v.Verify(b.Context(), toks[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := e.v.Verify(b.Context(), toks[i%len(toks)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkVerifyUncached is a first sight of an ES256 token: parse,
// signature, claims.
func BenchmarkVerifyUncached(b *testing.B) {
	e := newTestEnv(b, VerifierConfig{CacheSize: -1})
	raw := e.token(b, nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.v.Verify(b.Context(), raw); err != nil {
			b.Fatal(err)
		}
	}
}
