package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/config"
)

// steadyDoc keeps "steady" as it is and changes "shop" with each apply.
const steadyDoc = `apis:
  - name: steady
    version: v1
    base_path: /steady
    upstream: %[1]s
    public: true
    operations:
      - {method: GET, path: /hello}
    state: published
  - name: shop
    version: v1
    base_path: /shop
    upstream: %[1]s
    public: true
    operations:
      - {method: GET, path: /hello}
      - {method: GET, path: /round%[2]d}
    state: published
`

// Load on an API the applies leave alone sees no failed request while
// the catalog is applied again and again, each apply swapping the route
// table under it. Bounded: four loopback clients for about three seconds.
func TestCatalogAppliesUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	upstream := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(rw, "ok")
	}))
	t.Cleanup(upstream.Close)
	cfg := testConfig(t)
	const poll = 100 * time.Millisecond
	cfg.Gateway.CatalogPoll = config.Duration(poll)
	r := startTest(t, cfg)
	applyDoc(t, cfg, fmt.Sprintf(steadyDoc, upstream.URL, 0))
	eventually(t, 10*poll, func() error {
		if code, _ := get(t, r.GatewayURL+"/steady/hello"); code != http.StatusOK {
			return fmt.Errorf("GET /steady/hello = %d", code)
		}
		return nil
	})

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	client := &http.Client{Timeout: 5 * time.Second}
	var sent, failed atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				sent.Add(1)
				resp, err := client.Get(r.GatewayURL + "/steady/hello")
				if err != nil {
					failed.Add(1)
					t.Errorf("GET /steady/hello: %v", err)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
					t.Errorf("GET /steady/hello = %d during applies", resp.StatusCode)
				}
			}
		})
	}
	const applies = 10
	start := time.Now()
	for i := 1; i <= applies; i++ {
		applyDoc(t, cfg, fmt.Sprintf(steadyDoc, upstream.URL, i))
		time.Sleep(300 * time.Millisecond)
	}
	// The last apply is served: the table really was swapped each time.
	eventually(t, 10*poll, func() error {
		if code, _ := get(t, fmt.Sprintf("%s/shop/round%d", r.GatewayURL, applies)); code != http.StatusOK {
			return fmt.Errorf("GET /shop/round%d = %d", applies, code)
		}
		return nil
	})
	cancel()
	wg.Wait()
	t.Logf("%d requests in %s over %d applies, %d failed", sent.Load(), time.Since(start).Round(time.Millisecond), applies, failed.Load())
	if failed.Load() != 0 {
		t.Errorf("%d of %d requests failed", failed.Load(), sent.Load())
	}
}
