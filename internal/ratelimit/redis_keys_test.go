package ratelimit

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"
)

// TestRedisKeys pins the key layout, the hash tag each kind of client
// gets, and that every key expires when its state is no longer needed,
// so memory stays constant per key and idle keys vanish.
func TestRedisKeys(t *testing.T) {
	ctx := context.Background()
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 7, 1, 10, 30, 0, 0, time.UTC) // 11:30 in London
	rate := &Limit{Name: "gold-burst", Kind: Rate, Count: 100, Period: time.Second}
	daily := &Limit{Name: "gold-daily", Kind: Quota, Count: 2000, Window: Day, Location: london}
	hourly := &Limit{Name: "regional-orders", Kind: Quota, Count: 10, Window: Hour, Location: london}
	checks := []Check{{rate, "client-1"}, {daily, "client-1"}, {hourly, "sub-{alice}"}}

	tag := hashTag("client-1")
	tests := []struct {
		name   string
		client func(addr string) redis.UniversalClient
		tag    string
	}{
		{"single server", func(addr string) redis.UniversalClient { return redis.NewClient(&redis.Options{Addr: addr}) }, "rl"},
		{"cluster", func(addr string) redis.UniversalClient {
			return redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr}})
		}, string(tag[:])},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := miniredis.RunT(t)
			m.SetTime(now)
			c := tt.client(m.Addr())
			t.Cleanup(func() { c.Close() })
			// A round trip of its own, not the 50 ms default: this test
			// reads key names, and a busy -race run (the cluster client's
			// first call also discovers the slots) must not fail it.
			r := NewRedis(c, RedisConfig{Prefix: "pc:", Timeout: 10 * time.Second}, nil, nil)
			if ok, err := r.Allow(ctx, checks, now, make([]State, 3)); !ok || err != nil {
				t.Fatalf("Allow = %v, %v; want true, nil", ok, err)
			}
			head := "pc:{" + tt.tag + "}:"
			dayStart := time.Date(2026, 7, 1, 0, 0, 0, 0, london).Unix()
			hourStart := time.Date(2026, 7, 1, 11, 0, 0, 0, london).Unix()
			want := []string{
				head + "gold-burst:r:client-1",
				head + "gold-daily:d" + strconv.FormatInt(dayStart, 10) + ":client-1",
				head + "regional-orders:h" + strconv.FormatInt(hourStart, 10) + ":sub-{alice}",
			}
			got := m.Keys()
			slices.Sort(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("keys -want +got:\n%s", diff)
			}
			for _, k := range got {
				// The first {...} of every key is the shared tag, so
				// they all hash to one Cluster slot.
				if i, j := strings.IndexByte(k, '{'), strings.IndexByte(k, '}'); k[i+1:j] != tt.tag {
					t.Errorf("key %q: hash tag %q, want %q", k, k[i+1:j], tt.tag)
				}
			}

			ttls := map[string]time.Duration{}
			for _, k := range want {
				ttls[k] = m.TTL(k)
			}
			wantTTL := map[string]time.Duration{
				want[0]: 10 * time.Millisecond,                         // one T: full again then
				want[1]: 12*time.Hour + 30*time.Minute + calendarSlack, // local midnight + slack
				want[2]: 30*time.Minute + calendarSlack,                // end of the local hour + slack
			}
			if diff := cmp.Diff(wantTTL, ttls); diff != "" {
				t.Errorf("TTLs -want +got:\n%s", diff)
			}
			m.FastForward(13*time.Hour + calendarSlack)
			if keys := m.Keys(); len(keys) != 0 {
				t.Errorf("keys after every window ended: %v, want none", keys)
			}
		})
	}
}
