package cluster

import (
	"encoding/hex"
	"net/http"
	"testing"
	"time"
)

// exactLimitsAcrossGateways: a quota of QuotaLimit requests, counted in
// Redis, is exact across the three gateways under concurrent load: the
// Lua script decides each request atomically, so exactly QuotaLimit
// pass and every other request is refused with 429.
func exactLimitsAcrossGateways(t *testing.T, c *Cluster) {
	ctx := t.Context()
	tok, err := c.Token(ctx, c.Issuer, JWTClient)
	if err != nil {
		t.Fatal(err)
	}
	const total = 3 * QuotaLimit
	res := Load{
		Targets: RoundRobin(c.gatewayURLs()...), Path: "/api/quota", Token: Fixed(tok),
		Header:  map[string]string{"X-Bucket": bucket(t)},
		Workers: 24, Requests: total, Duration: 60 * time.Second,
		OK: []int{http.StatusOK, http.StatusTooManyRequests},
	}.Run(ctx)
	t.Logf("%d requests with a quota of %d across %d gateways: %v", total, QuotaLimit, len(c.Gateways), res)
	if res.Err != 0 {
		t.Fatalf("%d requests failed otherwise than 200 or 429: %v", res.Err, res.Errors)
	}
	if got := res.Codes[http.StatusOK]; got != QuotaLimit {
		t.Errorf("%d requests admitted, want exactly %d", got, QuotaLimit)
	}
	if got := res.Codes[http.StatusTooManyRequests]; got != total-QuotaLimit {
		t.Errorf("%d requests refused with 429, want %d", got, total-QuotaLimit)
	}
}

// bucket is a fresh X-Bucket value: counters no other request has used.
func bucket(t testing.TB) string { return hex.EncodeToString(random(t, 8)) }
