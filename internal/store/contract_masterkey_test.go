package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func masterKeyCheck(id string) MasterKeyCheck {
	return MasterKeyCheck{KeyID: id, Value: digest("check-" + id), CreatedAt: base, UpdatedAt: base}
}

// secretClient is a client whose secret digest was made under keyID.
func secretClient(id, keyID string) Client {
	c := fullClient(id)
	c.AuthMethod = AuthSecretBasic
	c.SecretKeyID = keyID
	return c
}

func masterKeyTests() []contractTest {
	ctx := context.Background()
	return []contractTest{
		{"MasterKeyCheckCreateOnce", func(t *testing.T, db *DB) {
			_, err := db.GetMasterKeyCheck(ctx)
			wantErr(t, "GetMasterKeyCheck on a fresh store", err, ErrNotFound)
			first := masterKeyCheck("k1")
			mustNil(t, "CreateMasterKeyCheck", db.CreateMasterKeyCheck(ctx, first))
			// A second node racing the first must lose, not overwrite.
			wantErr(t, "CreateMasterKeyCheck again", db.CreateMasterKeyCheck(ctx, masterKeyCheck("k2")), ErrConflict)
			got, err := db.GetMasterKeyCheck(ctx)
			mustNil(t, "GetMasterKeyCheck", err)
			if diff := cmp.Diff(first, got); diff != "" {
				t.Errorf("GetMasterKeyCheck mismatch (-want +got):\n%s", diff)
			}
			bad := masterKeyCheck("")
			wantErr(t, "CreateMasterKeyCheck without an id", db.CreateMasterKeyCheck(ctx, bad), ErrInvalid)
		}},
		{"FillClientSecretKeyIDs", func(t *testing.T, db *DB) {
			legacy := secretClient("legacy", "")
			known := secretClient("known", "k0")
			public := secretClient("public", "")
			public.SecretDigest = nil
			public.AuthMethod = AuthNone
			for _, c := range []Client{legacy, known, public} {
				mustNil(t, "CreateClient "+c.ID, db.CreateClient(ctx, c))
			}
			n, err := db.FillClientSecretKeyIDs(ctx, "k1")
			mustNil(t, "FillClientSecretKeyIDs", err)
			if n != 1 {
				t.Errorf("FillClientSecretKeyIDs changed %d rows, want 1 (only the digest without a key id)", n)
			}
			for id, want := range map[string]string{"legacy": "k1", "known": "k0", "public": ""} {
				c, err := db.GetClient(ctx, id)
				mustNil(t, "GetClient "+id, err)
				if c.SecretKeyID != want {
					t.Errorf("client %s: SecretKeyID = %q, want %q", id, c.SecretKeyID, want)
				}
			}
			if n, err := db.FillClientSecretKeyIDs(ctx, "k2"); err != nil || n != 0 {
				t.Errorf("FillClientSecretKeyIDs again = %d, %v; want 0, nil", n, err)
			}
			got, err := db.CountClientSecretsByKey(ctx)
			mustNil(t, "CountClientSecretsByKey", err)
			if diff := cmp.Diff(map[string]int{"k0": 1, "k1": 1}, got); diff != "" {
				t.Errorf("CountClientSecretsByKey mismatch (-want +got):\n%s", diff)
			}
		}},
		{"RedigestClientSecretIsCompareAndSwap", func(t *testing.T, db *DB) {
			c := secretClient("svc", "old")
			mustNil(t, "CreateClient", db.CreateClient(ctx, c))
			newDigest := digest("new-digest")
			wantErr(t, "RedigestClientSecret from a stale digest",
				db.RedigestClientSecret(ctx, "svc", digest("stale"), newDigest, "new"), ErrChanged)
			wantErr(t, "RedigestClientSecret of an unknown client",
				db.RedigestClientSecret(ctx, "nope", c.SecretDigest, newDigest, "new"), ErrChanged)
			mustNil(t, "RedigestClientSecret", db.RedigestClientSecret(ctx, "svc", c.SecretDigest, newDigest, "new"))
			// The same swap twice (two nodes) changes nothing the second time.
			wantErr(t, "RedigestClientSecret again",
				db.RedigestClientSecret(ctx, "svc", c.SecretDigest, digest("other"), "new"), ErrChanged)
			got, err := db.GetClient(ctx, "svc")
			mustNil(t, "GetClient", err)
			want := c
			want.SecretDigest, want.SecretKeyID = newDigest, "new"
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("client after redigest mismatch (-want +got):\n%s", diff)
			}
			counts, err := db.CountClientSecretsByKey(ctx)
			mustNil(t, "CountClientSecretsByKey", err)
			if diff := cmp.Diff(map[string]int{"new": 1}, counts); diff != "" {
				t.Errorf("CountClientSecretsByKey mismatch (-want +got):\n%s", diff)
			}
		}},
		{"Rekey", func(t *testing.T, db *DB) {
			from, to := masterKeyCheck("old"), masterKeyCheck("new")
			to.UpdatedAt = base.Add(time.Hour)
			k1, k2 := fullKey("k1", base), fullKey("k2", base.Add(time.Second))
			for _, k := range []SigningKey{k1, k2} {
				mustNil(t, "CreateKey "+k.KID, db.CreateKey(ctx, k))
			}
			mustNil(t, "CreateClient", db.CreateClient(ctx, secretClient("legacy", "")))
			plan := []Reseal{
				{KID: "k1", Old: k1.PrivateSealed, New: []byte("resealed-k1")},
				{KID: "k2", Old: k2.PrivateSealed, New: []byte("resealed-k2")},
			}
			wantErr(t, "Rekey without a key of record", db.Rekey(ctx, from, to, plan), ErrChanged)
			mustNil(t, "CreateMasterKeyCheck", db.CreateMasterKeyCheck(ctx, from))

			refused := []struct {
				name string
				from MasterKeyCheck
				plan []Reseal
			}{
				{"another key of record", masterKeyCheck("other"), plan},
				{"a key missing from the plan", from, plan[:1]},
				{"a stale sealed value", from, []Reseal{plan[0], {KID: "k2", Old: []byte("stale"), New: []byte("x")}}},
				{"a key not in the store", from, append(plan[:2:2], Reseal{KID: "k3", Old: []byte("a"), New: []byte("b")})},
			}
			for _, r := range refused {
				if err := db.Rekey(ctx, r.from, to, r.plan); !errors.Is(err, ErrChanged) {
					t.Errorf("Rekey with %s: error %v, want ErrChanged", r.name, err)
				}
			}
			// Nothing changed by the refusals.
			keys, err := db.ListKeys(ctx)
			mustNil(t, "ListKeys", err)
			if diff := cmp.Diff([]SigningKey{k1, k2}, keys); diff != "" {
				t.Fatalf("keys after refused rekeys mismatch (-want +got):\n%s", diff)
			}

			mustNil(t, "Rekey", db.Rekey(ctx, from, to, plan))
			got, err := db.GetMasterKeyCheck(ctx)
			mustNil(t, "GetMasterKeyCheck", err)
			wantCheck := to
			wantCheck.CreatedAt = from.CreatedAt
			if diff := cmp.Diff(wantCheck, got); diff != "" {
				t.Errorf("key of record after Rekey mismatch (-want +got):\n%s", diff)
			}
			keys, err = db.ListKeys(ctx)
			mustNil(t, "ListKeys", err)
			w1, w2 := k1, k2
			w1.PrivateSealed, w2.PrivateSealed = plan[0].New, plan[1].New
			if diff := cmp.Diff([]SigningKey{w1, w2}, keys); diff != "" {
				t.Errorf("keys after Rekey mismatch (-want +got):\n%s", diff)
			}
			// The digest made before key ids were recorded was made under
			// the old key, and says so now.
			counts, err := db.CountClientSecretsByKey(ctx)
			mustNil(t, "CountClientSecretsByKey", err)
			if diff := cmp.Diff(map[string]int{"old": 1}, counts); diff != "" {
				t.Errorf("CountClientSecretsByKey mismatch (-want +got):\n%s", diff)
			}
			wantErr(t, "Rekey again from the old key", db.Rekey(ctx, from, to, plan), ErrChanged)
		}},
	}
}
