package clientauth_test

import (
	"context"
	"sync"
	"time"

	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/store"
)

// memStore is an in-memory clientauth.Store with the semantics of
// *store.DB: unknown clients are store.ErrNotFound and a jti seen before
// (for the same issuer, until its expiry) is store.ErrReplay.
type memStore struct {
	mu      sync.Mutex
	clients map[string]store.Client
	jtis    map[[2]string]time.Time
	// err, when set, fails every call, as a database outage would.
	err error
}

var _ clientauth.Store = (*memStore)(nil)

func newMemStore(clients ...store.Client) *memStore {
	s := &memStore{clients: map[string]store.Client{}, jtis: map[[2]string]time.Time{}}
	for _, c := range clients {
		s.clients[c.ID] = c
	}
	return s
}

func (s *memStore) GetClient(_ context.Context, id string) (store.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return store.Client{}, s.err
	}
	c, ok := s.clients[id]
	if !ok {
		return store.Client{}, store.ErrNotFound
	}
	return c, nil
}

func (s *memStore) UseJTI(_ context.Context, issuer, jti string, exp time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	k := [2]string{issuer, jti}
	if _, ok := s.jtis[k]; ok {
		return store.ErrReplay
	}
	s.jtis[k] = exp
	return nil
}

func (s *memStore) jtiExpiry(issuer, jti string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.jtis[[2]string{issuer, jti}]
	return t, ok
}
