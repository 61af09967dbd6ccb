package store

import (
	"context"
	"testing"
	"time"
)

// codeDPoPTests cover auth_codes.dpop_jkt (migration 00008): the key a
// code is bound to by the dpop_jkt parameter (RFC 9449 §10).
func codeDPoPTests() []contractTest {
	ctx := context.Background()
	return []contractTest{
		{"CodeDPoPJKTRoundTrip", func(t *testing.T, db *DB) {
			for _, tc := range []struct {
				name, jkt string
			}{
				{"bound", "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"},
				{"unbound", ""},
			} {
				c := fullCode("code-"+tc.name, "spa", "u-alice", "g-"+tc.name)
				c.DPoPJKT = tc.jkt
				mustNil(t, "CreateCode "+tc.name, db.CreateCode(ctx, c))
				got, err := db.ConsumeCode(ctx, c.Digest, "spa", base.Add(time.Second))
				mustNil(t, "ConsumeCode "+tc.name, err)
				if got.DPoPJKT != tc.jkt {
					t.Errorf("%s: DPoPJKT = %q, want %q", tc.name, got.DPoPJKT, tc.jkt)
				}
				// A reused code comes back with its binding too.
				got, err = db.ConsumeCode(ctx, c.Digest, "spa", base.Add(2*time.Second))
				wantErr(t, "ConsumeCode again "+tc.name, err, ErrAlreadyUsed)
				if got.DPoPJKT != tc.jkt {
					t.Errorf("%s reused: DPoPJKT = %q, want %q", tc.name, got.DPoPJKT, tc.jkt)
				}
			}
		}},
		{"CodeWrittenBeforeDPoPIsUnbound", func(t *testing.T, db *DB) {
			// A row written without the column, as every row that
			// predates migration 00008 was, reads back as bound to no key.
			q := newQuery(`INSERT INTO auth_codes (digest, client_id, subject, redirect_uri, scope,
				nonce, code_challenge, code_challenge_method, grant_id, expires_at)
				VALUES (?, 'spa', 'u-alice', '', 'openid', '', 'c', 'S256', 'g', ?)`)
			sql := q.sqlite
			if db.Dialect() == "postgres" {
				sql = q.postgres
			}
			d := digest("old-code")
			if _, err := db.write.ExecContext(ctx, sql, d, base.Add(time.Minute).UnixNano()); err != nil {
				t.Fatalf("insert old-style code: %v", err)
			}
			got, err := db.ConsumeCode(ctx, d, "spa", base)
			mustNil(t, "ConsumeCode", err)
			if got.DPoPJKT != "" {
				t.Errorf("DPoPJKT = %q, want empty", got.DPoPJKT)
			}
		}},
		{"CodeDPoPJKTMustBeText", func(t *testing.T, db *DB) {
			c := fullCode("bad-jkt", "spa", "u-alice", "g")
			c.DPoPJKT = "a\x00b"
			wantErr(t, "CreateCode with NUL in dpop_jkt", db.CreateCode(ctx, c), ErrInvalid)
		}},
	}
}
