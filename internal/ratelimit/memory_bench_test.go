package ratelimit

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// benchLimits are three limits of the warehouse kind: an app plan's burst,
// a daily quota and a per-operation rolling quota, loose enough to admit
// every request of a benchmark.
func benchLimits() (rate, day, op *Limit) {
	rate = &Limit{Name: "gold-burst", Kind: Rate, Count: 1e9, Period: time.Second}
	day = &Limit{Name: "gold-day", Kind: Quota, Count: 1 << 40, Window: Day, Location: time.UTC}
	op = &Limit{Name: "orders", Kind: Quota, Count: 1e9, Period: time.Hour, Rolling: true}
	return rate, day, op
}

func BenchmarkMemoryAllow1(b *testing.B) {
	m := NewMemory(MemoryConfig{})
	rate, _, _ := benchLimits()
	checks := []Check{{rate, "client-1"}}
	states := make([]State, 1)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := m.Allow(ctx, checks, memT0, states); !ok || err != nil {
			b.Fatalf("Allow = %v, %v", ok, err)
		}
	}
}

func BenchmarkMemoryAllow3(b *testing.B) {
	m := NewMemory(MemoryConfig{})
	rate, day, op := benchLimits()
	checks := []Check{{rate, "client-1"}, {day, "client-1"}, {op, "user-1:orders"}}
	states := make([]State, 3)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := m.Allow(ctx, checks, memT0, states); !ok || err != nil {
			b.Fatalf("Allow = %v, %v", ok, err)
		}
	}
}

// BenchmarkMemoryAllow1Parallel: each goroutine its own client (the
// common case: contention only when two land on one shard).
func BenchmarkMemoryAllow1Parallel(b *testing.B) {
	m := NewMemory(MemoryConfig{})
	rate, _, _ := benchLimits()
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		checks := []Check{{rate, "client-" + strconv.FormatInt(next.Add(1), 10)}}
		states := make([]State, 1)
		ctx := context.Background()
		for pb.Next() {
			if ok, err := m.Allow(ctx, checks, memT0, states); !ok || err != nil {
				b.Errorf("Allow = %v, %v", ok, err)
				return
			}
		}
	})
}

func BenchmarkMemoryAllow3Parallel(b *testing.B) {
	m := NewMemory(MemoryConfig{})
	rate, day, op := benchLimits()
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		id := strconv.FormatInt(next.Add(1), 10)
		checks := []Check{{rate, "client-" + id}, {day, "client-" + id}, {op, "user-" + id + ":orders"}}
		states := make([]State, 3)
		ctx := context.Background()
		for pb.Next() {
			if ok, err := m.Allow(ctx, checks, memT0, states); !ok || err != nil {
				b.Errorf("Allow = %v, %v", ok, err)
				return
			}
		}
	})
}

// BenchmarkMemoryAllow1ParallelOneKey: every goroutine on one key, the
// worst case (one shard's lock).
func BenchmarkMemoryAllow1ParallelOneKey(b *testing.B) {
	m := NewMemory(MemoryConfig{})
	rate, _, _ := benchLimits()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		checks := []Check{{rate, "client-1"}}
		states := make([]State, 1)
		ctx := context.Background()
		for pb.Next() {
			if ok, err := m.Allow(ctx, checks, memT0, states); !ok || err != nil {
				b.Errorf("Allow = %v, %v", ok, err)
				return
			}
		}
	})
}

// BenchmarkMemoryAllowDenied1: the refused path of a drained key.
func BenchmarkMemoryAllowDenied1(b *testing.B) {
	m := NewMemory(MemoryConfig{})
	l := &Limit{Name: "tight", Kind: Rate, Count: 1, Period: time.Hour}
	checks := []Check{{l, "client-1"}}
	states := make([]State, 1)
	ctx := context.Background()
	_, _ = m.Allow(ctx, checks, memT0, states)
	b.ReportAllocs()
	for b.Loop() {
		if ok, _ := m.Allow(ctx, checks, memT0, states); ok {
			b.Fatal("admitted")
		}
	}
}

// BenchmarkMemoryAllowNewKey: a key seen for the first time (one
// allocation for the entry, one for the cloned key, map growth).
func BenchmarkMemoryAllowNewKey(b *testing.B) {
	m := NewMemory(MemoryConfig{MaxKeys: 1 << 24})
	rate, _, _ := benchLimits()
	keys := make([]string, 1<<20)
	for i := range keys {
		keys[i] = "client-" + strconv.Itoa(i)
	}
	checks := []Check{{Limit: rate}}
	states := make([]State, 1)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		checks[0].Key = keys[i&(len(keys)-1)]
		i++
		_, _ = m.Allow(ctx, checks, memT0, states)
	}
}
