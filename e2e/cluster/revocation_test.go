package cluster

import (
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"
)

// revocationAcrossGateways: an opaque token revoked at authz-1 (RFC 7009)
// is refused by every gateway within revocationBound, though each had
// cached it (a phantom token cached for cache_ttl, 60 s): the revocation
// notice through Redis drops it. Without Redis the bound would be
// cache_ttl (docs/gateway.md, Revocation).
func revocationAcrossGateways(t *testing.T, c *Cluster) {
	ctx := t.Context()
	const rounds = 5
	var worst time.Duration
	for range rounds {
		tok, err := c.Token(ctx, c.Authz[0].AuthzURL, OpaqueClient)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range c.Gateways {
			if code, err := Call(ctx, g.GatewayURL, "/api/items", tok, nil); err != nil || code != http.StatusOK {
				t.Fatalf("%s answered %d (%v) before the revocation, want 200", g.Name, code, err)
			}
		}
		start := time.Now()
		code, _, m, err := Form(ctx, c.Authz[0].AuthzURL+"/oauth2/revoke", OpaqueClient, c.Secrets[OpaqueClient], url.Values{"token": {tok}})
		if err != nil || code != http.StatusOK {
			t.Fatalf("revoke at authz-1: %d %v %v", code, m, err)
		}
		var (
			mu    sync.Mutex
			delay = map[string]time.Duration{}
			wg    sync.WaitGroup
		)
		for _, g := range c.Gateways {
			wg.Go(func() {
				// Polls past the bound too, so the log shows how late a
				// gateway was, not only that it was.
				for time.Since(start) < 10*revocationBound {
					code, err := Call(ctx, g.GatewayURL, "/api/items", tok, nil)
					if err == nil && code == http.StatusUnauthorized {
						mu.Lock()
						delay[g.Name] = time.Since(start)
						mu.Unlock()
						return
					}
					time.Sleep(2 * time.Millisecond)
				}
			})
		}
		wg.Wait()
		for _, g := range c.Gateways {
			d, ok := delay[g.Name]
			if !ok {
				t.Fatalf("%s still accepts the revoked token after %v", g.Name, 10*revocationBound)
			}
			worst = max(worst, d)
		}
		t.Logf("revoked at authz-1, refused after %v", delay)
	}
	t.Logf("worst case over %d revocations and %d gateways: %v (bound %v)", rounds, len(c.Gateways), worst, revocationBound)
	if worst > revocationBound {
		t.Errorf("a revoked opaque token was accepted for %v at a gateway, want at most %v", worst, revocationBound)
	}
}
