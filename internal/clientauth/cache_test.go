package clientauth

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

type countingStore struct {
	clients map[string]store.Client
	reads   int
}

func (s *countingStore) GetClient(_ context.Context, id string) (store.Client, error) {
	s.reads++
	c, ok := s.clients[id]
	if !ok {
		return store.Client{}, store.ErrNotFound
	}
	return c, nil
}

func (s *countingStore) UseJTI(context.Context, string, string, time.Time) error { return nil }

func TestCachedStore(t *testing.T) {
	now := time.Unix(1000, 0)
	backing := &countingStore{clients: map[string]store.Client{"a": {ID: "a", Name: "v1"}}}
	c := NewCachedStore(backing, 5*time.Second, func() time.Time { return now })
	ctx := context.Background()

	for range 3 {
		if got, err := c.GetClient(ctx, "a"); err != nil || got.Name != "v1" {
			t.Fatalf("GetClient = %+v, %v", got, err)
		}
	}
	if backing.reads != 1 {
		t.Errorf("reads = %d, want 1 within the TTL", backing.reads)
	}
	backing.clients["a"] = store.Client{ID: "a", Name: "v2"}
	now = now.Add(5 * time.Second)
	if got, _ := c.GetClient(ctx, "a"); got.Name != "v2" {
		t.Errorf("after the TTL got %q, want the store's v2", got.Name)
	}
	for range 2 {
		if _, err := c.GetClient(ctx, "b"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown client err = %v", err)
		}
	}
	if backing.reads != 4 {
		t.Errorf("reads = %d, want 4: unknown clients are not cached", backing.reads)
	}
	backing.clients["b"] = store.Client{ID: "b"}
	if _, err := c.GetClient(ctx, "b"); err != nil {
		t.Errorf("a client created after a miss must be found at once: %v", err)
	}
	c.Forget("a")
	delete(backing.clients, "a")
	if _, err := c.GetClient(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("forgotten client still served: %v", err)
	}
}
