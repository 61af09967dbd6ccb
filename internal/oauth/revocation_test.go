package oauth

import (
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// TestForgetAndFlushTokens: a revocation made on another node (a notice)
// drops this node's cached record, so the next read sees the store.
func TestForgetAndFlushTokens(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	a := store.Token{Digest: []byte("digest-a"), Kind: store.KindAccess, ExpiresAt: now.Add(time.Hour)}
	b := store.Token{Digest: []byte("digest-b"), Kind: store.KindAccess, ExpiresAt: now.Add(time.Hour)}
	st := newRaceStore(a, b)
	s := &Server{o: Options{Store: st}, tokens: newTokenCache()}
	read := func(d []byte) store.Token {
		t.Helper()
		got, _, err := s.tokens.get(t.Context(), st, d, now)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	read(a.Digest)
	read(b.Digest)
	// Revoked behind this node's back, as another node does it.
	for _, d := range [][]byte{a.Digest, b.Digest} {
		st.mu.Lock()
		r := st.rows[string(d)]
		r.Revoked = true
		st.rows[string(d)] = r
		st.mu.Unlock()
	}
	if read(a.Digest).Revoked {
		t.Fatal("the cache answered from the store: the test cannot tell a forget")
	}
	s.ForgetTokens([][]byte{a.Digest})
	if !read(a.Digest).Revoked {
		t.Error("after ForgetTokens the cached record still answers")
	}
	if read(b.Digest).Revoked {
		t.Error("ForgetTokens dropped another token")
	}
	s.FlushTokens()
	if !read(b.Digest).Revoked {
		t.Error("after FlushTokens the cached record still answers")
	}
}
