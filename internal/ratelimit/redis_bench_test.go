package ratelimit

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// benchmarkRedisAllow measures one Allow with n limits against the real
// server: one round trip whatever n, from 8 callers per CPU as a busy
// gateway would have in flight. Each caller has its own key and limits
// that admit everything, as on a healthy gateway.
func benchmarkRedisAllow(b *testing.B, n int) {
	c := redis.NewClient(&redis.Options{Addr: testRedisAddr(b), ContextTimeoutEnabled: true})
	b.Cleanup(func() { c.Close() })
	prefix := testPrefix(b, c)
	r := NewRedis(c, RedisConfig{Prefix: prefix, Timeout: time.Second}, nil, nil)
	limits := []*Limit{
		{Name: "plan-burst", Kind: Rate, Count: 1_000_000, Period: time.Second, Burst: 1000},
		{Name: "plan-daily", Kind: Quota, Count: 1 << 40, Window: Day, Location: time.UTC},
		{Name: "user-rolling", Kind: Quota, Count: 1 << 40, Period: time.Hour, Rolling: true},
	}[:n]
	var worker atomic.Int64
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		key := "client-" + strconv.FormatInt(worker.Add(1), 10)
		checks := make([]Check, n)
		for i, l := range limits {
			checks[i] = Check{Limit: l, Key: key}
		}
		states := make([]State, n)
		for pb.Next() {
			if _, err := r.Allow(ctx, checks, time.Now(), states); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkRedisAllow1(b *testing.B) { benchmarkRedisAllow(b, 1) }

func BenchmarkRedisAllow3(b *testing.B) { benchmarkRedisAllow(b, 3) }
