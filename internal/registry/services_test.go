package registry

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/identity"
	"github.com/portcullis/portcullis/internal/store"
)

var epoch = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// matches reports whether secret digests to digest under key.
func matches(key []byte, secret string, digest []byte) bool {
	return bytes.Equal(clientauth.DigestSecret(key, secret), digest)
}

func openStore(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "p.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestClientsService(t *testing.T) {
	db := openStore(t)
	key := []byte("0123456789abcdef0123456789abcdef")
	keyCalls := 0
	clients := NewClients(db, testAuditor(db), func(context.Context) (SecretKey, error) {
		keyCalls++
		return SecretKey{Key: key, ID: "0a1b2c3d"}, nil
	}, func() time.Time { return epoch })
	ctx := t.Context()
	spec := ClientSpec{ID: "reports", GrantTypes: []string{GrantClientCredentials}, Scopes: []string{"list_items"}}

	c, secret, err := clients.Create(ctx, spec)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if secret == "" || !matches(key, secret, c.SecretDigest) {
		t.Fatalf("Create: secret %q does not match the stored digest", secret)
	}
	if stored, err := db.GetClient(ctx, "reports"); err != nil || stored.SecretKeyID != "0a1b2c3d" {
		t.Errorf("Create: stored SecretKeyID = %q (%v), want the id of the key that made the digest", stored.SecretKeyID, err)
	}
	if _, _, err := clients.Create(ctx, spec); !errors.Is(err, ErrExists) || err.Error() != `client "reports" already exists` {
		t.Errorf("second Create error = %v, want ErrExists naming the client", err)
	}
	if _, _, err := clients.Create(ctx, ClientSpec{ID: "bad id"}); !errors.As(err, new(*InvalidClientError)) {
		t.Errorf("Create with a bad id: error = %v, want *InvalidClientError", err)
	}

	rotated, err := clients.RotateSecret(ctx, "reports")
	if err != nil {
		t.Fatalf("RotateSecret: %v", err)
	}
	got, err := clients.Get(ctx, "reports")
	if err != nil {
		t.Fatal(err)
	}
	if matches(key, secret, got.SecretDigest) || !matches(key, rotated, got.SecretDigest) {
		t.Error("after RotateSecret the old secret still works or the new one does not")
	}

	// Put keeps an existing client unless told to replace it.
	if _, _, err := clients.Put(ctx, spec, "known-secret", false); err != nil {
		t.Fatal(err)
	}
	if got, _ := clients.Get(ctx, "reports"); !matches(key, rotated, got.SecretDigest) {
		t.Error("Put without replace changed the client")
	}
	if _, _, err := clients.Put(ctx, spec, "known-secret", true); err != nil {
		t.Fatal(err)
	}
	if got, _ := clients.Get(ctx, "reports"); !matches(key, "known-secret", got.SecretDigest) {
		t.Error("Put with replace did not set the known secret")
	}

	if err := clients.Delete(ctx, "reports"); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{clients.Delete(ctx, "reports"), func() error { _, err := clients.Get(ctx, "reports"); return err }()} {
		if !errors.Is(err, ErrNotFound) || err.Error() != `no client "reports"` {
			t.Errorf("error = %v, want ErrNotFound naming the client", err)
		}
	}

	// A public client never needs the master key.
	keyCalls = 0
	if _, secret, err := clients.Create(ctx, ClientSpec{ID: "spa", Public: true, GrantTypes: []string{GrantAuthorizationCode},
		RedirectURIs: []string{"http://127.0.0.1:5173/cb"}}); err != nil || secret != "" || keyCalls != 0 {
		t.Errorf("public Create: secret %q, err %v, key read %d times; want no secret and no key", secret, err, keyCalls)
	}
}

func TestUsersService(t *testing.T) {
	db := openStore(t)
	users := NewUsers(db, testAuditor(db), identity.NewHasher(0), func() time.Time { return epoch })
	ctx := t.Context()
	if _, err := users.Create(ctx, "carol", "a long passphrase", []string{"staff"}, map[string]string{"office": "head"}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := users.Create(ctx, "carol", "", nil, nil); !errors.Is(err, ErrExists) {
		t.Errorf("second Create error = %v, want ErrExists", err)
	}
	if _, err := users.Create(ctx, "dave", "", []string{"two words"}, nil); err == nil {
		t.Error("Create with a role holding a space succeeded")
	}
	if _, err := users.Create(ctx, "dave", "", nil, map[string]string{"of-fice": "x"}); err == nil {
		t.Error("Create with an attribute key that is not an identifier succeeded")
	}
	if err := users.Put(ctx, "carol", "another passphrase", []string{"admin"}, nil, true); err != nil {
		t.Fatalf("Put: %v", err)
	}
	list, err := users.List(ctx)
	if err != nil || len(list) != 1 || list[0].Roles[0] != "admin" {
		t.Fatalf("List = %+v, %v; want carol with role admin", list, err)
	}
	if err := users.SetPassword(ctx, "nobody", "a long passphrase"); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetPassword of an unknown user: %v, want ErrNotFound", err)
	}
	if err := users.Delete(ctx, "carol"); err != nil {
		t.Fatal(err)
	}
	if err := users.Delete(ctx, "carol"); !errors.Is(err, ErrNotFound) || err.Error() != `no user "carol"` {
		t.Errorf("second Delete: %v, want ErrNotFound naming the user", err)
	}
}
