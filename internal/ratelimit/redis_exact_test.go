package ratelimit

import (
	"context"
	"flag"
	"math"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// longRun (-redis-long, or PORTCULLIS_TEST_LONG=1) enables the 10 s
// version of the GCRA exactness run that the issue cites.
var longRun = flag.Bool("redis-long", false, "run the 10 s Redis GCRA exactness test")

// testNodes returns n Redis backends with their own clients, as n gateway
// nodes sharing one Redis would have.
func testNodes(t *testing.T, n int, prefix string) []*Redis {
	t.Helper()
	addr := testRedisAddr(t)
	nodes := make([]*Redis, n)
	for i := range nodes {
		c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 16})
		t.Cleanup(func() { c.Close() })
		// A generous timeout: two shared cores must not turn a slow
		// scheduler into a backend failure that would skew the count.
		nodes[i] = NewRedis(c, RedisConfig{Prefix: prefix, Timeout: 5 * time.Second}, nil, nil)
	}
	return nodes
}

// hammerRun is what hammerNodes saw: how many requests were admitted, when
// each attempt started (on the monotonic clock, sorted) and when the
// first one to finish did.
type hammerRun struct {
	admitted int64
	starts   []time.Duration
	firstEnd time.Duration
}

// hammerNodes makes requests against l from workers goroutines spread over
// the nodes until stop reports true. Any error fails the test: an exact
// count means nothing if some calls failed.
func hammerNodes(t *testing.T, nodes []*Redis, l *Limit, workers int, stop func(attempt int64) bool) hammerRun {
	t.Helper()
	var admitted, attempts atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	starts := make([][]time.Duration, workers)
	ends := make([]time.Duration, workers)
	base := time.Now()
	for w := range workers {
		node := nodes[w%len(nodes)]
		wg.Go(func() {
			checks := []Check{{Limit: l, Key: "client:hammer"}}
			states := make([]State, 1)
			for !stop(attempts.Add(1)) {
				starts[w] = append(starts[w], time.Since(base))
				ok, err := node.Allow(context.Background(), checks, time.Now(), states)
				if err != nil {
					errs <- err
					return
				}
				if ends[w] == 0 {
					ends[w] = time.Since(base)
				}
				if ok {
					admitted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Allow: %v", err)
	}
	run := hammerRun{admitted: admitted.Load(), starts: slices.Concat(starts...)}
	slices.Sort(run.starts)
	for _, e := range ends {
		if e > 0 && (run.firstEnd == 0 || e < run.firstEnd) {
			run.firstEnd = e
		}
	}
	return run
}

// TestRedisQuotaExactAcrossNodes is the proof for quotas: three
// nodes under concurrent load admit exactly the configured count.
func TestRedisQuotaExactAcrossNodes(t *testing.T) {
	c := newTestRedisClient(t)
	prefix := testPrefix(t, c)
	nodes := testNodes(t, 3, prefix)
	tests := []struct {
		name  string
		limit *Limit
	}{
		{"calendar hour", &Limit{Name: "hourly", Kind: Quota, Count: 1000, Window: Hour, Location: time.UTC}},
		{"rolling hour", &Limit{Name: "rolling", Kind: Quota, Count: 1000, Period: time.Hour, Rolling: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.limit.Window == Hour && time.Until(time.Now().Truncate(time.Hour).Add(time.Hour)) < time.Minute {
				t.Skip("too close to the end of the hour for a calendar window")
			}
			const attempts = 1600
			got := hammerNodes(t, nodes, tt.limit, 12, func(n int64) bool { return n > attempts }).admitted
			if got != tt.limit.Count {
				t.Errorf("admitted %d of %d attempts, want exactly %d", got, attempts, tt.limit.Count)
			}
		})
	}
}

// TestRedisRateExactAcrossNodes is the proof for rates: three
// nodes hammering one GCRA limit admit rate×duration + burst, within 1 %.
//
// Over-admission is the limiter's fault and is checked strictly: over any
// interval D, GCRA admits at most B + floor(D/T), and every decision falls
// between two readings of the Redis server's clock (the one the script
// uses) taken before and after the run. Under-admission is not always the
// limiter's fault: on a loaded machine the load generator itself stalls,
// and a limit nobody asks cannot hand out tokens. So the lower bound is 99 %
// of what the limit could have admitted: B plus the rate times the span
// surely covered by decisions (from the end of the first call to the start
// of the last), less the time lost in gaps between attempts longer than
// the burst's horizon B·T (shorter ones only let tokens accumulate).
func TestRedisRateExactAcrossNodes(t *testing.T) {
	c := newTestRedisClient(t)
	prefix := testPrefix(t, c)
	nodes := testNodes(t, 3, prefix)
	run := 3 * time.Second
	if *longRun || os.Getenv("PORTCULLIS_TEST_LONG") != "" {
		run = 10 * time.Second
	}
	l := &Limit{Name: "rate", Kind: Rate, Count: 200, Period: time.Second, Burst: 10}
	interval := l.Interval()
	horizon := interval * time.Duration(l.Burst)

	ctx := context.Background()
	start, err := c.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(run)
	h := hammerNodes(t, nodes, l, 12, func(int64) bool { return time.Now().After(deadline) })
	end, err := c.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}

	var stalled time.Duration
	for i := 1; i < len(h.starts); i++ {
		stalled += max(0, h.starts[i]-h.starts[i-1]-horizon)
	}
	elapsed := end.Sub(start)
	covered := h.starts[len(h.starts)-1] - h.firstEnd
	perSecond := float64(l.Count) / l.Period.Seconds()
	most := l.Burst + int64(elapsed/interval)
	could := float64(l.Burst) + perSecond*(covered-stalled).Seconds()
	want := float64(l.Burst) + perSecond*run.Seconds()
	t.Logf("admitted %d in a %v run: %.3f%% off rate×duration+burst = %.0f (at most %d by the server's clock, at least %.1f given %v of generator stalls)",
		h.admitted, run, 100*math.Abs(float64(h.admitted)-want)/want, want, most, could, stalled)
	if h.admitted > most {
		t.Errorf("admitted %d in %v, want at most B + D/T = %d", h.admitted, elapsed, most)
	}
	if float64(h.admitted) < 0.99*could {
		t.Errorf("admitted %d, want at least 99%% of %.1f (rate×(covered span−stalls)+burst)", h.admitted, could)
	}
}
