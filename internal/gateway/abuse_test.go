package gateway

import (
	"context"
	"maps"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/ratelimit"
)

// slowAbuse holds the blocking (or the revocation) of one key until
// released, as a Redis or database call that takes its time would, and
// counts the calls per key.
type slowAbuse struct {
	*ratelimit.MemoryBlocks
	slowKey, slowSub string
	entered          chan struct{}
	release          chan struct{}

	mu      sync.Mutex
	blocks  map[string]int
	revokes map[string]int
}

func (s *slowAbuse) Block(ctx context.Context, b ratelimit.Block) error {
	s.mu.Lock()
	s.blocks[b.Key]++
	s.mu.Unlock()
	if b.Key == s.slowKey {
		s.entered <- struct{}{}
		<-s.release
	}
	return s.MemoryBlocks.Block(ctx, b)
}

func (s *slowAbuse) RevokeTokens(_ context.Context, _, subject string) (int64, error) {
	s.mu.Lock()
	s.revokes[subject]++
	s.mu.Unlock()
	if subject == s.slowSub {
		s.entered <- struct{}{}
		<-s.release
	}
	return 1, nil
}

func (s *slowAbuse) counts() (blocks, revokes map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.blocks), maps.Clone(s.revokes)
}

// TestAbuseBlockIOOutsideLock: while one key's block (its Redis call, or
// its token revocation) is slow, an unrelated key is blocked without
// waiting, and further rejections of the key being blocked return at
// once instead of queueing behind it; the slow key is blocked and
// revoked once.
func TestAbuseBlockIOOutsideLock(t *testing.T) {
	for _, slow := range []string{"block", "revoke"} {
		t.Run("slow "+slow, func(t *testing.T) {
			sa := &slowAbuse{
				MemoryBlocks: ratelimit.NewMemoryBlocks(),
				entered:      make(chan struct{}),
				release:      make(chan struct{}),
				blocks:       map[string]int{},
				revokes:      map[string]int{},
			}
			if slow == "block" {
				sa.slowKey = "sub:bob"
			} else {
				sa.slowSub = "bob"
			}
			le := newLimitEnv(t, func(cfg *catalog.Snapshot) {
				cfg.APIs[0].Limits = []catalog.Limit{{Name: "per-user", Quota: "1/hour", Key: []string{"sub"}}}
				cfg.RateLimit.Abuse = []catalog.AbuseRule{{Name: "greedy", Key: "sub", Rejections: 1,
					Window: catalog.Duration(time.Minute), Block: catalog.Duration(time.Hour), RevokeTokens: true}}
			}, func(o *Options) { o.Blocks, o.Revoker = sa, sa })
			get := func(c caller) int {
				return le.serve(request("GET", "/warehouse/items", le.tokenFor(t, c))).Code
			}
			carol := caller{sub: "carol", clientID: "spa", office: "head"}
			// One call admitted, one refusal tolerated, for both users.
			for _, c := range []caller{bob, carol} {
				if code := get(c); code != http.StatusOK {
					t.Fatalf("%s: first call %d", c.sub, code)
				}
				if code := get(c); code != http.StatusTooManyRequests {
					t.Fatalf("%s: second call %d", c.sub, code)
				}
			}
			// Bob's next refusal blocks him, slowly.
			bobDone := make(chan struct{})
			go func() {
				defer close(bobDone)
				get(bob)
			}()
			<-sa.entered
			// A guard against the old behaviour (every block waiting on
			// one lock) hanging the test; nothing is timed.
			guard := time.AfterFunc(30*time.Second, func() { close(sa.release) })
			defer guard.Stop()
			done := make(chan string, 2)
			go func() { get(bob); done <- "bob" }()
			go func() { get(carol); done <- "carol" }()
			for range 2 {
				select {
				case who := <-done:
					t.Logf("%s answered while bob's %s is in progress", who, slow)
				case <-bobDone:
					t.Fatalf("requests waited for bob's slow %s to finish", slow)
				}
			}
			if _, ok := sa.Blocked("sub:carol", le.clock.Now()); !ok {
				t.Error("carol is not blocked while bob's block is in progress")
			}
			if !guard.Stop() {
				t.Fatal("the guard released bob: the other requests were held up")
			}
			close(sa.release)
			<-bobDone
			if _, ok := sa.Blocked("sub:bob", le.clock.Now()); !ok {
				t.Error("bob is not blocked")
			}
			blocks, revokes := sa.counts()
			if blocks["sub:bob"] != 1 || revokes["bob"] != 1 {
				t.Errorf("bob blocked %d times, revoked %d times; want once each", blocks["sub:bob"], revokes["bob"])
			}
			if blocks["sub:carol"] != 1 || revokes["carol"] != 1 {
				t.Errorf("carol blocked %d times, revoked %d times; want once each", blocks["sub:carol"], revokes["carol"])
			}
		})
	}
}
