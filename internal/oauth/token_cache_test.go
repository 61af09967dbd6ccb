package oauth

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// raceStore is the part of Store the token cache and revocation use. Its
// GetToken can be held between reading the row and returning it, so a
// test can run a revocation exactly inside that window.
type raceStore struct {
	Store // nil: any other method panics, which would be a test bug

	mu    sync.Mutex
	rows  map[string]store.Token
	reads int
	// hold, when set, makes the next GetToken report on read (after it
	// copied the row) and wait for release before returning.
	hold    bool
	read    chan struct{}
	release chan struct{}
}

func newRaceStore(rows ...store.Token) *raceStore {
	s := &raceStore{rows: map[string]store.Token{}, read: make(chan struct{}), release: make(chan struct{})}
	for _, t := range rows {
		s.rows[string(t.Digest)] = t
	}
	return s
}

func (s *raceStore) GetToken(_ context.Context, digest []byte) (store.Token, error) {
	s.mu.Lock()
	s.reads++
	t, ok := s.rows[string(digest)]
	hold := s.hold
	s.hold = false
	s.mu.Unlock()
	if hold {
		s.read <- struct{}{}
		<-s.release
	}
	if !ok {
		return store.Token{}, store.ErrNotFound
	}
	return t, nil
}

func (s *raceStore) RevokeToken(_ context.Context, digest []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.rows[string(digest)]
	if !ok {
		return store.ErrNotFound
	}
	t.Revoked = true
	s.rows[string(digest)] = t
	return nil
}

func (s *raceStore) RevokeGrant(_ context.Context, grantID string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for k, t := range s.rows {
		if t.GrantID == grantID && !t.Revoked {
			t.Revoked = true
			s.rows[k] = t
			n++
		}
	}
	return n, nil
}

// TestTokenCacheRevocationRacesRead runs a same-node revocation while an
// introspection read of the same token is between the store and the
// cache. The read may return what it saw, but must not leave the
// pre-revocation row in the cache: the next introspection has to see the
// revocation at once, not a TTL later.
func TestTokenCacheRevocationRacesRead(t *testing.T) {
	digest := []byte("digest-of-an-access-token")
	now := time.Unix(1_000_000, 0)
	row := store.Token{Digest: digest, Kind: store.KindAccess, GrantID: "g1", ExpiresAt: now.Add(time.Hour)}

	tests := []struct {
		name   string
		revoke func(ctx context.Context, s *Server) error
	}{
		{"revoke token", func(ctx context.Context, s *Server) error { return s.revokeToken(ctx, digest) }},
		{"revoke grant", func(ctx context.Context, s *Server) error { _, err := s.revokeGrant(ctx, "g1"); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			st := newRaceStore(row)
			s := &Server{o: Options{Store: st}, tokens: newTokenCache()}

			st.hold = true
			done := make(chan store.Token)
			go func() {
				got, _, err := s.tokens.get(ctx, st, digest, now)
				if err != nil {
					t.Errorf("racing get: %v", err)
				}
				done <- got
			}()
			<-st.read // the reader holds the unrevoked row
			if err := tc.revoke(ctx, s); err != nil {
				t.Fatalf("revoke: %v", err)
			}
			close(st.release)
			<-done

			// Same instant: a cached row would still be fresh.
			got, _, err := s.tokens.get(ctx, st, digest, now)
			if err != nil {
				t.Fatalf("get after revocation: %v", err)
			}
			if !got.Revoked {
				t.Errorf("get after revocation returned an unrevoked row: the racing read refilled the cache")
			}
			if st.reads != 2 {
				t.Errorf("store reads = %d, want 2 (the read after the revocation must go to the store)", st.reads)
			}
		})
	}
}

// TestTokenCacheFillsWithoutRevocation guards the other side: a read no
// revocation overlapped is cached for the TTL.
func TestTokenCacheFillsWithoutRevocation(t *testing.T) {
	digest := []byte("another-digest")
	now := time.Unix(1_000_000, 0)
	st := newRaceStore(store.Token{Digest: digest, Kind: store.KindAccess, ExpiresAt: now.Add(time.Hour)})
	c := newTokenCache()
	for _, at := range []time.Time{now, now.Add(tokenCacheTTL - time.Nanosecond)} {
		if _, _, err := c.get(t.Context(), st, digest, at); err != nil {
			t.Fatal(err)
		}
	}
	if st.reads != 1 {
		t.Errorf("store reads = %d, want 1 within the TTL", st.reads)
	}
	if _, _, err := c.get(t.Context(), st, digest, now.Add(tokenCacheTTL)); err != nil {
		t.Fatal(err)
	}
	if st.reads != 2 {
		t.Errorf("store reads = %d, want 2 once the TTL is over", st.reads)
	}
}
