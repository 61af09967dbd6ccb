package cluster

import (
	"context"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// background runs l and delivers its result.
func background(ctx context.Context, l Load) <-chan Result {
	ch := make(chan Result, 1)
	go func() { ch <- l.Run(ctx) }()
	return ch
}

// mustRun fails t unless every node is still running: a fault elsewhere
// must never crash a node.
func mustRun(t *testing.T, nodes ...*Node) {
	t.Helper()
	for _, n := range nodes {
		if !n.Running() {
			t.Errorf("%s is not running: %v", n.Name, n.ExitErr())
		}
	}
}

// killedGateway: kill -9 of one gateway under load; the requests to the
// other two all succeed (nothing is shared between gateways but the
// store and Redis, which the killed one held no lock in).
func killedGateway(t *testing.T, c *Cluster) {
	ctx := t.Context()
	tok, err := c.Token(ctx, c.Issuer, OpaqueClient)
	if err != nil {
		t.Fatal(err)
	}
	victim, others := c.Gateways[0], c.Gateways[1:]
	load := background(ctx, Load{
		Targets: RoundRobin(c.gatewayURLs(others...)...), Path: "/api/items", Token: Fixed(tok),
		Workers: 8, Duration: 3 * time.Second,
	})
	// The victim carries load too, so it dies with requests in flight.
	victimLoad := background(ctx, Load{
		Targets: RoundRobin(victim.GatewayURL), Path: "/api/items", Token: Fixed(tok),
		Workers: 4, Duration: 3 * time.Second,
	})
	time.Sleep(time.Second)
	victim.Kill()
	res, vres := <-load, <-victimLoad
	t.Logf("other gateways: %v", res)
	t.Logf("killed gateway (failures expected after the kill): %v", vres)
	if res.Err != 0 || res.OK == 0 {
		t.Errorf("%d requests to the surviving gateways failed (%d ok), want 0: %v", res.Err, res.OK, res.Errors)
	}
	if vres.Err == 0 {
		t.Errorf("no request to the killed gateway failed: was it killed under load?")
	}
	c.Restart(victim)
	if code, err := Call(ctx, victim.GatewayURL, "/api/items", tok, nil); err != nil || code != http.StatusOK {
		t.Errorf("%s after its restart: %d %v, want 200", victim.Name, code, err)
	}
}

// drainedGateway: SIGTERM to a gateway under load, with a call to a slow
// upstream in flight. The gateway fails /readyz at once (the client
// below stops sending to it, as a load balancer would), keeps serving
// for shutdown.drain_delay (1 s), then gives requests in flight
// shutdown.grace (10 s): the slow call, 2.5 s long, completes, no
// request sent to it fails, and it exits 0.
func drainedGateway(t *testing.T, c *Cluster) {
	ctx := t.Context()
	tok, err := c.Token(ctx, c.Issuer, OpaqueClient)
	if err != nil {
		t.Fatal(err)
	}
	victim := c.Gateways[0]
	var out atomic.Bool
	stopPoll := make(chan struct{})
	go func() {
		// The balancer's health check: out of rotation on the first 503.
		for {
			select {
			case <-stopPoll:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if code, _ := victim.Ready(ctx); code == http.StatusServiceUnavailable {
				out.Store(true)
				return
			}
		}
	}()
	defer close(stopPoll)
	urls := c.gatewayURLs()
	load := background(ctx, Load{
		Targets: func(i int) string {
			u := urls[i%len(urls)]
			if u == victim.GatewayURL && out.Load() {
				u = urls[1+i%(len(urls)-1)]
			}
			return u
		},
		Path: "/api/items", Token: Fixed(tok), Workers: 8, Duration: 4 * time.Second,
	})
	slow := make(chan int, 1)
	slowErr := make(chan error, 1)
	go func() {
		code, err := Call(ctx, victim.GatewayURL, "/api/slow?ms=2500", tok, nil)
		slow <- code
		slowErr <- err
	}()
	time.Sleep(500 * time.Millisecond)
	if err := victim.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, exitErr := victim.Wait(20 * time.Second)
	res := <-load
	t.Logf("load across the drain: %v", res)
	if got, err := <-slow, <-slowErr; got != http.StatusOK || err != nil {
		t.Errorf("the 2.5 s call in flight at SIGTERM: %d %v, want 200", got, err)
	}
	if exitErr != nil || code != 0 {
		t.Errorf("%s exit: code %d %v, want 0", victim.Name, code, exitErr)
	}
	if !out.Load() {
		t.Error("/readyz never answered 503 during the drain")
	}
	if res.Err != 0 || res.OK == 0 {
		t.Errorf("%d requests failed across the drain (%d ok), want 0: %v", res.Err, res.OK, res.Errors)
	}
	c.Restart(victim)
}

// postgresOutage: the database goes away under load (the proxy in front
// of it cuts every connection and refuses new ones; the shared server
// itself is untouched). Tokens the gateways cached and JWTs keep working;
// a token request is answered 503 with Retry-After, never 500, and no
// node crashes; once the database is back, everything recovers without a
// restart.
func postgresOutage(t *testing.T, c *Cluster) {
	ctx := t.Context()
	opaque, err := c.Token(ctx, c.Issuer, OpaqueClient)
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := c.Token(ctx, c.Issuer, JWTClient)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range c.Gateways { // warm every gateway's cache
		if code, err := Call(ctx, g.GatewayURL, "/api/items", opaque, nil); err != nil || code != http.StatusOK {
			t.Fatalf("%s before the outage: %d %v", g.Name, code, err)
		}
	}
	toks := []string{opaque, jwt}
	load := background(ctx, Load{
		Targets: RoundRobin(c.gatewayURLs()...), Path: "/api/items",
		Token: func(i int) string { return toks[i%2] }, Workers: 8, Duration: 4 * time.Second,
	})
	time.Sleep(500 * time.Millisecond)
	c.Postgres.Cut()
	cut := time.Now()
	// New tokens during the outage: at each node, several times (the
	// first requests may still be answered from the nodes' caches).
	codes := map[int]int{}
	for range 5 {
		for _, a := range c.Authz {
			code, hdr, m, err := Form(ctx, a.AuthzURL+"/oauth2/token", JWTClient, c.Secrets[JWTClient],
				map[string][]string{"grant_type": {"client_credentials"}})
			if err != nil {
				t.Errorf("%s during the outage: %v", a.Name, err)
				continue
			}
			codes[code]++
			switch code {
			case http.StatusOK:
			case http.StatusServiceUnavailable:
				if hdr.Get("Retry-After") == "" || m["error"] != "temporarily_unavailable" {
					t.Errorf("%s during the outage: 503 with Retry-After %q and %v, want Retry-After and temporarily_unavailable", a.Name, hdr.Get("Retry-After"), m)
				}
			default:
				t.Errorf("%s answered a token request %d %v during the outage, want 503", a.Name, code, m)
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Logf("token requests during the outage: %v", codes)
	if codes[http.StatusServiceUnavailable] == 0 {
		t.Errorf("no token request was refused with 503 during the outage: %v", codes)
	}
	for _, a := range c.Authz {
		if code, _ := a.Ready(ctx); code != http.StatusServiceUnavailable {
			t.Errorf("%s /readyz during the outage: %d, want 503 (it cannot issue)", a.Name, code)
		}
	}
	for time.Since(cut) < 2*time.Second {
		time.Sleep(100 * time.Millisecond)
	}
	if err := c.Postgres.Restore(); err != nil {
		t.Fatal(err)
	}
	res := <-load
	t.Logf("cached tokens across the outage: %v", res)
	if res.Err != 0 || res.OK == 0 {
		t.Errorf("%d requests with cached tokens failed during the outage (%d ok), want 0: %v", res.Err, res.OK, res.Errors)
	}
	mustRun(t, c.Nodes()...)
	// Recovery, without restarting anything: each node issues again and
	// every gateway takes a new opaque token (introspected afresh).
	deadline := time.Now().Add(30 * time.Second)
	for _, a := range c.Authz {
		for {
			tok, err := c.Token(ctx, a.AuthzURL, OpaqueClient)
			if err == nil {
				for _, g := range c.Gateways {
					if code, err := Call(ctx, g.GatewayURL, "/api/items", tok, nil); err != nil || code != http.StatusOK {
						t.Errorf("%s after the outage, a new token of %s: %d %v", g.Name, a.Name, code, err)
					}
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not issue tokens after the outage: %v", a.Name, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	c.waitReady(ctx, c.Nodes()...)
}

// redisOutage: Redis goes away under load (its proxy is cut). Each limit
// follows its on_backend_error: deny answers 503, allow skips the limit,
// local counts in each node's memory (LocalLimit per node); the breaker
// opens (logged), and after Redis is back it closes and the counts are
// shared again. Requests without limits never fail, no node crashes, and
// each gateway's goroutines return near where they were.
func redisOutage(t *testing.T, c *Cluster) {
	ctx := t.Context()
	tok, err := c.Token(ctx, c.Issuer, JWTClient)
	if err != nil {
		t.Fatal(err)
	}
	base := map[string]float64{}
	for _, g := range c.Gateways {
		if base[g.Name], err = g.Metric(ctx, "go_goroutines"); err != nil {
			t.Fatal(err)
		}
	}
	call := func(g *Node, path, bucket string) int {
		code, err := Call(ctx, g.GatewayURL, path, tok, map[string]string{"X-Bucket": bucket})
		if err != nil {
			t.Fatalf("%s %s: %v", g.Name, path, err)
		}
		return code
	}
	denyBucket := bucket(t)
	for _, g := range c.Gateways {
		if code := call(g, "/api/deny", denyBucket); code != http.StatusOK {
			t.Fatalf("%s /api/deny before the outage: %d", g.Name, code)
		}
	}
	load := background(ctx, Load{
		Targets: RoundRobin(c.gatewayURLs()...), Path: "/api/items", Token: Fixed(tok), Workers: 4, Duration: 4 * time.Second,
	})
	time.Sleep(300 * time.Millisecond)
	c.Redis.Cut()
	allowBucket, localBucket := bucket(t), bucket(t)
	for _, g := range c.Gateways {
		got := map[string]map[int]int{"deny": {}, "allow": {}, "local": {}}
		for range 2 * LocalLimit {
			got["deny"][call(g, "/api/deny", denyBucket)]++
			got["allow"][call(g, "/api/allow", allowBucket)]++
			got["local"][call(g, "/api/local", localBucket)]++
		}
		t.Logf("%s with Redis down: %v", g.Name, got)
		if got["deny"][http.StatusServiceUnavailable] != 2*LocalLimit {
			t.Errorf("%s: on_backend_error deny answered %v, want 503 only", g.Name, got["deny"])
		}
		if got["allow"][http.StatusOK] != 2*LocalLimit {
			t.Errorf("%s: on_backend_error allow (quota 1) answered %v, want 200 only", g.Name, got["allow"])
		}
		// Counted in this node's memory: LocalLimit admitted on each
		// node; the requests past the local count are refused as a
		// reached limit is, 429 (docs/ratelimit.md).
		if got["local"][http.StatusOK] != LocalLimit || got["local"][http.StatusTooManyRequests] != LocalLimit {
			t.Errorf("%s: on_backend_error local (quota %d) answered %v, want %d admitted on this node and %d refused",
				g.Name, LocalLimit, got["local"], LocalLimit, LocalLimit)
		}
		if !strings.Contains(g.Log(), "redis circuit breaker open") {
			t.Errorf("%s did not log its breaker opening", g.Name)
		}
	}
	time.Sleep(time.Second)
	if err := c.Redis.Restore(); err != nil {
		t.Fatal(err)
	}
	res := <-load
	t.Logf("requests without limits across the outage: %v", res)
	if res.Err != 0 || res.OK == 0 {
		t.Errorf("%d requests without limits failed during the Redis outage (%d ok), want 0: %v", res.Err, res.OK, res.Errors)
	}
	mustRun(t, c.Nodes()...)
	// The breaker closes (a trial after its 2 s cooldown): deny admits
	// again, and a quota of one is shared across the gateways again.
	deadline := time.Now().Add(30 * time.Second)
	for _, g := range c.Gateways {
		for call(g, "/api/deny", denyBucket) != http.StatusOK {
			if time.Now().After(deadline) {
				t.Fatalf("%s still refuses /api/deny after Redis came back", g.Name)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	shared := bucket(t)
	if a, b := call(c.Gateways[0], "/api/allow", shared), call(c.Gateways[1], "/api/allow", shared); a != http.StatusOK || b != http.StatusTooManyRequests {
		t.Errorf("a quota of 1 after the outage: %d at gw-1 then %d at gw-2, want 200 then 429 (counted in Redis again)", a, b)
	}
	// Goroutines: the outage's retries and redials must not linger.
	const margin = 30
	for _, g := range c.Gateways {
		var now float64
		for range 50 {
			if now, err = g.Metric(ctx, "go_goroutines"); err == nil && now <= base[g.Name]+margin {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Logf("%s goroutines: %.0f before, %.0f after", g.Name, base[g.Name], now)
		if now > base[g.Name]+margin {
			t.Errorf("%s has %.0f goroutines after the outage, %.0f before (margin %d)", g.Name, now, base[g.Name], margin)
		}
	}
}

// badReload: SIGHUP with a broken configuration file on one gateway: it
// logs the refusal, keeps its route table and serving, and the others
// are unaffected; the file repaired and SIGHUP again, it reloads.
func badReload(t *testing.T, c *Cluster) {
	ctx := t.Context()
	tok, err := c.Token(ctx, c.Issuer, OpaqueClient)
	if err != nil {
		t.Fatal(err)
	}
	victim := c.Gateways[0]
	good, err := os.ReadFile(victim.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.WriteFile(victim.ConfigPath, good, 0o600) })
	broken := strings.Replace(string(good), "base_path: /api", "base_path: /api\n      no_such_field: 1", 1)
	if err := os.WriteFile(victim.ConfigPath, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	load := background(ctx, Load{
		Targets: RoundRobin(c.gatewayURLs()...), Path: "/api/items", Token: Fixed(tok), Workers: 8, Duration: 2 * time.Second,
	})
	time.Sleep(500 * time.Millisecond)
	if err := victim.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	res := <-load
	t.Logf("load across the bad reload: %v", res)
	if res.Err != 0 || res.OK == 0 {
		t.Errorf("%d requests failed across the bad reload (%d ok), want 0: %v", res.Err, res.OK, res.Errors)
	}
	if !strings.Contains(victim.Log(), "gateway configuration refused") {
		t.Errorf("%s did not log the refused configuration", victim.Name)
	}
	mustRun(t, c.Nodes()...)
	for _, g := range c.Gateways {
		if code, err := Call(ctx, g.GatewayURL, "/api/items", tok, nil); err != nil || code != http.StatusOK {
			t.Errorf("%s after the bad reload: %d %v, want 200", g.Name, code, err)
		}
	}
}
