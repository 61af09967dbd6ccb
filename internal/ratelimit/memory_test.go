package ratelimit

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// memT0 is the time the memory tests start at.
var memT0 = time.Date(2026, 5, 17, 9, 41, 7, 0, time.UTC)

// memCheck makes one request against m and fails the test on an error.
func memAllow(t testing.TB, m *Memory, now time.Time, checks ...Check) (bool, []State) {
	t.Helper()
	states := make([]State, len(checks))
	ok, err := m.Allow(context.Background(), checks, now, states)
	if err != nil {
		t.Fatalf("Allow: %v", err)
	}
	return ok, states
}

// memPeek peeks one check.
func memPeek(t testing.TB, m *Memory, now time.Time, c Check) State {
	t.Helper()
	states := make([]State, 1)
	if err := m.Peek(context.Background(), []Check{c}, now, states); err != nil {
		t.Fatalf("Peek: %v", err)
	}
	return states[0]
}

func TestNewMemoryShards(t *testing.T) {
	tests := []struct {
		maxKeys             int
		wantShards, wantPer int
	}{
		{maxKeys: 0, wantShards: 64, wantPer: 15625},
		{maxKeys: -5, wantShards: 64, wantPer: 15625},
		{maxKeys: 1, wantShards: 1, wantPer: 1},
		{maxKeys: 511, wantShards: 1, wantPer: 511},
		{maxKeys: 512, wantShards: 2, wantPer: 256},
		{maxKeys: 16384, wantShards: 64, wantPer: 256},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.maxKeys), func(t *testing.T) {
			m := NewMemory(MemoryConfig{MaxKeys: tt.maxKeys})
			if got := len(m.shards); got != tt.wantShards {
				t.Errorf("shards = %d, want %d", got, tt.wantShards)
			}
			if got := m.shards[0].max; got != tt.wantPer {
				t.Errorf("keys per shard = %d, want %d", got, tt.wantPer)
			}
		})
	}
}

func TestMemoryEvictsLeastRecentlyUsed(t *testing.T) {
	m := NewMemory(MemoryConfig{MaxKeys: 4})
	long := &Limit{Name: "long", Kind: Rate, Count: 1, Period: time.Hour}
	for i, k := range []string{"a", "b", "c", "d"} {
		if ok, _ := memAllow(t, m, memT0.Add(time.Duration(i)*time.Second), Check{long, k}); !ok {
			t.Fatalf("%s refused", k)
		}
	}
	// b is used again, so a is now the least recently used.
	now := memT0.Add(10 * time.Second)
	memAllow(t, m, now, Check{long, "b"})
	if ok, _ := memAllow(t, m, now, Check{long, "e"}); !ok {
		t.Fatal("e refused")
	}
	if got := m.Evictions(); got != 1 {
		t.Errorf("Evictions = %d, want 1", got)
	}
	if got := m.Len(); got != 4 {
		t.Errorf("Len = %d, want 4", got)
	}
	for _, tt := range []struct {
		key  string
		want int64
	}{{"a", 1}, {"b", 0}, {"c", 0}, {"d", 0}, {"e", 0}} {
		if got := memPeek(t, m, now, Check{long, tt.key}).Remaining; got != tt.want {
			t.Errorf("%s: Remaining = %d, want %d (1: forgotten, 0: held)", tt.key, got, tt.want)
		}
	}
}

func TestMemoryDropsIdleBeforeEvicting(t *testing.T) {
	m := NewMemory(MemoryConfig{MaxKeys: 4})
	long := &Limit{Name: "long", Kind: Rate, Count: 1, Period: time.Hour}
	short := &Limit{Name: "short", Kind: Rate, Count: 1, Period: time.Second}
	memAllow(t, m, memT0, Check{long, "a"})
	memAllow(t, m, memT0.Add(time.Second), Check{long, "b"})
	memAllow(t, m, memT0.Add(2*time.Second), Check{long, "c"})
	memAllow(t, m, memT0.Add(3*time.Second), Check{short, "s"}) // idle from memT0+4s
	now := memT0.Add(5 * time.Second)
	memAllow(t, m, now, Check{long, "d"})
	if got := m.Evictions(); got != 0 {
		t.Errorf("Evictions = %d, want 0: an idle key was there to drop", got)
	}
	if got := memPeek(t, m, now, Check{long, "a"}).Remaining; got != 0 {
		t.Errorf("a: Remaining = %d, want 0 (still held)", got)
	}

	// A stream of one-off keys that go idle a second after their request
	// never evicts a live key, however long it runs.
	m = NewMemory(MemoryConfig{MaxKeys: 4})
	memAllow(t, m, memT0, Check{long, "live"})
	for i := range 3000 {
		at := memT0.Add(time.Duration(i+1) * time.Second)
		memAllow(t, m, at, Check{short, "one-off-" + strconv.Itoa(i)})
	}
	if got := m.Evictions(); got != 0 {
		t.Errorf("Evictions after idle one-off keys = %d, want 0", got)
	}
	if got := memPeek(t, m, memT0.Add(time.Hour-time.Second), Check{long, "live"}).Remaining; got != 0 {
		t.Errorf("live: Remaining = %d, want 0 (still held)", got)
	}
}

func TestMemoryEvictionKeepsRequestKeys(t *testing.T) {
	m := NewMemory(MemoryConfig{MaxKeys: 1})
	a := &Limit{Name: "a", Kind: Rate, Count: 1, Period: time.Hour}
	b := &Limit{Name: "b", Kind: Rate, Count: 1, Period: time.Hour}
	if ok, _ := memAllow(t, m, memT0, Check{a, "k"}, Check{b, "k"}); !ok {
		t.Fatal("first request refused")
	}
	// Both keys were kept although MaxKeys is 1: dropping one would
	// forget a charge the admitted request made.
	if ok, st := memAllow(t, m, memT0, Check{a, "k"}, Check{b, "k"}); ok {
		t.Errorf("second request admitted (%+v): a charge was lost", st)
	}
	if got := m.Len(); got != 2 {
		t.Errorf("Len = %d, want 2", got)
	}
	// The next new key brings the shard back under its bound.
	memAllow(t, m, memT0.Add(time.Second), Check{a, "other"})
	if got := m.Len(); got != 1 {
		t.Errorf("Len after another key = %d, want 1", got)
	}
	if got := m.Evictions(); got != 2 {
		t.Errorf("Evictions = %d, want 2", got)
	}
}

func TestMemorySweep(t *testing.T) {
	m := NewMemory(MemoryConfig{})
	short := &Limit{Name: "short", Kind: Rate, Count: 1, Period: time.Second}
	long := &Limit{Name: "long", Kind: Rate, Count: 1, Period: time.Hour}
	minute := &Limit{Name: "minute", Kind: Quota, Count: 5, Window: Minute}
	for i := range 3000 {
		k := strconv.Itoa(i)
		memAllow(t, m, memT0, Check{short, k}, Check{minute, k})
	}
	for i := range 10 {
		memAllow(t, m, memT0, Check{long, strconv.Itoa(i)})
	}
	if got := m.Len(); got != 6010 {
		t.Fatalf("Len = %d, want 6010", got)
	}
	if got := m.Sweep(memT0.Add(time.Second)); got != 3000 {
		t.Errorf("Sweep after 1s dropped %d, want the 3000 rate keys", got)
	}
	if got := m.Sweep(memT0.Add(time.Minute)); got != 3000 {
		t.Errorf("Sweep after the minute dropped %d, want the 3000 quota keys", got)
	}
	if got := m.Len(); got != 10 {
		t.Errorf("Len = %d, want the 10 live keys", got)
	}
	if got := memPeek(t, m, memT0.Add(time.Minute), Check{long, "3"}).Remaining; got != 0 {
		t.Errorf("live key: Remaining = %d, want 0 (kept)", got)
	}
	if got := m.Sweep(time.Time{}); got != 0 {
		t.Errorf("Sweep(zero time) = %d, want 0", got)
	}
}

func TestMemorySweepsAsKeysArrive(t *testing.T) {
	m := NewMemory(MemoryConfig{})
	short := &Limit{Name: "short", Kind: Rate, Count: 1, Period: time.Millisecond}
	const n = 200_000
	for i := range n {
		memAllow(t, m, memT0.Add(time.Duration(i)*time.Millisecond), Check{short, strconv.Itoa(i)})
	}
	// Without sweeping all n would be held; with it each shard stays
	// near the sample size.
	if got := m.Len(); got > 64*4*sweepSample {
		t.Errorf("Len = %d after %d short-lived keys, want at most %d", got, n, 64*4*sweepSample)
	}
	if got := m.Evictions(); got != 0 {
		t.Errorf("Evictions = %d, want 0", got)
	}
}

func TestMemorySweepShrinks(t *testing.T) {
	m := NewMemory(MemoryConfig{MaxKeys: 511}) // one shard
	short := &Limit{Name: "short", Kind: Rate, Count: 1, Period: time.Second}
	for i := range 500 {
		memAllow(t, m, memT0, Check{short, strconv.Itoa(i)})
	}
	s := &m.shards[0]
	if s.peak != 500 {
		t.Fatalf("peak = %d, want 500", s.peak)
	}
	if got := m.Sweep(memT0.Add(time.Second)); got != 500 {
		t.Fatalf("Sweep dropped %d, want 500", got)
	}
	// A rebuilt map starts its peak again from what it holds.
	if s.peak != 0 || len(s.m) != 0 {
		t.Errorf("after Sweep: peak %d, len %d; want the map rebuilt empty", s.peak, len(s.m))
	}
}

func TestMemoryStateFollowsKindChange(t *testing.T) {
	m := NewMemory(MemoryConfig{})
	rate := &Limit{Name: "plan", Kind: Rate, Count: 1, Period: time.Hour}
	memAllow(t, m, memT0, Check{rate, "k"})
	// The same name reloaded as a quota (and then another window) starts
	// afresh instead of reading a TAT as a window.
	quota := &Limit{Name: "plan", Kind: Quota, Count: 2, Window: Day}
	day := &Limit{Name: "plan", Kind: Quota, Count: 2, Window: Month}
	for _, l := range []*Limit{quota, day} {
		got := memPeek(t, m, memT0, Check{l, "k"})
		if got.Remaining != 2 || got.Denied {
			t.Errorf("%v window %d: peek = %+v, want a fresh quota", l.Kind, l.Window, got)
		}
		memAllow(t, m, memT0, Check{l, "k"})
	}
}

func TestMemoryClockSteppingBack(t *testing.T) {
	m := NewMemory(MemoryConfig{})
	l := &Limit{Name: "r", Kind: Rate, Count: 2, Period: time.Hour}
	c := Check{l, "k"}
	memAllow(t, m, memT0, c)
	memAllow(t, m, memT0, c)
	back := memT0.Add(-2 * time.Hour)
	ok, st := memAllow(t, m, back, c)
	want := State{Reset: 3 * time.Hour, RetryAfter: 2*time.Hour + 30*time.Minute, Denied: true}
	if ok || st[0] != want {
		t.Errorf("two hours back: Allow = %v %+v, want false %+v", ok, st[0], want)
	}
}

func TestMemoryInvalidTime(t *testing.T) {
	m := NewMemory(MemoryConfig{})
	l := &Limit{Name: "r", Kind: Rate, Count: 2, Period: time.Hour}
	for _, now := range []time.Time{{}, time.Unix(-1, 0), time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)} {
		ok, err := m.Allow(context.Background(), []Check{{l, "k"}}, now, make([]State, 1))
		if ok || !errors.Is(err, ErrInvalidCheck) {
			t.Errorf("Allow at %v = %v, %v; want false, ErrInvalidCheck", now, ok, err)
		}
		if err := m.Peek(context.Background(), []Check{{l, "k"}}, now, make([]State, 1)); !errors.Is(err, ErrInvalidCheck) {
			t.Errorf("Peek at %v = %v; want ErrInvalidCheck", now, err)
		}
	}
	if got := m.Len(); got != 0 {
		t.Errorf("Len = %d, want 0", got)
	}
}

func TestMemoryManyChecks(t *testing.T) {
	// More checks than fit the inline scratch space, with repeats.
	m := NewMemory(MemoryConfig{})
	var checks []Check
	for i := range 3 * inlineChecks {
		l := &Limit{Name: "l" + strconv.Itoa(i%(2*inlineChecks)), Kind: Rate, Count: 4, Period: time.Hour}
		checks = append(checks, Check{l, "k"})
	}
	ok, st := memAllow(t, m, memT0, checks...)
	if !ok {
		t.Fatalf("refused: %+v", st)
	}
	// l0..l7 were listed twice and have 2 left; l8..l15 have 3 left.
	want := make([]State, len(checks))
	for i := range want {
		n := int64(3)
		if i >= 2*inlineChecks {
			n = 2 // the second listing of l0..l7
		}
		want[i] = State{Remaining: n, Reset: time.Duration(4-n) * 15 * time.Minute}
	}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("states mismatch (-want +got):\n%s", diff)
	}
	if got := m.Len(); got != 2*inlineChecks {
		t.Errorf("Len = %d, want %d", got, 2*inlineChecks)
	}
}

func TestMemoryZeroAllocs(t *testing.T) {
	m := NewMemory(MemoryConfig{})
	a := &Limit{Name: "a", Kind: Rate, Count: 1e9, Period: time.Second}
	b := &Limit{Name: "b", Kind: Quota, Count: 1e9, Window: Day, Location: time.UTC}
	c := &Limit{Name: "c", Kind: Quota, Count: 1e9, Period: time.Hour, Rolling: true}
	one := []Check{{a, "client-1"}}
	three := []Check{{a, "client-1"}, {b, "user-1"}, {c, "op-1"}}
	states := make([]State, 3)
	ctx := context.Background()
	memAllow(t, m, memT0, three...)
	tests := []struct {
		name string
		f    func()
	}{
		{"allow one", func() { _, _ = m.Allow(ctx, one, memT0, states[:1]) }},
		{"allow three", func() { _, _ = m.Allow(ctx, three, memT0, states) }},
		{"peek three", func() { _ = m.Peek(ctx, three, memT0, states) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := testing.AllocsPerRun(1000, tt.f); got != 0 {
				t.Errorf("allocs per call = %v, want 0", got)
			}
		})
	}
}

func TestMemoryConcurrentOrders(t *testing.T) {
	// Requests locking overlapping shards in every order must not
	// deadlock, and the totals must be exact.
	m := NewMemory(MemoryConfig{})
	var limits []*Limit
	for i := range 6 {
		limits = append(limits, &Limit{Name: "l" + strconv.Itoa(i), Kind: Rate, Count: 1000, Period: 1000 * time.Hour})
	}
	var wg sync.WaitGroup
	for w := range 12 {
		wg.Go(func() {
			checks := make([]Check, 0, 3)
			for j := range 3 {
				checks = append(checks, Check{limits[(w+j*(w%5+1))%6], "k" + strconv.Itoa(j)})
			}
			states := make([]State, len(checks))
			for range 200 {
				if _, err := m.Allow(context.Background(), checks, memT0, states); err != nil {
					t.Errorf("Allow: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := m.Len(); got == 0 {
		t.Error("no keys held")
	}
}

func TestMemoryMillionKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("inserts a million keys")
	}
	const n = 1_000_000
	// The documented bound: 200 bytes per key, 200 MB for a million.
	const bound = 200
	l := &Limit{Name: "per-client", Kind: Rate, Count: 100, Period: time.Hour}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m := NewMemory(MemoryConfig{MaxKeys: 2 * n})
	states := make([]State, 1)
	checks := []Check{{Limit: l}}
	buf := make([]byte, 0, 32)
	for i := range n {
		buf = strconv.AppendInt(append(buf[:0], "client-"...), int64(i), 10)
		checks[0].Key = string(buf)
		if _, err := m.Allow(context.Background(), checks, memT0, states); err != nil {
			t.Fatalf("Allow: %v", err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if got := m.Len(); got != n {
		t.Fatalf("Len = %d, want %d", got, n)
	}
	perKey := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("%d keys (~14-byte keys): %.0f bytes per key, %.1f MB", n, perKey, perKey*n/1e6)
	if perKey > bound {
		t.Errorf("%.0f bytes per key, want at most %d", perKey, bound)
	}
	runtime.KeepAlive(m)
}

func TestMemoryDefaultCapHoldsNearlyAMillion(t *testing.T) {
	if testing.Short() {
		t.Skip("inserts a million keys")
	}
	const n = 1_000_000
	m := NewMemory(MemoryConfig{})
	l := &Limit{Name: "per-client", Kind: Rate, Count: 100, Period: time.Hour}
	states := make([]State, 1)
	checks := []Check{{Limit: l}}
	for i := range n {
		checks[0].Key = strconv.Itoa(i)
		if _, err := m.Allow(context.Background(), checks, memT0, states); err != nil {
			t.Fatalf("Allow: %v", err)
		}
	}
	held, ev := m.Len(), m.Evictions()
	t.Logf("default MaxKeys, %d keys: %d held, %d evicted", n, held, ev)
	if held+int(ev) != n {
		t.Errorf("held %d + evicted %d != %d", held, ev, n)
	}
	if held < n*97/100 {
		t.Errorf("held %d, want at least 97%% of MaxKeys", held)
	}
}
