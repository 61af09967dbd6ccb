package registry

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/identity"
	"github.com/portcullis/portcullis/internal/store"
)

// testAuditor records as a CLI operator unless the context names someone.
func testAuditor(db *store.DB) *audit.Auditor {
	return audit.New(db, func() time.Time { return epoch }).WithDefaultActor(audit.Actor{Kind: audit.KindCLI, Subject: "test"})
}

// trail returns the audit records so far, and fails unless they verify.
func trail(t *testing.T, a *audit.Auditor) []audit.Record {
	t.Helper()
	rep, err := a.Verify(t.Context())
	if err != nil || !rep.OK() {
		t.Fatalf("Verify: %v, %v", rep, err)
	}
	recs, _, err := a.List(t.Context(), audit.Filter{}, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// summary is what a test compares of a record: action, target, actor and
// whether it has a before and an after.
type summary struct {
	Action, Target, Actor string
	Before, After         bool
}

func summarise(recs []audit.Record) []summary {
	var out []summary
	for _, r := range recs {
		out = append(out, summary{r.Action, r.Target.Type + ":" + r.Target.ID, string(r.Actor.Kind) + ":" + r.Actor.Subject,
			r.Before != nil, r.After != nil})
	}
	return out
}

func TestClientMutationsAreAudited(t *testing.T) {
	db := openStore(t)
	a := testAuditor(db)
	key := SecretKey{Key: []byte("0123456789abcdef0123456789abcdef"), ID: "k1"}
	clients := NewClients(db, a, func(context.Context) (SecretKey, error) { return key, nil }, func() time.Time { return epoch })
	admin := audit.WithActor(t.Context(), audit.Actor{Kind: audit.KindUser, Subject: "root", Roles: []string{"platform_admin"}})
	spec := ClientSpec{ID: "svc", GrantTypes: []string{GrantClientCredentials}, Scopes: []string{"list_items"}}

	if _, _, err := clients.Create(admin, spec); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, _, err := clients.Create(admin, spec); !errors.Is(err, ErrExists) {
		t.Fatalf("second Create: %v, want ErrExists", err)
	}
	secret, err := clients.RotateSecret(t.Context(), "svc")
	if err != nil {
		t.Fatalf("RotateSecret: %v", err)
	}
	if _, _, err := clients.Put(t.Context(), ClientSpec{ID: "spa", Public: true, GrantTypes: []string{GrantAuthorizationCode},
		RedirectURIs: []string{"http://127.0.0.1:5173/cb"}}, "", false); err != nil {
		t.Fatalf("Put new: %v", err)
	}
	spec.Scopes = []string{"list_items", "order_item"}
	if _, _, err := clients.Put(t.Context(), spec, "known-secret-value-0123456789", true); err != nil {
		t.Fatalf("Put replace: %v", err)
	}
	if _, _, err := clients.Put(t.Context(), spec, "", false); err != nil {
		t.Fatalf("Put without replace: %v", err)
	}
	if err := clients.Delete(admin, "svc"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := clients.Delete(admin, "svc"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Delete: %v, want ErrNotFound", err)
	}

	recs := trail(t, a)
	want := []summary{
		{ActionClientCreate, "client:svc", "user:root", false, true},
		{ActionClientRotateSecret, "client:svc", "cli:test", true, true},
		{ActionClientPut, "client:spa", "cli:test", false, true},
		{ActionClientPut, "client:svc", "cli:test", true, true},
		{ActionClientDelete, "client:svc", "user:root", true, false},
	}
	if diff := cmp.Diff(want, summarise(recs)); diff != "" {
		t.Errorf("audit records (-want +got):\n%s", diff)
	}
	var after map[string]any
	if err := json.Unmarshal(recs[3].After, &after); err != nil {
		t.Fatal(err)
	}
	if after["secret_digest"] != audit.Redacted || after["scopes"].([]any)[1] != "order_item" || after["access_token_ttl"] == audit.Redacted {
		t.Errorf("client.put after = %v: want the digest redacted, the new scopes and the TTLs kept", after)
	}
	for _, r := range recs {
		for _, s := range [][]byte{r.Before, r.After} {
			if strings.Contains(string(s), secret) || strings.Contains(string(s), "known-secret-value") {
				t.Errorf("record %d (%s) holds a secret: %s", r.Seq, r.Action, s)
			}
		}
	}
}

func TestUserMutationsAreAudited(t *testing.T) {
	db := openStore(t)
	a := testAuditor(db)
	users := NewUsers(db, a, identity.NewHasher(1), func() time.Time { return epoch })
	ctx := t.Context()
	if _, err := users.Create(ctx, "carol", "a long passphrase", []string{"staff"}, nil); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := users.Create(ctx, "carol", "", nil, nil); !errors.Is(err, ErrExists) {
		t.Fatalf("second Create: %v, want ErrExists", err)
	}
	if err := users.SetPassword(ctx, "carol", "another long passphrase"); err != nil {
		t.Fatalf("SetPassword: %v", err)
	}
	if err := users.SetPassword(ctx, "nobody", "another long passphrase"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SetPassword of nobody: %v, want ErrNotFound", err)
	}
	if err := users.Put(ctx, "dave", "dave's long passphrase", nil, nil, false); err != nil {
		t.Fatalf("Put new: %v", err)
	}
	if err := users.Put(ctx, "carol", "a third long passphrase", []string{"admin"}, map[string]string{"office": "head"}, true); err != nil {
		t.Fatalf("Put replace: %v", err)
	}
	if err := users.Delete(ctx, "carol"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	recs := trail(t, a)
	want := []summary{
		{ActionUserCreate, "user:carol", "cli:test", false, true},
		{ActionUserSetPassword, "user:carol", "cli:test", true, true},
		{ActionUserPut, "user:dave", "cli:test", false, true},
		{ActionUserPut, "user:carol", "cli:test", true, true},
		{ActionUserSetPassword, "user:carol", "cli:test", true, true},
		{ActionUserDelete, "user:carol", "cli:test", true, false},
	}
	if diff := cmp.Diff(want, summarise(recs)); diff != "" {
		t.Errorf("audit records (-want +got):\n%s", diff)
	}
	u, err := db.GetUserByUsername(ctx, "dave")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		for _, s := range [][]byte{r.Before, r.After} {
			if strings.Contains(string(s), "$argon2") || strings.Contains(string(s), "passphrase") {
				t.Errorf("record %d (%s) holds a password or hash: %s", r.Seq, r.Action, s)
			}
		}
	}
	if !strings.Contains(string(recs[2].After), `"password_hash":"[redacted]"`) || !strings.Contains(string(recs[2].After), u.ID) {
		t.Errorf("user.put after = %s: want the hash's presence and the user id", recs[2].After)
	}
}

// TestMutationFailsWithoutItsRecord: when the record cannot be written the
// mutation does not happen.
func TestMutationFailsWithoutItsRecord(t *testing.T) {
	db := openStore(t)
	strict := audit.New(db, nil) // no default actor: a context without one is refused
	clients := NewClients(db, strict, func(context.Context) (SecretKey, error) { return SecretKey{Key: make([]byte, 32), ID: "k"}, nil }, nil)
	users := NewUsers(db, strict, identity.NewHasher(1), nil)
	ctx := t.Context()
	if _, _, err := clients.Create(ctx, ClientSpec{ID: "svc", GrantTypes: []string{GrantClientCredentials}}); !errors.Is(err, audit.ErrNoActor) {
		t.Fatalf("Create without an actor: %v, want audit.ErrNoActor", err)
	}
	if _, err := db.GetClient(ctx, "svc"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the client was stored without its record: %v", err)
	}
	if _, err := users.Create(ctx, "carol", "", nil, nil); !errors.Is(err, audit.ErrNoActor) {
		t.Fatalf("user Create without an actor: %v, want audit.ErrNoActor", err)
	}
	if _, err := db.GetUserByUsername(ctx, "carol"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the user was stored without its record: %v", err)
	}
}
