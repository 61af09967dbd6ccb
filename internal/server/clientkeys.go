package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/gateway"
	"github.com/portcullis/portcullis/internal/store"
)

// clientKeysTTL is how long a client's key set, or the answer that it
// has none, is reused. It bounds how late this node sees a client
// register, rotate or withdraw a key: half a minute, in exchange for no
// database read on the gateway's hot path.
const clientKeysTTL = 30 * time.Second

// maxClientKeySets bounds the cache. Client ids come from verified
// tokens, so the set of ids is the set of registered clients, but the
// bound keeps memory flat whatever the catalog of clients grows to.
const maxClientKeySets = 10000

// clientReader is the part of the store a storeClientKeys reads: the
// client of an id, or store.ErrNotFound.
type clientReader interface {
	GetClient(ctx context.Context, id string) (store.Client, error)
}

// storeClientKeys is the gateway's ClientKeys on a node that shares the
// authorization server's database: it reads a client's registered JWK
// Set from the store, parsed once and kept for clientKeysTTL. Answers
// are cached alike whether the client has keys or not (unknown, or no
// jwks); a store error is returned and never cached, so the step that
// asked fails closed and the next request asks again. Safe for
// concurrent use.
//
// A burst of requests for a client whose entry just expired may read
// the store once each; the reads are one indexed row each and end when
// the first answer is cached.
type storeClientKeys struct {
	r   clientReader
	ttl time.Duration
	max int
	now func() time.Time

	mu   sync.Mutex
	sets map[string]clientKeySet
}

// clientKeySet is one cached answer.
type clientKeySet struct {
	// set is the parsed key set; nil records that the client has none.
	set     *jose.JSONWebKeySet
	expires time.Time
}

var (
	_ gateway.ClientKeys = (*storeClientKeys)(nil)
	_ clientReader       = (*store.DB)(nil)
)

// newStoreClientKeys reads r; ttl ≤ 0 means clientKeysTTL, nil now means
// time.Now. It panics if r is nil.
func newStoreClientKeys(r clientReader, ttl time.Duration, now func() time.Time) *storeClientKeys {
	if r == nil {
		panic("server: newStoreClientKeys needs a client reader")
	}
	if ttl <= 0 {
		ttl = clientKeysTTL
	}
	if now == nil {
		now = time.Now
	}
	return &storeClientKeys{r: r, ttl: ttl, max: maxClientKeySets, now: now, sets: map[string]clientKeySet{}}
}

// ClientKeys returns the key set clientID registered, shared by every
// caller until it expires: callers must treat it as read-only. A client
// that is unknown or registered no keys is gateway.ErrNoClientKeys.
func (s *storeClientKeys) ClientKeys(ctx context.Context, clientID string) (*jose.JSONWebKeySet, error) {
	now := s.now()
	s.mu.Lock()
	e, ok := s.sets[clientID]
	s.mu.Unlock()
	if !ok || !now.Before(e.expires) {
		set, err := s.read(ctx, clientID)
		if err != nil {
			return nil, err
		}
		e = clientKeySet{set: set, expires: now.Add(s.ttl)}
		s.put(clientID, e, now)
	}
	if e.set == nil {
		return nil, gateway.ErrNoClientKeys
	}
	return e.set, nil
}

// read asks the store; a nil set with a nil error means no keys.
func (s *storeClientKeys) read(ctx context.Context, clientID string) (*jose.JSONWebKeySet, error) {
	c, err := s.r.GetClient(ctx, clientID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("client keys: %w", err)
	case len(c.JWKS) == 0:
		return nil, nil
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(c.JWKS, &set); err != nil {
		// The registry stored only sets it parsed: this row was written
		// some other way. Refuse rather than guess, and say so each time.
		return nil, fmt.Errorf("client keys: stored jwks of client %s: %w", clientID, err)
	}
	if len(set.Keys) == 0 {
		return nil, nil
	}
	return &set, nil
}

// put caches e, making room when the cache is full: expired entries
// first, then any one entry.
func (s *storeClientKeys) put(clientID string, e clientKeySet, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.sets[clientID]; !ok && len(s.sets) >= s.max {
		for id, old := range s.sets {
			if !now.Before(old.expires) {
				delete(s.sets, id)
			}
		}
		for id := range s.sets {
			if len(s.sets) < s.max {
				break
			}
			delete(s.sets, id)
		}
	}
	s.sets[clientID] = e
}
