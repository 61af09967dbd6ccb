package store

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// racers is how many goroutines race for one single-use record.
const racers = 16

func tokenTests() []contractTest {
	ctx := context.Background()
	return []contractTest{
		{"TokenRoundTrip", func(t *testing.T, db *DB) {
			for _, tok := range []Token{
				fullToken("access", KindAccess, "spa", "u-alice", "g1"),
				func() Token {
					tok := fullToken("refresh", KindRefresh, "spa", "u-alice", "g1")
					tok.UsedAt = base.Add(time.Second)
					tok.Revoked = true
					tok.Format = FormatOpaque
					return tok
				}(),
			} {
				mustNil(t, "CreateToken", db.CreateToken(ctx, tok))
				got, err := db.GetToken(ctx, tok.Digest)
				mustNil(t, "GetToken", err)
				if diff := cmp.Diff(tok, got); diff != "" {
					t.Errorf("GetToken %s mismatch (-want +got):\n%s", tok.Kind, diff)
				}
			}
			err := db.CreateToken(ctx, fullToken("access", KindAccess, "other", "other", "g9"))
			wantErr(t, "CreateToken same digest", err, ErrConflict)
			_, err = db.GetToken(ctx, digest("nope"))
			wantErr(t, "GetToken missing", err, ErrNotFound)
		}},
		{"ExpiredTokenReturnedAsStored", func(t *testing.T, db *DB) {
			tok := fullToken("old", KindAccess, "spa", "u-alice", "g1")
			tok.ExpiresAt = base.Add(-24 * time.Hour)
			mustNil(t, "CreateToken", db.CreateToken(ctx, tok))
			got, err := db.GetToken(ctx, tok.Digest)
			mustNil(t, "GetToken", err)
			if !got.ExpiresAt.Equal(tok.ExpiresAt) {
				t.Errorf("ExpiresAt = %v, want %v", got.ExpiresAt, tok.ExpiresAt)
			}
		}},
		{"RevokeToken", func(t *testing.T, db *DB) {
			tok := fullToken("a", KindAccess, "spa", "u-alice", "g1")
			mustNil(t, "CreateToken", db.CreateToken(ctx, tok))
			mustNil(t, "RevokeToken", db.RevokeToken(ctx, tok.Digest))
			mustNil(t, "RevokeToken again", db.RevokeToken(ctx, tok.Digest))
			got, err := db.GetToken(ctx, tok.Digest)
			mustNil(t, "GetToken", err)
			if !got.Revoked {
				t.Errorf("Revoked = false after RevokeToken, want true")
			}
			wantErr(t, "RevokeToken missing", db.RevokeToken(ctx, digest("nope")), ErrNotFound)
		}},
		{"RevokeGrant", func(t *testing.T, db *DB) {
			grant := []Token{
				fullToken("g1-access-1", KindAccess, "spa", "u-alice", "g1"),
				fullToken("g1-refresh-1", KindRefresh, "spa", "u-alice", "g1"),
				fullToken("g1-access-2", KindAccess, "spa", "u-alice", "g1"),
				fullToken("g1-refresh-2", KindRefresh, "spa", "u-alice", "g1"),
			}
			grant[0].Revoked = true // already revoked: not counted again
			other := fullToken("g2-access", KindAccess, "spa", "u-alice", "g2")
			for _, tok := range append(grant, other) {
				mustNil(t, "CreateToken", db.CreateToken(ctx, tok))
			}
			n, err := db.RevokeGrant(ctx, "g1")
			mustNil(t, "RevokeGrant", err)
			if n != 3 {
				t.Errorf("RevokeGrant changed %d tokens, want 3", n)
			}
			for _, tok := range grant {
				got, err := db.GetToken(ctx, tok.Digest)
				mustNil(t, "GetToken", err)
				if !got.Revoked {
					t.Errorf("token %s of the grant not revoked", tok.JTI)
				}
			}
			got, err := db.GetToken(ctx, other.Digest)
			mustNil(t, "GetToken other grant", err)
			if got.Revoked {
				t.Errorf("token of another grant revoked")
			}
			n, err = db.RevokeGrant(ctx, "g1")
			mustNil(t, "RevokeGrant again", err)
			if n != 0 {
				t.Errorf("RevokeGrant again changed %d tokens, want 0", n)
			}
			n, err = db.RevokeGrant(ctx, "unknown")
			mustNil(t, "RevokeGrant unknown", err)
			if n != 0 {
				t.Errorf("RevokeGrant unknown changed %d tokens, want 0", n)
			}
		}},
		{"RevokeTokensOf", func(t *testing.T, db *DB) {
			toks := []Token{
				fullToken("a1", KindAccess, "spa", "u-alice", "g1"),
				fullToken("a2", KindRefresh, "spa", "u-alice", "g1"),
				fullToken("b1", KindAccess, "spa", "u-bob", "g2"),
				fullToken("c1", KindAccess, "svc", "svc", ""),
			}
			for _, tok := range toks {
				mustNil(t, "CreateToken", db.CreateToken(ctx, tok))
			}
			n, err := db.RevokeTokensOf(ctx, "spa", "u-alice")
			mustNil(t, "RevokeTokensOf subject", err)
			if n != 2 {
				t.Errorf("RevokeTokensOf(spa, u-alice) changed %d, want 2", n)
			}
			if got, _ := db.GetToken(ctx, toks[2].Digest); got.Revoked {
				t.Error("bob's token revoked with alice's")
			}
			n, err = db.RevokeTokensOf(ctx, "spa", "")
			mustNil(t, "RevokeTokensOf client", err)
			if n != 1 {
				t.Errorf("RevokeTokensOf(spa) changed %d, want 1 (bob's)", n)
			}
			if got, _ := db.GetToken(ctx, toks[3].Digest); got.Revoked {
				t.Error("another client's token revoked")
			}
			if _, err := db.RevokeTokensOf(ctx, "", ""); !errors.Is(err, ErrInvalid) {
				t.Errorf("empty client id: err = %v, want ErrInvalid", err)
			}
		}},
		{"RevokeTokensOfInBatches", func(t *testing.T, db *DB) {
			// 3 per batch over 11 of alice's and 5 of bob's tokens: full
			// batches, a short last one, and tokens already revoked or of
			// another client left alone and uncounted.
			db.revokeBatch = 3
			var alice, bob []Token
			for i := range 11 {
				alice = append(alice, fullToken(fmt.Sprintf("alice-%d", i), KindAccess, "spa", "u-alice", "g1"))
			}
			for i := range 5 {
				bob = append(bob, fullToken(fmt.Sprintf("bob-%d", i), KindRefresh, "spa", "u-bob", "g2"))
			}
			alice[4].Revoked = true
			other := fullToken("svc-1", KindAccess, "svc", "u-alice", "g3")
			for _, tok := range append(append(append([]Token{}, alice...), bob...), other) {
				mustNil(t, "CreateToken", db.CreateToken(ctx, tok))
			}
			n, err := db.RevokeTokensOf(ctx, "spa", "u-alice")
			mustNil(t, "RevokeTokensOf subject", err)
			if n != 10 {
				t.Errorf("RevokeTokensOf(spa, u-alice) changed %d, want 10", n)
			}
			for _, tok := range bob {
				if got, _ := db.GetToken(ctx, tok.Digest); got.Revoked {
					t.Errorf("%s revoked with alice's tokens", tok.JTI)
				}
			}
			n, err = db.RevokeTokensOf(ctx, "spa", "")
			mustNil(t, "RevokeTokensOf client", err)
			if n != 5 {
				t.Errorf("RevokeTokensOf(spa) changed %d, want 5 (bob's)", n)
			}
			for _, tok := range append(alice, bob...) {
				got, err := db.GetToken(ctx, tok.Digest)
				mustNil(t, "GetToken", err)
				if !got.Revoked {
					t.Errorf("%s not revoked", tok.JTI)
				}
			}
			if got, _ := db.GetToken(ctx, other.Digest); got.Revoked {
				t.Error("another client's token revoked")
			}
			n, err = db.RevokeTokensOf(ctx, "spa", "")
			mustNil(t, "RevokeTokensOf again", err)
			if n != 0 {
				t.Errorf("RevokeTokensOf again changed %d, want 0", n)
			}
		}},
		{"UseRefreshToken", func(t *testing.T, db *DB) {
			tok := fullToken("r", KindRefresh, "spa", "u-alice", "g1")
			mustNil(t, "CreateToken", db.CreateToken(ctx, tok))
			first := base.Add(10 * time.Second)

			got, err := db.UseRefreshToken(ctx, tok.Digest, "spa", first)
			mustNil(t, "UseRefreshToken first", err)
			if diff := cmp.Diff(tok, got); diff != "" {
				t.Errorf("first use should return the unused token (-want +got):\n%s", diff)
			}

			got, err = db.UseRefreshToken(ctx, tok.Digest, "spa", first.Add(time.Second))
			mustNil(t, "UseRefreshToken second", err)
			if !got.UsedAt.Equal(first) {
				t.Errorf("second use: UsedAt = %v, want the first use %v", got.UsedAt, first)
			}
			stored, err := db.GetToken(ctx, tok.Digest)
			mustNil(t, "GetToken", err)
			if !stored.UsedAt.Equal(first) {
				t.Errorf("stored UsedAt = %v, want %v", stored.UsedAt, first)
			}

			access := fullToken("a", KindAccess, "spa", "u-alice", "g1")
			mustNil(t, "CreateToken access", db.CreateToken(ctx, access))
			_, err = db.UseRefreshToken(ctx, access.Digest, "spa", first)
			wantErr(t, "UseRefreshToken on an access token", err, ErrNotFound)
			a, err := db.GetToken(ctx, access.Digest)
			mustNil(t, "GetToken access", err)
			if !a.UsedAt.IsZero() {
				t.Errorf("access token marked used by UseRefreshToken")
			}
			_, err = db.UseRefreshToken(ctx, digest("nope"), "spa", first)
			wantErr(t, "UseRefreshToken missing", err, ErrNotFound)
		}},
		{"UseRefreshTokenOfAnotherClient", func(t *testing.T, db *DB) {
			// RFC 6749 §6: bound to its client first; another client's
			// attempt must not mark it used (which would make the rightful
			// client's next refresh look like reuse and revoke the family).
			tok := fullToken("r", KindRefresh, "spa", "u-alice", "g1")
			mustNil(t, "CreateToken", db.CreateToken(ctx, tok))
			first := base.Add(10 * time.Second)
			got, err := db.UseRefreshToken(ctx, tok.Digest, "svc", first)
			wantErr(t, "UseRefreshToken by another client", err, ErrWrongClient)
			if got.ClientID != "" || got.Subject != "" {
				t.Errorf("a refused client got the token back: %+v", got)
			}
			stored, err := db.GetToken(ctx, tok.Digest)
			mustNil(t, "GetToken", err)
			if !stored.UsedAt.IsZero() {
				t.Errorf("another client's attempt marked the token used at %v", stored.UsedAt)
			}
			got, err = db.UseRefreshToken(ctx, tok.Digest, "spa", first)
			mustNil(t, "UseRefreshToken by its client", err)
			if !got.UsedAt.IsZero() {
				t.Errorf("the rightful client's first use looks like reuse (UsedAt %v)", got.UsedAt)
			}
			// Once used, another client still learns nothing about it.
			_, err = db.UseRefreshToken(ctx, tok.Digest, "svc", first.Add(time.Second))
			wantErr(t, "UseRefreshToken used, by another client", err, ErrWrongClient)
		}},
		{"UseRefreshTokenConcurrently", func(t *testing.T, db *DB) {
			tok := fullToken("r", KindRefresh, "spa", "u-alice", "g1")
			mustNil(t, "CreateToken", db.CreateToken(ctx, tok))
			firstUses, errs := race(func(i int) (bool, error) {
				got, err := db.UseRefreshToken(ctx, tok.Digest, "spa", base.Add(time.Duration(i+1)*time.Millisecond))
				return err == nil && got.UsedAt.IsZero(), err
			})
			for _, err := range errs {
				t.Errorf("UseRefreshToken: %v", err)
			}
			if firstUses != 1 {
				t.Errorf("%d of %d concurrent callers saw the first use, want exactly 1", firstUses, racers)
			}
		}},
		{"UseJTI", func(t *testing.T, db *DB) {
			exp := base.Add(time.Minute)
			mustNil(t, "UseJTI", db.UseJTI(ctx, "svc", "j1", exp))
			wantErr(t, "UseJTI replay", db.UseJTI(ctx, "svc", "j1", exp), ErrReplay)
			// A jti is unique per issuer, not globally.
			mustNil(t, "UseJTI other issuer", db.UseJTI(ctx, "spa", "j1", exp))
			mustNil(t, "UseJTI other jti", db.UseJTI(ctx, "svc", "j2", exp))

			// Once purged, the record is gone (the assertion's own exp
			// check rejects it by then).
			_, err := db.PurgeExpired(ctx, exp.Add(time.Second))
			mustNil(t, "PurgeExpired", err)
			mustNil(t, "UseJTI after purge", db.UseJTI(ctx, "svc", "j1", exp.Add(time.Hour)))
		}},
		{"UseJTIConcurrently", func(t *testing.T, db *DB) {
			wins, _ := race(func(int) (bool, error) {
				err := db.UseJTI(ctx, "svc", "same", base.Add(time.Minute))
				if errors.Is(err, ErrReplay) {
					return false, nil
				}
				return err == nil, err
			})
			if wins != 1 {
				t.Errorf("%d of %d concurrent UseJTI calls succeeded, want exactly 1", wins, racers)
			}
		}},
	}
}

func codeTests() []contractTest {
	ctx := context.Background()
	return []contractTest{
		{"ConsumeCode", func(t *testing.T, db *DB) {
			c := fullCode("code", "spa", "u-alice", "g1")
			mustNil(t, "CreateCode", db.CreateCode(ctx, c))
			wantErr(t, "CreateCode again", db.CreateCode(ctx, c), ErrConflict)

			first := base.Add(5 * time.Second)
			got, err := db.ConsumeCode(ctx, c.Digest, "spa", first)
			mustNil(t, "ConsumeCode first", err)
			want := c
			want.UsedAt = first
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ConsumeCode first mismatch (-want +got):\n%s", diff)
			}

			got, err = db.ConsumeCode(ctx, c.Digest, "spa", first.Add(time.Second))
			wantErr(t, "ConsumeCode reuse", err, ErrAlreadyUsed)
			// The reused code comes back so the caller can revoke its grant.
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ConsumeCode reuse mismatch (-want +got):\n%s", diff)
			}

			_, err = db.ConsumeCode(ctx, digest("nope"), "spa", first)
			wantErr(t, "ConsumeCode missing", err, ErrNotFound)
		}},
		{"ConsumeCodeOfAnotherClient", func(t *testing.T, db *DB) {
			// RFC 6749 §4.1.3: the binding is checked before the code is
			// used, so another client cannot burn it.
			c := fullCode("code", "spa", "u-alice", "g1")
			mustNil(t, "CreateCode", db.CreateCode(ctx, c))
			first := base.Add(5 * time.Second)
			got, err := db.ConsumeCode(ctx, c.Digest, "svc", first)
			wantErr(t, "ConsumeCode by another client", err, ErrWrongClient)
			if got.GrantID != "" || got.Subject != "" {
				t.Errorf("a refused client got the code back: %+v", got)
			}
			got, err = db.ConsumeCode(ctx, c.Digest, "spa", first)
			mustNil(t, "ConsumeCode by its client after another's attempt", err)
			if !got.UsedAt.Equal(first) {
				t.Errorf("UsedAt = %v, want %v", got.UsedAt, first)
			}
			_, err = db.ConsumeCode(ctx, c.Digest, "svc", first)
			wantErr(t, "ConsumeCode used, by another client", err, ErrWrongClient)
		}},
		{"ConsumeCodeConcurrently", func(t *testing.T, db *DB) {
			c := fullCode("code", "spa", "u-alice", "g1")
			mustNil(t, "CreateCode", db.CreateCode(ctx, c))
			wins, errs := race(func(i int) (bool, error) {
				got, err := db.ConsumeCode(ctx, c.Digest, "spa", base.Add(time.Duration(i+1)*time.Millisecond))
				if errors.Is(err, ErrAlreadyUsed) {
					if got.GrantID != c.GrantID {
						return false, fmt.Errorf("reused code came back without its grant id")
					}
					return false, nil
				}
				return err == nil, err
			})
			for _, err := range errs {
				t.Errorf("ConsumeCode: %v", err)
			}
			if wins != 1 {
				t.Errorf("%d of %d concurrent callers consumed the code, want exactly 1", wins, racers)
			}
		}},
	}
}

// race runs fn in racers goroutines released at once, and counts the calls
// that returned true; unexpected errors are collected.
func race(fn func(i int) (bool, error)) (int, []error) {
	var (
		mu   sync.Mutex
		wins int
		errs []error
		wg   sync.WaitGroup
	)
	start := make(chan struct{})
	for i := range racers {
		wg.Go(func() {
			<-start
			won, err := fn(i)
			mu.Lock()
			defer mu.Unlock()
			if won {
				wins++
			}
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	close(start)
	wg.Wait()
	return wins, errs
}

// errorsHideDigests checks that no error names a digest, raw or hex.
func errorsHideDigests(t *testing.T, d []byte, errs ...error) {
	t.Helper()
	for _, err := range errs {
		if err == nil {
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, hex.EncodeToString(d)) || strings.Contains(msg, string(d)) ||
			strings.Contains(strings.ToLower(msg), fmt.Sprintf("%x", d[:4])) {
			t.Errorf("error %q reveals a digest", msg)
		}
	}
}
