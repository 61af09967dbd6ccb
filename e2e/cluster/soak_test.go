package cluster

import (
	"context"
	"os"
	"testing"
	"time"
)

// SoakEnv turns the soak's million requests on; without it the soak is
// a short run that CI can afford.
const SoakEnv = "PORTCULLIS_SOAK"

// TestSoak sends a long run of requests through the three gateways
// (phantom and JWT tokens alternating) and checks that nothing fails and
// that no node grows: its resident memory and goroutines, sampled after
// a warm-up and at the end, stay within a margin. With PORTCULLIS_SOAK=1
// the run is 1,000,000 requests; otherwise 30,000 (at most 60 s).
func TestSoak(t *testing.T) {
	Skip(t)
	requests, limit := 30_000, 60*time.Second
	if os.Getenv(SoakEnv) == "1" {
		requests, limit = 1_000_000, time.Hour
	}
	c := Start(t)
	ctx := t.Context()
	opaque, err := c.Token(ctx, c.Issuer, OpaqueClient)
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := c.Token(ctx, c.Issuer, JWTClient)
	if err != nil {
		t.Fatal(err)
	}
	toks := []string{opaque, jwt}
	load := func(n int, d time.Duration) Result {
		return Load{
			Targets: RoundRobin(c.gatewayURLs()...), Path: "/api/items",
			Token: func(i int) string { return toks[i%2] }, Workers: 16, Requests: n, Duration: d,
		}.Run(ctx)
	}
	if warm := load(5_000, 30*time.Second); warm.Err != 0 {
		t.Fatalf("warm-up: %v: %v", warm, warm.Errors)
	}
	before := sample(ctx, t, c)
	res := load(requests, limit)
	t.Logf("soak: %v", res)
	if res.Err != 0 {
		t.Errorf("%d of %d requests failed, want 0: %v", res.Err, res.OK+res.Err, res.Errors)
	}
	if res.OK < requests/2 {
		t.Errorf("only %d requests succeeded in %v, want at least %d", res.OK, limit, requests/2)
	}
	// Let the last connections go idle before looking again.
	time.Sleep(time.Second)
	after := sample(ctx, t, c)
	for _, n := range c.Nodes() {
		b, a := before[n.Name], after[n.Name]
		t.Logf("%s: RSS %d → %d KiB, goroutines %.0f → %.0f", n.Name, b.rss, a.rss, b.goroutines, a.goroutines)
		// Margins: caches and pools may still settle after the warm-up;
		// a leak of a request's worth of memory or a goroutine per
		// request would pass them within seconds.
		if limit := b.rss + max(b.rss/2, 32<<10); a.rss > limit {
			t.Errorf("%s: resident memory grew from %d to %d KiB over the soak (limit %d)", n.Name, b.rss, a.rss, limit)
		}
		if a.goroutines > b.goroutines+30 {
			t.Errorf("%s: goroutines grew from %.0f to %.0f over the soak", n.Name, b.goroutines, a.goroutines)
		}
	}
}

type usage struct {
	rss        int64
	goroutines float64
}

// sample reads every node's resident memory and goroutine count.
func sample(ctx context.Context, t *testing.T, c *Cluster) map[string]usage {
	t.Helper()
	out := map[string]usage{}
	for _, n := range c.Nodes() {
		rss, err := n.RSS()
		if err != nil {
			t.Fatal(err)
		}
		g, err := n.Metric(ctx, "go_goroutines")
		if err != nil {
			t.Fatal(err)
		}
		out[n.Name] = usage{rss: rss, goroutines: g}
	}
	return out
}
