package keys_test

import (
	"cmp"
	"context"
	"slices"
	"sync"

	"github.com/portcullis/portcullis/internal/keys"
	"github.com/portcullis/portcullis/internal/store"
)

// memStore is an in-memory keys.Store with the semantics of *store.DB:
// ListKeys orders by creation time, UpdateKey changes only timestamps.
type memStore struct {
	mu   sync.Mutex
	keys map[string]store.SigningKey
	seq  map[string]int // insertion order breaks CreatedAt ties
	n    int
	// writes counts CreateKey, UpdateKey and DeleteKey calls.
	writes int
}

var _ keys.Store = (*memStore)(nil)

func newMemStore() *memStore {
	return &memStore{keys: map[string]store.SigningKey{}, seq: map[string]int{}}
}

func (s *memStore) CreateKey(_ context.Context, k store.SigningKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[k.KID]; ok {
		return store.ErrConflict
	}
	s.writes++
	s.n++
	s.keys[k.KID] = clone(k)
	s.seq[k.KID] = s.n
	return nil
}

func (s *memStore) ListKeys(_ context.Context) ([]store.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]store.SigningKey, 0, len(s.keys))
	for _, k := range s.keys {
		out = append(out, clone(k))
	}
	slices.SortFunc(out, func(a, b store.SigningKey) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(s.seq[a.KID], s.seq[b.KID])
	})
	return out, nil
}

func (s *memStore) UpdateKey(_ context.Context, k store.SigningKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.keys[k.KID]
	if !ok {
		return store.ErrNotFound
	}
	s.writes++
	old.ActivatedAt = k.ActivatedAt
	old.RetiredAt = k.RetiredAt
	s.keys[k.KID] = old
	return nil
}

func (s *memStore) DeleteKey(_ context.Context, kid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[kid]; !ok {
		return store.ErrNotFound
	}
	s.writes++
	delete(s.keys, kid)
	return nil
}

// put replaces a row wholesale, as an attacker with database access could.
func (s *memStore) put(k store.SigningKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.seq[k.KID]; !ok {
		s.n++
		s.seq[k.KID] = s.n
	}
	s.keys[k.KID] = clone(k)
}

func (s *memStore) get(kid string) store.SigningKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return clone(s.keys[kid])
}

func (s *memStore) writeCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

func clone(k store.SigningKey) store.SigningKey {
	k.PrivateSealed = slices.Clone(k.PrivateSealed)
	k.PublicJWK = slices.Clone(k.PublicJWK)
	return k
}

// byState groups listed keys of use by state, as "state:alg" strings in
// creation order, for compact diffs.
func byState(infos []keys.KeyInfo, use keys.Use) map[string][]string {
	out := map[string][]string{}
	for _, k := range infos {
		if k.Use == use {
			out[k.State] = append(out[k.State], k.Alg)
		}
	}
	return out
}
