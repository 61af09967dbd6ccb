package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

func testDigests(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		d := sha256.Sum256([]byte{byte(i), byte(i >> 8)})
		out[i] = d[:]
	}
	return out
}

func TestRevocationNoticeCodec(t *testing.T) {
	ds := testDigests(revocationNoticeMax + 3)
	payloads := encodeRevocation(ds)
	if len(payloads) != 2 {
		t.Fatalf("%d payloads for %d digests, want 2", len(payloads), len(ds))
	}
	var got [][]byte
	for _, p := range payloads {
		d, flush, err := decodeRevocation(p)
		if err != nil || flush {
			t.Fatalf("decode: %v, flush %v", err, flush)
		}
		got = append(got, d...)
	}
	if !slices.EqualFunc(got, ds, bytes.Equal) {
		t.Error("digests do not round-trip")
	}
	if _, flush, err := decodeRevocation("F"); err != nil || !flush {
		t.Errorf("flush notice: %v, %v", flush, err)
	}
	for _, bad := range []string{"", "X", "D" + string(make([]byte, 31)), "1234"} {
		if _, _, err := decodeRevocation(bad); !errors.Is(err, errBadNotice) {
			t.Errorf("decode(%q) = %v, want errBadNotice", bad, err)
		}
	}
	if encodeRevocation(nil) != nil {
		t.Error("no digests, no payload")
	}
}

// recordingSink stands in for a gateway.
type recordingSink struct {
	mu      sync.Mutex
	forgot  [][]byte
	flushes int
}

func (s *recordingSink) ForgetTokenDigests(ds [][]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forgot = append(s.forgot, ds...)
}

func (s *recordingSink) FlushTokenCaches() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushes++
}

func (s *recordingSink) state() (int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.forgot), s.flushes
}

// TestRevocationNoticesThroughRedis: a notice published by one node
// reaches another node's gateway, which flushed its caches once when it
// subscribed (notices before then are lost), and measures the delivery.
func TestRevocationNoticesThroughRedis(t *testing.T) {
	addr, prefix := testRedis(t)
	client := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = client.Close() })
	newNode := func() *revocations {
		sent := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "n"}, []string{"direction", "result"})
		return &revocations{client: client, channel: noticeChannelOf(prefix, revocationChannel), logger: discardLogger(), sent: sent}
	}
	authz, gw := newNode(), newNode()
	sink := &recordingSink{}
	ctx, cancel := context.WithCancel(t.Context())
	f := gw.follower(sink)
	done := make(chan struct{})
	go func() { f.run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	waitFor := func(what string, cond func() bool) time.Duration {
		t.Helper()
		start := time.Now()
		for !cond() {
			if time.Since(start) > 5*time.Second {
				t.Fatalf("%s: not within 5s", what)
			}
			time.Sleep(2 * time.Millisecond)
		}
		return time.Since(start)
	}
	waitFor("the flush on subscribing", func() bool { _, fl := sink.state(); return fl >= 1 })

	ds := testDigests(3)
	start := time.Now()
	authz.tokensRevoked(t.Context(), ds)
	waitFor("the notice", func() bool { n, _ := sink.state(); return n == 3 })
	t.Logf("revocation notice delivered in %s", time.Since(start))
	sink.mu.Lock()
	if !slices.EqualFunc(sink.forgot, ds, bytes.Equal) {
		t.Errorf("forgot %x, want %x", sink.forgot, ds)
	}
	sink.mu.Unlock()

	_, before := sink.state()
	authz.flushAll(t.Context())
	waitFor("the flush notice", func() bool { _, fl := sink.state(); return fl == before+1 })

	// Junk on the channel changes nothing.
	if err := client.Publish(t.Context(), gw.channel, "junk").Err(); err != nil {
		t.Fatal(err)
	}
	authz.tokensRevoked(t.Context(), testDigests(1))
	waitFor("the notice after junk", func() bool { n, _ := sink.state(); return n == 4 })
}
