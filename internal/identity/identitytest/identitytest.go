// Package identitytest provides in-memory implementations of the stores
// the identity package needs, for tests of identity and of the packages
// built on it (the authorization endpoints).
//
// They behave like internal/store (the same sentinel errors, copies in and
// out) but keep nothing on disk and must never be used outside tests.
package identitytest

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/portcullis/portcullis/internal/identity"
	"github.com/portcullis/portcullis/internal/store"
)

var (
	_ identity.UserStore    = (*UserStore)(nil)
	_ identity.SessionStore = (*SessionStore)(nil)
)

// UserStore is an in-memory identity.UserStore. The zero value is ready to
// use and safe for concurrent use.
type UserStore struct {
	mu    sync.Mutex
	users map[string]store.User // by id
	// Err is returned, when set, by every method, to test store failures.
	// Set it before the store is shared between goroutines.
	Err error
}

// CreateUser inserts u; store.ErrConflict if the id or username exists.
func (s *UserStore) CreateUser(_ context.Context, u store.User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return s.Err
	}
	for _, o := range s.users {
		if o.ID == u.ID || o.Username == u.Username {
			return fmt.Errorf("user %q: %w", u.Username, store.ErrConflict)
		}
	}
	if s.users == nil {
		s.users = make(map[string]store.User)
	}
	s.users[u.ID] = cloneUser(u)
	return nil
}

// GetUser returns the user with id, or store.ErrNotFound.
func (s *UserStore) GetUser(_ context.Context, id string) (store.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return store.User{}, s.Err
	}
	u, ok := s.users[id]
	if !ok {
		return store.User{}, store.ErrNotFound
	}
	return cloneUser(u), nil
}

// GetUserByUsername returns the user with that username, or
// store.ErrNotFound.
func (s *UserStore) GetUserByUsername(_ context.Context, username string) (store.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return store.User{}, s.Err
	}
	for _, u := range s.users {
		if u.Username == username {
			return cloneUser(u), nil
		}
	}
	return store.User{}, store.ErrNotFound
}

// ListUsers returns every user ordered by username.
func (s *UserStore) ListUsers(_ context.Context) ([]store.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return nil, s.Err
	}
	out := make([]store.User, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, cloneUser(u))
	}
	slices.SortFunc(out, func(a, b store.User) int { return cmp.Compare(a.Username, b.Username) })
	return out, nil
}

// UpdateUser replaces the user with u.ID; store.ErrNotFound if absent,
// store.ErrConflict if the new username belongs to another user.
func (s *UserStore) UpdateUser(_ context.Context, u store.User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return s.Err
	}
	if _, ok := s.users[u.ID]; !ok {
		return store.ErrNotFound
	}
	for _, o := range s.users {
		if o.ID != u.ID && o.Username == u.Username {
			return fmt.Errorf("user %q: %w", u.Username, store.ErrConflict)
		}
	}
	s.users[u.ID] = cloneUser(u)
	return nil
}

// DeleteUser removes the user with id; store.ErrNotFound if absent.
func (s *UserStore) DeleteUser(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return s.Err
	}
	if _, ok := s.users[id]; !ok {
		return store.ErrNotFound
	}
	delete(s.users, id)
	return nil
}

func cloneUser(u store.User) store.User {
	u.Roles = slices.Clone(u.Roles)
	u.Attrs = maps.Clone(u.Attrs)
	return u
}

// SessionStore is an in-memory identity.SessionStore. The zero value is
// ready to use and safe for concurrent use.
type SessionStore struct {
	mu       sync.Mutex
	sessions map[string]store.Session // by string(digest)
	// Err is returned, when set, by every method, to test store failures.
	// Set it before the store is shared between goroutines.
	Err error
}

// CreateSession inserts s; store.ErrConflict if the digest exists.
func (s *SessionStore) CreateSession(_ context.Context, sess store.Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return s.Err
	}
	k := string(sess.Digest)
	if _, ok := s.sessions[k]; ok {
		return store.ErrConflict
	}
	if s.sessions == nil {
		s.sessions = make(map[string]store.Session)
	}
	sess.Digest = slices.Clone(sess.Digest)
	s.sessions[k] = sess
	return nil
}

// GetSession returns the session stored under digest, or
// store.ErrNotFound.
func (s *SessionStore) GetSession(_ context.Context, digest []byte) (store.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return store.Session{}, s.Err
	}
	sess, ok := s.sessions[string(digest)]
	if !ok {
		return store.Session{}, store.ErrNotFound
	}
	sess.Digest = slices.Clone(sess.Digest)
	return sess, nil
}

// DeleteSession removes a session; no error if absent.
func (s *SessionStore) DeleteSession(_ context.Context, digest []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return s.Err
	}
	delete(s.sessions, string(digest))
	return nil
}

// Len returns how many sessions are stored, expired ones included.
func (s *SessionStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Sessions returns a copy of every stored session, in no particular order.
func (s *SessionStore) Sessions() []store.Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]store.Session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		sess.Digest = slices.Clone(sess.Digest)
		out = append(out, sess)
	}
	return out
}
