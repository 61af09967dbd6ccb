package store

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"testing"
)

// revocationNoticeTests cover what revocation notices are built from:
// the digests of a grant's live tokens, and those of each batch a bulk
// revocation commits.
func revocationNoticeTests() []contractTest {
	ctx := context.Background()
	sorted := func(ds [][]byte) [][]byte {
		out := slices.Clone(ds)
		slices.SortFunc(out, bytes.Compare)
		return out
	}
	return []contractTest{
		{"GrantTokenDigests", func(t *testing.T, db *DB) {
			live := []Token{
				fullToken("gd-access", KindAccess, "spa", "u-alice", "gd"),
				fullToken("gd-refresh", KindRefresh, "spa", "u-alice", "gd"),
			}
			revoked := fullToken("gd-old", KindAccess, "spa", "u-alice", "gd")
			revoked.Revoked = true
			other := fullToken("ge-access", KindAccess, "spa", "u-alice", "ge")
			for _, tok := range append(slices.Clone(live), revoked, other) {
				mustNil(t, "CreateToken", db.CreateToken(ctx, tok))
			}
			got, err := db.GrantTokenDigests(ctx, "gd")
			mustNil(t, "GrantTokenDigests", err)
			want := sorted([][]byte{live[0].Digest, live[1].Digest})
			if !slices.EqualFunc(sorted(got), want, bytes.Equal) {
				t.Errorf("GrantTokenDigests = %x, want %x (live tokens of the grant only)", got, want)
			}
			for _, g := range []string{"", "unknown", "bad\x00key"} {
				if got, err := db.GrantTokenDigests(ctx, g); err != nil || len(got) != 0 {
					t.Errorf("GrantTokenDigests(%q) = %x, %v; want none", g, got, err)
				}
			}
		}},
		{"RevokeTokensOfEachReportsBatches", func(t *testing.T, db *DB) {
			db.revokeBatch = 2
			var toks [][]byte
			for _, jti := range []string{"e1", "e2", "e3"} {
				tok := fullToken(jti, KindAccess, "spa", "u-alice", "g-"+jti)
				mustNil(t, "CreateToken", db.CreateToken(ctx, tok))
				toks = append(toks, tok.Digest)
			}
			var mu sync.Mutex
			var seen [][]byte
			batches := 0
			n, err := db.RevokeTokensOfEach(ctx, "spa", "u-alice", func(_ context.Context, ds [][]byte) {
				mu.Lock()
				defer mu.Unlock()
				batches++
				seen = append(seen, ds...)
			})
			mustNil(t, "RevokeTokensOfEach", err)
			if n != 3 || batches != 2 {
				t.Errorf("revoked %d in %d batches, want 3 in 2", n, batches)
			}
			if !slices.EqualFunc(sorted(seen), sorted(toks), bytes.Equal) {
				t.Errorf("reported %x, want %x", seen, toks)
			}
		}},
	}
}
