package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/gateway/gatewaytest"
	"github.com/portcullis/portcullis/internal/ratelimit"
	"github.com/portcullis/portcullis/internal/token"
)

// steadyBackend runs a backend on a clock of its own that moves by step
// on every call, so a benchmark's traffic is steady traffic within the
// limits: the gold plan's 2000 a day and 100 a second are never
// exhausted at one request per 50s, and every request is admitted. The
// clock moves and the call runs under one lock, so concurrent calls never
// see time step back (the memory backend serializes calls on one key
// anyway: every call of the benchmark has the same keys).
type steadyBackend struct {
	ratelimit.Backend
	base time.Time
	step time.Duration
	mu   sync.Mutex
	n    int64
}

func newSteadyBackend() *steadyBackend {
	return &steadyBackend{
		Backend: ratelimit.NewMemory(ratelimit.MemoryConfig{}),
		base:    time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC),
		step:    50 * time.Second,
	}
}

func (s *steadyBackend) Allow(ctx context.Context, checks []ratelimit.Check, _ time.Time, states []ratelimit.State) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return s.Backend.Allow(ctx, checks, s.base.Add(time.Duration(s.n)*s.step), states)
}

// BenchmarkGatewayLimits is the JWT path of BenchmarkGateway for a gold
// client (warehouse-service), without limits and with the warehouse
// limits on in the memory backend (the gold plan applies to the call;
// regional-orders is declared on POST /orders), blocks checked.
func BenchmarkGatewayLimits(b *testing.B) {
	for _, tc := range []struct {
		name   string
		limits bool
	}{{"jwt", false}, {"jwt-limits", true}} {
		b.Run(tc.name, func(b *testing.B) {
			is := gatewaytest.NewIssuer(b)
			up := gatewaytest.NewBenchUpstream(b)
			cfg := warehouseConfig(is, gatewaytest.NewUpstream(b))
			cfg.APIs[0].Upstream = up.URL() + "/backend"
			cfg.APIs[0].CORS = nil
			o := Options{
				SplitSource: is.SplitSource(),
				Getenv:      func(string) string { return is.ClientSecret },
				Logger:      slog.New(slog.DiscardHandler),
				Metrics:     prometheus.NewRegistry(),
			}
			if tc.limits {
				warehouseLimits(&cfg)
				o.RateLimiter = newSteadyBackend()
				o.Blocks = ratelimit.NewMemoryBlocks()
			}
			o.Catalog = cfg
			gw, err := New(b.Context(), o)
			if err != nil {
				b.Fatal(err)
			}
			tok := is.JWT(b, gatewaytest.Claims{Subject: "svc", ClientID: "warehouse-service", Scope: "list_items", Audience: []string{"warehouse"}})
			runParallel(b, gw, "/warehouse/items/42", tok)
		})
	}
}

// BenchmarkLimitStep is the limits step alone, for a gold client on
// GET /items/{id}: the block checks, the plan lookup, two interned keys,
// one call of the memory backend with two checks, and the two headers.
func BenchmarkLimitStep(b *testing.B) {
	cfg := catalog.Snapshot{APIs: []catalog.API{{Operations: []catalog.Operation{{Method: "POST", Path: "/orders"}}}}}
	warehouseLimits(&cfg)
	backend := newSteadyBackend()
	bl := &builder{f: productionFactory(), limiter: backend, blocks: ratelimit.NewMemoryBlocks(),
		limitRT: newLimitRuntime(slog.New(slog.DiscardHandler), nil, nil)}
	if _, err := bl.buildLimits(&cfg, time.UTC); err != nil {
		b.Fatal(err)
	}
	ol, err := bl.opLimitsFor("warehouse", "GET /items/{id}", nil, nil, false, time.UTC)
	if err != nil {
		b.Fatal(err)
	}
	var passed int
	step := &limitStep{ol: ol, loc: time.UTC,
		next: http.HandlerFunc(func(http.ResponseWriter, *http.Request) { passed++ })}
	w := &discardWriter{h: http.Header{}}
	ex := &exchange{rw: w, client: netip.MustParseAddr("192.0.2.10"), start: time.Now(),
		verified: &token.Verified{Claims: &token.Claims{ClientID: "warehouse-service", Subject: "svc"}}}
	r := benchRequest(&url.URL{Scheme: "http", Host: "gateway.test", Path: "/warehouse/items/42"}, "", false)
	b.ReportAllocs()
	for b.Loop() {
		step.ServeHTTP(ex, r)
	}
	if passed != b.N || ex.status != 0 {
		b.Fatalf("%d of %d requests passed (status %d)", passed, b.N, ex.status)
	}
	b.Logf("headers: RateLimit-Policy %q, RateLimit %q", w.h.Get("RateLimit-Policy"), w.h.Get("RateLimit"))
}
