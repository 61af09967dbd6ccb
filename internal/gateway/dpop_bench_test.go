package gateway

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/internal/gateway/gatewaytest"
	"github.com/portcullis/portcullis/internal/replay"
	"github.com/portcullis/portcullis/pkg/verify"
)

// dpopBenchEnv is benchEnv with the replay cache given (nil: memory).
func dpopBenchEnv(b *testing.B, rc verify.ReplayCache) (*gatewaytest.Issuer, *Gateway) {
	b.Helper()
	is, _, gw := benchEnvWith(b, func(o *Options) { o.DPoPReplay = rc })
	return is, gw
}

// BenchmarkGatewayDPoP is BenchmarkGateway's JWT path (warm caches, the
// proxy round trip included) with the token presented three ways: an
// unbound token as Bearer (the baseline), and a bound one with the DPoP
// scheme and a fresh proof per request, whose check is a signature
// verification plus a replay-cache write, in memory and, when
// PORTCULLIS_TEST_REDIS is set, in Redis. Proofs are signed before the
// timer starts: a client's cost is not the gateway's.
func BenchmarkGatewayDPoP(b *testing.B) {
	claims := gatewaytest.Claims{Subject: "alice", ClientID: "spa", Scope: "list_items", Audience: []string{"warehouse"}}
	b.Run("bearer", func(b *testing.B) {
		is, gw := dpopBenchEnv(b, nil)
		runParallel(b, gw, "/warehouse/items/42", is.JWT(b, claims))
	})
	b.Run("dpop-memory", func(b *testing.B) {
		is, gw := dpopBenchEnv(b, nil)
		runDPoPParallel(b, is, gw)
	})
	b.Run("dpop-redis", func(b *testing.B) {
		addr := os.Getenv("PORTCULLIS_TEST_REDIS")
		if addr == "" {
			b.Skip("set PORTCULLIS_TEST_REDIS=127.0.0.1:6379 to run the Redis replay-cache benchmark")
		}
		client := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 64})
		b.Cleanup(func() { client.Close() })
		if err := client.Ping(context.Background()).Err(); err != nil {
			b.Fatalf("PORTCULLIS_TEST_REDIS set but Redis unreachable: %v", err)
		}
		// Keys expire on their own within the proof window.
		is, gw := dpopBenchEnv(b, replay.NewRedis(client, replay.RedisConfig{Prefix: "pc:bench:"}))
		runDPoPParallel(b, is, gw)
	})
}

// runDPoPParallel sends GET /warehouse/items/42 with a bound JWT and a
// new proof each time through h from every P.
func runDPoPParallel(b *testing.B, is *gatewaytest.Issuer, h http.Handler) {
	b.Helper()
	k := newDPoPKey(b)
	const target = "http://gateway.test/warehouse/items/42"
	u, err := url.Parse(target)
	if err != nil {
		b.Fatal(err)
	}
	tok := is.JWT(b, gatewaytest.Claims{Subject: "alice", ClientID: "spa", Scope: "list_items", Audience: []string{"warehouse"},
		Extra: map[string]any{"cnf": map[string]any{"jkt": k.jkt}}})
	auth := "DPoP " + tok
	const warm = 10
	proofs := make([]string, b.N+warm)
	for i := range proofs {
		proofs[i] = k.proof(b, "GET", target, tok, nil)
	}
	for _, p := range proofs[:warm] {
		w := &discardWriter{h: http.Header{}}
		h.ServeHTTP(w, dpopBenchRequest(u, auth, p))
		if w.code != http.StatusOK {
			b.Fatalf("warm-up status %d", w.code)
		}
	}
	proofs = proofs[warm:]
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{h: http.Header{}}
		for pb.Next() {
			clear(w.h)
			w.code = 0
			h.ServeHTTP(w, dpopBenchRequest(u, auth, proofs[next.Add(1)-1]))
			if w.code != http.StatusOK {
				b.Errorf("status %d", w.code)
				return
			}
		}
	})
}

func dpopBenchRequest(u *url.URL, auth, proof string) *http.Request {
	r := benchRequest(u, auth, true)
	r.Header["Dpop"] = []string{proof}
	return r
}

// BenchmarkDPoPProof is the check alone, as the dpop step makes it for
// a bound token: the proof's signature and claims, and the write to the
// memory replay cache.
func BenchmarkDPoPProof(b *testing.B) {
	k := newDPoPKey(b)
	const target = "http://gateway.test/warehouse/items/42"
	tok := "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"
	proofs := make([]string, b.N)
	for i := range proofs {
		proofs[i] = k.proof(b, "GET", target, tok, nil)
	}
	rc := verify.NewMemoryReplayCache(0)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p, err := verify.VerifyDPoPProof(ctx, proofs[i], verify.DPoPOptions{Method: "GET", URL: target, AccessToken: tok, Replay: rc})
		if err != nil || p.Thumbprint != k.jkt {
			b.Fatal(err)
		}
	}
}
