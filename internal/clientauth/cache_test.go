package clientauth

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

type countingStore struct {
	clients map[string]store.Client
	reads   map[string]int
	err     error
}

func newCountingStore(clients ...store.Client) *countingStore {
	s := &countingStore{clients: map[string]store.Client{}, reads: map[string]int{}}
	for _, c := range clients {
		s.clients[c.ID] = c
	}
	return s
}

func (s *countingStore) GetClient(_ context.Context, id string) (store.Client, error) {
	s.reads[id]++
	if s.err != nil {
		return store.Client{}, s.err
	}
	c, ok := s.clients[id]
	if !ok {
		return store.Client{}, store.ErrNotFound
	}
	return c, nil
}

func (s *countingStore) UseJTI(context.Context, string, string, time.Time) error { return nil }

func TestCachedStore(t *testing.T) {
	now := time.Unix(1000, 0)
	backing := newCountingStore(store.Client{ID: "a", Name: "v1"})
	c := NewCachedStore(backing, 5*time.Second, func() time.Time { return now })
	ctx := context.Background()

	for range 3 {
		if got, err := c.GetClient(ctx, "a"); err != nil || got.Name != "v1" {
			t.Fatalf("GetClient = %+v, %v", got, err)
		}
	}
	if backing.reads["a"] != 1 {
		t.Errorf("reads = %d, want 1 within the TTL", backing.reads["a"])
	}
	backing.clients["a"] = store.Client{ID: "a", Name: "v2"}
	now = now.Add(5 * time.Second)
	if got, _ := c.GetClient(ctx, "a"); got.Name != "v2" {
		t.Errorf("after the TTL got %q, want the store's v2", got.Name)
	}
	c.Forget("a")
	delete(backing.clients, "a")
	if _, err := c.GetClient(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("forgotten client still served: %v", err)
	}
}

// TestCachedStoreKnownAndUnknownCostTheSame: a repeated lookup costs the
// store the same number of reads whether the client exists or not, so
// response times cannot tell registered ids from unregistered ones.
func TestCachedStoreKnownAndUnknownCostTheSame(t *testing.T) {
	now := time.Unix(1000, 0)
	backing := newCountingStore(store.Client{ID: "known"})
	c := NewCachedStore(backing, 5*time.Second, func() time.Time { return now })
	ctx := context.Background()

	tests := []struct {
		id      string
		wantErr error
	}{
		{"known", nil},
		{"unknown", store.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			for range 3 {
				if _, err := c.GetClient(ctx, tc.id); !errors.Is(err, tc.wantErr) {
					t.Fatalf("GetClient(%q) error = %v, want %v", tc.id, err, tc.wantErr)
				}
			}
			if got, want := backing.reads[tc.id], 1; got != want {
				t.Errorf("store reads for %q = %d, want %d", tc.id, got, want)
			}
		})
	}

	// After the TTL a client created meanwhile is found.
	backing.clients["unknown"] = store.Client{ID: "unknown"}
	now = now.Add(5 * time.Second)
	if _, err := c.GetClient(ctx, "unknown"); err != nil {
		t.Errorf("client created during the TTL of a miss, after the TTL: %v", err)
	}
	// Forget clears a cached miss at once.
	backing.clients["new"] = store.Client{ID: "new"}
	delete(backing.clients, "new")
	if _, err := c.GetClient(ctx, "new"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetClient(new) before creation: %v", err)
	}
	backing.clients["new"] = store.Client{ID: "new"}
	c.Forget("new")
	if _, err := c.GetClient(ctx, "new"); err != nil {
		t.Errorf("client created and forgotten on this node is not found: %v", err)
	}
}

// TestCachedStoreDoesNotCacheOutages: only ErrNotFound is an answer worth
// keeping; a failing store is asked again.
func TestCachedStoreDoesNotCacheOutages(t *testing.T) {
	backing := newCountingStore()
	backing.err = errors.New("database is down")
	c := NewCachedStore(backing, 5*time.Second, func() time.Time { return time.Unix(1000, 0) })
	for range 2 {
		if _, err := c.GetClient(context.Background(), "x"); !errors.Is(err, backing.err) {
			t.Fatalf("GetClient error = %v, want the store's", err)
		}
	}
	if got := backing.reads["x"]; got != 2 {
		t.Errorf("store reads = %d, want 2: an outage must not be cached", got)
	}
}

// TestCachedStoreBounded: flooding the cache with unknown ids keeps it at
// its bound.
func TestCachedStoreBounded(t *testing.T) {
	backing := newCountingStore()
	c := NewCachedStore(backing, time.Hour, func() time.Time { return time.Unix(1000, 0) })
	for i := range maxCached + 100 {
		_, _ = c.GetClient(context.Background(), fmt.Sprint("junk-", i))
	}
	if got := len(c.clients); got != maxCached {
		t.Errorf("cache holds %d entries, want the bound %d", got, maxCached)
	}
}
