package cluster

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Load is a bounded run of GET requests against the gateways: it stops
// after Requests requests or Duration, whichever comes first, or when its
// context ends. It only speaks to loopback addresses.
type Load struct {
	// Targets picks the base URL of request i (a gateway); nil targets
	// are skipped (a node taken out of rotation).
	Targets func(i int) string
	// Path is the request path, with its query.
	Path string
	// Token returns the bearer token of request i.
	Token func(i int) string
	// Header is sent with every request.
	Header map[string]string
	// Workers is how many requests are in flight at once. Zero means 8.
	Workers int
	// Requests bounds the number of requests. Zero means 1,000,000.
	Requests int
	// Duration bounds the run. Zero means 30s.
	Duration time.Duration
	// OK lists the statuses that count as success. Empty means 200.
	OK []int
}

// Result is what a run measured.
type Result struct {
	OK, Err int
	// Codes counts responses by status; 0 counts transport errors.
	Codes map[int]int
	// Errors are the first few failures, for the test log.
	Errors   []string
	P50, P99 time.Duration
	Elapsed  time.Duration
}

// String is the run in one line, for the test log.
func (r Result) String() string {
	rate := float64(r.OK+r.Err) / max(r.Elapsed.Seconds(), 1e-9)
	return fmt.Sprintf("%d ok, %d failed in %v (%.0f req/s), p50 %v, p99 %v, codes %v",
		r.OK, r.Err, r.Elapsed.Round(time.Millisecond), rate, r.P50, r.P99, r.Codes)
}

// loadTransport is shared by every run: keep-alive connections to each
// gateway, as a client behind a balancer would hold.
var loadTransport = &http.Transport{
	MaxIdleConnsPerHost: 64,
	IdleConnTimeout:     30 * time.Second,
	DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
}

// Run sends the requests and returns what it measured. It never runs
// past Duration (plus one request's timeout).
func (l Load) Run(ctx context.Context) Result {
	workers := cmp.Or(l.Workers, 8)
	total := cmp.Or(l.Requests, 1_000_000)
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(l.Duration, 30*time.Second))
	defer cancel()
	ok := l.OK
	if len(ok) == 0 {
		ok = []int{http.StatusOK}
	}
	client := &http.Client{Transport: loadTransport, Timeout: 30 * time.Second}

	var (
		next    atomic.Int64
		mu      sync.Mutex
		res     = Result{Codes: map[int]int{}}
		samples [][]time.Duration
		wg      sync.WaitGroup
	)
	start := time.Now()
	samples = make([][]time.Duration, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes := map[int]int{}
			var okN, errN int
			var errs []string
			lat := make([]time.Duration, 0, 1024)
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= total {
					break
				}
				base := l.Targets(i)
				if base == "" {
					continue
				}
				t0 := time.Now()
				code, err := l.one(ctx, client, base, l.Token(i))
				if err != nil && ctx.Err() != nil {
					break // the run's time is up: not the cluster's failure
				}
				lat = append(lat, time.Since(t0))
				codes[code]++
				if err == nil && slices.Contains(ok, code) {
					okN++
					continue
				}
				errN++
				if len(errs) < 5 {
					if err == nil {
						err = fmt.Errorf("status %d", code)
					}
					errs = append(errs, fmt.Sprintf("%s%s: %v", base, l.Path, err))
				}
			}
			mu.Lock()
			defer mu.Unlock()
			res.OK += okN
			res.Err += errN
			for c, n := range codes {
				res.Codes[c] += n
			}
			if room := 10 - len(res.Errors); room > 0 {
				res.Errors = append(res.Errors, errs[:min(room, len(errs))]...)
			}
			samples[w] = lat
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	all := slices.Concat(samples...)
	slices.Sort(all)
	res.P50, res.P99 = quantile(all, 0.50), quantile(all, 0.99)
	return res
}

func (l Load) one(ctx context.Context, client *http.Client, base, tok string) (int, error) {
	u, err := url.Parse(base + l.Path)
	if err != nil {
		return 0, err
	}
	if host := u.Hostname(); !net.ParseIP(host).IsLoopback() {
		return 0, fmt.Errorf("load generator refuses %s: loopback only", host)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, err
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, v := range l.Header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

// RoundRobin spreads requests over bases.
func RoundRobin(bases ...string) func(int) string {
	return func(i int) string { return bases[i%len(bases)] }
}

// Fixed returns the same token for every request.
func Fixed(tok string) func(int) string { return func(int) string { return tok } }
