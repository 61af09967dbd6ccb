package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"
)

// FuzzRedisMatchesMemory is a differential test of the Lua script against
// the Go algorithms: a random sequence of requests and peeks, over several
// limits and keys, at random times, must get the same decisions and the
// same states from the Redis backend (the script on miniredis, whose TIME
// follows the test's clock) as from the memory backend.
//
// Each operation takes two bytes: the first moves time forward by its low
// six bits times 7ms (times 1000 when bit 6 is set, reaching window edges)
// and makes the operation a Peek when bit 7 is set; the second picks the
// checks (a bit per check of the list below, in order).
func FuzzRedisMatchesMemory(f *testing.F) {
	f.Add([]byte{0, 0xff, 0, 0xff, 0, 0xff, 1, 0x0f, 0x80, 0xff})
	f.Add([]byte{0, 0x03, 0, 0x03, 0, 0x03, 0x41, 0x03, 0, 0x30, 0, 0x30, 0x7f, 0x30})
	f.Add([]byte{0, 0x01, 0, 0x01, 0, 0x01, 0, 0x01, 0x0e, 0x01, 0x8e, 0x01})

	kolkata, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		f.Fatal(err)
	}
	limits := []*Limit{
		{Name: "rate", Kind: Rate, Count: 10, Period: time.Second, Burst: 3},
		{Name: "odd", Kind: Rate, Count: 3, Period: time.Second}, // T = ceil(1s/3)
		{Name: "rolling", Kind: Quota, Count: 5, Period: time.Minute, Rolling: true},
		{Name: "minute", Kind: Quota, Count: 4, Window: Minute},
		{Name: "hour", Kind: Quota, Count: 6, Window: Hour, Location: kolkata},
	}
	var all []Check
	for _, key := range []string{"a", "b"} {
		for _, l := range limits[:4] {
			all = append(all, Check{Limit: l, Key: key})
		}
	}
	all = append(all[:7], Check{Limit: limits[4], Key: "a"}) // 8 checks: one bit each

	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 400 {
			ops = ops[:400]
		}
		ctx := context.Background()
		m := miniredis.RunT(t)
		c := redis.NewClient(&redis.Options{Addr: m.Addr()})
		defer c.Close()
		// The server's clock has microseconds: keep the test's on them too.
		now := time.Date(2026, 10, 25, 0, 59, 58, 500_000_000, time.UTC)
		m.SetTime(now)
		r := NewRedis(c, RedisConfig{Timeout: 5 * time.Second}, nil, nil)
		mem := NewMemory(MemoryConfig{})

		for i := 0; i+1 < len(ops); i += 2 {
			step := time.Duration(ops[i]&0x3f) * 7 * time.Millisecond
			if ops[i]&0x40 != 0 {
				step *= 1000
			}
			if step > 0 {
				now = now.Add(step)
				m.SetTime(now)
				m.FastForward(step)
			}
			var checks []Check
			for j := range all {
				if ops[i+1]&(1<<j) != 0 {
					checks = append(checks, all[j])
				}
			}
			gotR, wantM := make([]State, len(checks)), make([]State, len(checks))
			peek := ops[i]&0x80 != 0
			var okR, okM bool
			var errR, errM error
			if peek {
				okR, okM = true, true
				errR = r.Peek(ctx, checks, now, gotR)
				errM = mem.Peek(ctx, checks, now, wantM)
			} else {
				okR, errR = r.Allow(ctx, checks, now, gotR)
				okM, errM = mem.Allow(ctx, checks, now, wantM)
			}
			if errR != nil || errM != nil {
				t.Fatalf("op %d: redis err %v, memory err %v", i/2, errR, errM)
			}
			if okR != okM {
				t.Fatalf("op %d (peek %v) at %v: redis allowed %v, memory %v", i/2, peek, now, okR, okM)
			}
			if diff := cmp.Diff(wantM, gotR); diff != "" {
				t.Fatalf("op %d (peek %v) at %v: states -memory +redis:\n%s", i/2, peek, now, diff)
			}
		}
	})
}
