package store

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"
)

func lifecycleTests() []contractTest {
	ctx := context.Background()
	return []contractTest{
		{"PurgeExpired", func(t *testing.T, db *DB) {
			now := base.Add(time.Hour)
			expired, live := now.Add(-time.Nanosecond), now.Add(time.Minute)

			// A refresh family: the refresh token outlives its access
			// token, and each goes by its own expiry.
			access := fullToken("family-access", KindAccess, "spa", "u-alice", "g1")
			access.ExpiresAt = expired
			refresh := fullToken("family-refresh", KindRefresh, "spa", "u-alice", "g1")
			refresh.ExpiresAt = live
			oldRefresh := fullToken("old-refresh", KindRefresh, "spa", "u-alice", "g0")
			oldRefresh.ExpiresAt = expired
			// Expiring exactly now is not yet "before now".
			edge := fullToken("edge", KindAccess, "spa", "u-alice", "g2")
			edge.ExpiresAt = now
			for _, tok := range []Token{access, refresh, oldRefresh, edge} {
				mustNil(t, "CreateToken", db.CreateToken(ctx, tok))
			}
			oldCode := fullCode("old-code", "spa", "u-alice", "g0")
			oldCode.ExpiresAt = expired
			newCode := fullCode("new-code", "spa", "u-alice", "g3")
			newCode.ExpiresAt = live
			mustNil(t, "CreateCode", db.CreateCode(ctx, oldCode))
			mustNil(t, "CreateCode", db.CreateCode(ctx, newCode))
			mustNil(t, "CreateSession", db.CreateSession(ctx, Session{Digest: digest("s-old"), Subject: "u-alice", ExpiresAt: expired}))
			mustNil(t, "CreateSession", db.CreateSession(ctx, Session{Digest: digest("s-new"), Subject: "u-alice", ExpiresAt: live}))
			mustNil(t, "UseJTI", db.UseJTI(ctx, "svc", "old", expired))
			mustNil(t, "UseJTI", db.UseJTI(ctx, "svc", "new", live))

			n, err := db.PurgeExpired(ctx, now)
			mustNil(t, "PurgeExpired", err)
			if n != 5 {
				t.Errorf("PurgeExpired removed %d rows, want 5", n)
			}
			for _, d := range [][]byte{access.Digest, oldRefresh.Digest} {
				_, err := db.GetToken(ctx, d)
				wantErr(t, "GetToken purged", err, ErrNotFound)
			}
			for _, d := range [][]byte{refresh.Digest, edge.Digest} {
				_, err := db.GetToken(ctx, d)
				mustNil(t, "GetToken live", err)
			}
			_, err = db.ConsumeCode(ctx, oldCode.Digest, "spa", now)
			wantErr(t, "ConsumeCode purged", err, ErrNotFound)
			_, err = db.ConsumeCode(ctx, newCode.Digest, "spa", now)
			mustNil(t, "ConsumeCode live", err)
			_, err = db.GetSession(ctx, digest("s-old"))
			wantErr(t, "GetSession purged", err, ErrNotFound)
			_, err = db.GetSession(ctx, digest("s-new"))
			mustNil(t, "GetSession live", err)
			wantErr(t, "UseJTI live", db.UseJTI(ctx, "svc", "new", live), ErrReplay)
			mustNil(t, "UseJTI purged", db.UseJTI(ctx, "svc", "old", live))

			n, err = db.PurgeExpired(ctx, now)
			mustNil(t, "PurgeExpired again", err)
			if n != 0 {
				t.Errorf("PurgeExpired again removed %d rows, want 0", n)
			}
		}},
		{"PurgeExpiredInBatches", func(t *testing.T, db *DB) {
			db.purgeBatch = 10
			const count = 10*2 + 7
			for i := range count {
				tok := fullToken("batch-"+strconv.Itoa(i), KindAccess, "spa", "u", "g")
				tok.ExpiresAt = base
				mustNil(t, "CreateToken", db.CreateToken(ctx, tok))
			}
			n, err := db.PurgeExpired(ctx, base.Add(time.Second))
			mustNil(t, "PurgeExpired", err)
			if n != count {
				t.Errorf("PurgeExpired removed %d rows, want %d", n, count)
			}
		}},
		{"DeleteClientCascades", func(t *testing.T, db *DB) {
			for _, id := range []string{"spa", "svc"} {
				mustNil(t, "CreateClient", db.CreateClient(ctx, fullClient(id)))
				mustNil(t, "CreateToken", db.CreateToken(ctx, fullToken(id+"-a", KindAccess, id, "u-alice", "g-"+id)))
				mustNil(t, "CreateToken", db.CreateToken(ctx, fullToken(id+"-r", KindRefresh, id, "u-alice", "g-"+id)))
				mustNil(t, "CreateCode", db.CreateCode(ctx, fullCode(id+"-c", id, "u-alice", "g-"+id)))
				mustNil(t, "SaveConsent", db.SaveConsent(ctx, Consent{Subject: "u-alice", ClientID: id, Scopes: []string{"openid"}}))
			}
			// A client credentials token: the client is its own subject.
			mustNil(t, "CreateToken", db.CreateToken(ctx, fullToken("spa-cc", KindAccess, "spa", "spa", "")))
			mustNil(t, "CreateSession", db.CreateSession(ctx, Session{Digest: digest("sess"), Subject: "u-alice", ExpiresAt: base}))

			mustNil(t, "DeleteClient", db.DeleteClient(ctx, "spa"))

			for _, name := range []string{"spa-a", "spa-r", "spa-cc"} {
				_, err := db.GetToken(ctx, digest(name))
				wantErr(t, "GetToken of deleted client", err, ErrNotFound)
			}
			_, err := db.ConsumeCode(ctx, digest("spa-c"), "spa", base)
			wantErr(t, "ConsumeCode of deleted client", err, ErrNotFound)
			_, err = db.GetConsent(ctx, "u-alice", "spa")
			wantErr(t, "GetConsent of deleted client", err, ErrNotFound)

			for _, name := range []string{"svc-a", "svc-r"} {
				_, err := db.GetToken(ctx, digest(name))
				mustNil(t, "GetToken of other client", err)
			}
			_, err = db.GetConsent(ctx, "u-alice", "svc")
			mustNil(t, "GetConsent of other client", err)
			_, err = db.GetSession(ctx, digest("sess"))
			mustNil(t, "GetSession survives a client delete", err)
		}},
		{"DeleteUserCascades", func(t *testing.T, db *DB) {
			for _, u := range []User{fullUser("u-alice", "alice"), fullUser("u-bob", "bob")} {
				mustNil(t, "CreateUser", db.CreateUser(ctx, u))
				mustNil(t, "CreateToken", db.CreateToken(ctx, fullToken(u.ID+"-a", KindAccess, "spa", u.ID, "g-"+u.ID)))
				mustNil(t, "CreateToken", db.CreateToken(ctx, fullToken(u.ID+"-r", KindRefresh, "spa", u.ID, "g-"+u.ID)))
				mustNil(t, "CreateCode", db.CreateCode(ctx, fullCode(u.ID+"-c", "spa", u.ID, "g-"+u.ID)))
				mustNil(t, "CreateSession", db.CreateSession(ctx, Session{Digest: digest(u.ID + "-s"), Subject: u.ID, ExpiresAt: base}))
				mustNil(t, "SaveConsent", db.SaveConsent(ctx, Consent{Subject: u.ID, ClientID: "spa"}))
			}

			mustNil(t, "DeleteUser", db.DeleteUser(ctx, "u-alice"))

			for _, name := range []string{"u-alice-a", "u-alice-r"} {
				_, err := db.GetToken(ctx, digest(name))
				wantErr(t, "GetToken of deleted user", err, ErrNotFound)
			}
			_, err := db.ConsumeCode(ctx, digest("u-alice-c"), "spa", base)
			wantErr(t, "ConsumeCode of deleted user", err, ErrNotFound)
			_, err = db.GetSession(ctx, digest("u-alice-s"))
			wantErr(t, "GetSession of deleted user", err, ErrNotFound)
			_, err = db.GetConsent(ctx, "u-alice", "spa")
			wantErr(t, "GetConsent of deleted user", err, ErrNotFound)

			for _, name := range []string{"u-bob-a", "u-bob-r"} {
				_, err := db.GetToken(ctx, digest(name))
				mustNil(t, "GetToken of other user", err)
			}
			_, err = db.GetSession(ctx, digest("u-bob-s"))
			mustNil(t, "GetSession of other user", err)
			_, err = db.GetConsent(ctx, "u-bob", "spa")
			mustNil(t, "GetConsent of other user", err)
		}},
		{"InvalidInputChangesNothing", func(t *testing.T, db *DB) {
			tooLate := time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
			withTok := func(f func(*Token)) Token {
				tok := fullToken("bad", KindAccess, "spa", "u", "g")
				f(&tok)
				return tok
			}
			withCode := func(f func(*AuthCode)) AuthCode {
				c := fullCode("bad", "spa", "u", "g")
				f(&c)
				return c
			}
			cases := []struct {
				name string
				call func() error
			}{
				{"client without id", func() error { return db.CreateClient(ctx, Client{Name: "x"}) }},
				{"client name with NUL", func() error { return db.CreateClient(ctx, Client{ID: "c", Name: "a\x00b"}) }},
				{"client scope not UTF-8", func() error { return db.CreateClient(ctx, Client{ID: "c", Scopes: []string{"\xff"}}) }},
				{"client negative ttl", func() error { return db.CreateClient(ctx, Client{ID: "c", AccessTokenTTL: -time.Second}) }},
				{"client time out of range", func() error { return db.CreateClient(ctx, Client{ID: "c", CreatedAt: tooLate}) }},
				{"user without username", func() error { return db.CreateUser(ctx, User{ID: "u"}) }},
				{"user attribute not UTF-8", func() error {
					return db.CreateUser(ctx, User{ID: "u", Username: "u", Attrs: map[string]string{"k": "\xfe"}})
				}},
				{"key without kid", func() error { return db.CreateKey(ctx, SigningKey{Alg: "ES256"}) }},
				{"token without digest", func() error { return db.CreateToken(ctx, withTok(func(t *Token) { t.Digest = nil })) }},
				{"token of unknown kind", func() error { return db.CreateToken(ctx, withTok(func(t *Token) { t.Kind = "id" })) }},
				{"token without expiry", func() error { return db.CreateToken(ctx, withTok(func(t *Token) { t.ExpiresAt = time.Time{} })) }},
				{"token expiry out of range", func() error { return db.CreateToken(ctx, withTok(func(t *Token) { t.ExpiresAt = tooLate })) }},
				{"token payload not UTF-8", func() error { return db.CreateToken(ctx, withTok(func(t *Token) { t.Payload = "\xc3" })) }},
				{"code without digest", func() error { return db.CreateCode(ctx, withCode(func(c *AuthCode) { c.Digest = []byte{} })) }},
				{"code without expiry", func() error { return db.CreateCode(ctx, withCode(func(c *AuthCode) { c.ExpiresAt = time.Time{} })) }},
				{"session without digest", func() error { return db.CreateSession(ctx, Session{Subject: "u", ExpiresAt: base}) }},
				{"session without expiry", func() error { return db.CreateSession(ctx, Session{Digest: digest("s"), Subject: "u"}) }},
				{"consent without client", func() error { return db.SaveConsent(ctx, Consent{Subject: "u"}) }},
				{"jti without issuer", func() error { return db.UseJTI(ctx, "", "j", base) }},
				{"jti empty", func() error { return db.UseJTI(ctx, "svc", "", base) }},
				{"jti without expiry", func() error { return db.UseJTI(ctx, "svc", "j", time.Time{}) }},
				{"revoke empty grant", func() error { _, err := db.RevokeGrant(ctx, ""); return err }},
				{"use refresh token at zero time", func() error {
					_, err := db.UseRefreshToken(ctx, digest("r"), "spa", time.Time{})
					return err
				}},
				{"consume code at zero time", func() error { _, err := db.ConsumeCode(ctx, digest("c"), "spa", time.Time{}); return err }},
				{"purge at zero time", func() error { _, err := db.PurgeExpired(ctx, time.Time{}); return err }},
			}
			for _, tc := range cases {
				err := tc.call()
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("%s: got error %v, want ErrInvalid", tc.name, err)
				}
			}
			// Nothing of the above reached the database.
			clients, err := db.ListClients(ctx)
			mustNil(t, "ListClients", err)
			users, err := db.ListUsers(ctx)
			mustNil(t, "ListUsers", err)
			keys, err := db.ListKeys(ctx)
			mustNil(t, "ListKeys", err)
			if len(clients)+len(users)+len(keys) != 0 {
				t.Errorf("invalid input stored %d clients, %d users, %d keys; want none", len(clients), len(users), len(keys))
			}
			_, err = db.GetToken(ctx, digest("bad"))
			wantErr(t, "GetToken after invalid inserts", err, ErrNotFound)
		}},
		{"LookupsOfImpossibleKeysAreNotFound", func(t *testing.T, db *DB) {
			// Keys PostgreSQL cannot even compare (NUL, invalid UTF-8)
			// answer like any other unknown key.
			for _, key := range []string{"a\x00b", "\xff", ""} {
				_, err := db.GetClient(ctx, key)
				wantErr(t, "GetClient", err, ErrNotFound)
				_, err = db.GetUser(ctx, key)
				wantErr(t, "GetUser", err, ErrNotFound)
				_, err = db.GetUserByUsername(ctx, key)
				wantErr(t, "GetUserByUsername", err, ErrNotFound)
				_, err = db.GetConsent(ctx, key, key)
				wantErr(t, "GetConsent", err, ErrNotFound)
				wantErr(t, "DeleteClient", db.DeleteClient(ctx, key), ErrNotFound)
				wantErr(t, "DeleteUser", db.DeleteUser(ctx, key), ErrNotFound)
				wantErr(t, "DeleteKey", db.DeleteKey(ctx, key), ErrNotFound)
			}
			for _, d := range [][]byte{nil, {}} {
				_, err := db.GetToken(ctx, d)
				wantErr(t, "GetToken", err, ErrNotFound)
				_, err = db.GetSession(ctx, d)
				wantErr(t, "GetSession", err, ErrNotFound)
				wantErr(t, "RevokeToken", db.RevokeToken(ctx, d), ErrNotFound)
				_, err = db.UseRefreshToken(ctx, d, "spa", base)
				wantErr(t, "UseRefreshToken", err, ErrNotFound)
				_, err = db.ConsumeCode(ctx, d, "spa", base)
				wantErr(t, "ConsumeCode", err, ErrNotFound)
				mustNil(t, "DeleteSession", db.DeleteSession(ctx, d))
			}
		}},
		{"ErrorsNeverNameDigests", func(t *testing.T, db *DB) {
			tok := fullToken("t", KindRefresh, "spa", "u", "g")
			code := fullCode("c", "spa", "u", "g")
			sess := Session{Digest: digest("s"), Subject: "u", ExpiresAt: base}
			mustNil(t, "CreateToken", db.CreateToken(ctx, tok))
			mustNil(t, "CreateCode", db.CreateCode(ctx, code))
			mustNil(t, "CreateSession", db.CreateSession(ctx, sess))
			_, consumeErr := func() (AuthCode, error) {
				_, _ = db.ConsumeCode(ctx, code.Digest, "spa", base)
				return db.ConsumeCode(ctx, code.Digest, "spa", base)
			}()
			_, getErr := db.GetToken(ctx, digest("absent"))
			errorsHideDigests(t, tok.Digest, db.CreateToken(ctx, tok))
			errorsHideDigests(t, code.Digest, db.CreateCode(ctx, code), consumeErr)
			errorsHideDigests(t, sess.Digest, db.CreateSession(ctx, sess))
			errorsHideDigests(t, digest("absent"), getErr)
			// And they read as one "store:" sentence.
			want := "store: create token: already exists"
			if got := db.CreateToken(ctx, tok).Error(); got != want {
				t.Errorf("conflict error = %q, want %q", got, want)
			}
		}},
		{"CanceledContext", func(t *testing.T, db *DB) {
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			err := db.CreateToken(cctx, fullToken("t", KindAccess, "spa", "u", "g"))
			if !errors.Is(err, context.Canceled) {
				t.Errorf("CreateToken with a canceled context: got %v, want context.Canceled", err)
			}
			_, err = db.GetToken(ctx, digest("t"))
			wantErr(t, "GetToken after canceled create", err, ErrNotFound)
			// The pool is still usable afterwards.
			mustNil(t, "CreateClient after a canceled call", db.CreateClient(ctx, fullClient("svc")))
		}},
	}
}
