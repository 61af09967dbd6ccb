package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/gateway"
	"github.com/portcullis/portcullis/internal/store"
)

// countingReader reads a real store, counts the reads and fails them all
// while err is set (the database is down).
type countingReader struct {
	db *store.DB

	mu    sync.Mutex
	reads int
	err   error
}

func (c *countingReader) GetClient(ctx context.Context, id string) (store.Client, error) {
	c.mu.Lock()
	c.reads++
	err := c.err
	c.mu.Unlock()
	if err != nil {
		return store.Client{}, err
	}
	return c.db.GetClient(ctx, id)
}

func (c *countingReader) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads
}

func (c *countingReader) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.err = err
}

// clientKeysStore is a migrated SQLite store with a client "enc" that
// registered an encryption key and a client "plain" that registered none.
func clientKeysStore(t *testing.T) (*store.DB, *ecdsa.PrivateKey) {
	t.Helper()
	ctx := t.Context()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "keys.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &priv.PublicKey, KeyID: "enc-1", Use: "enc"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []store.Client{
		{ID: "enc", Name: "enc", AuthMethod: store.AuthSecretBasic, JWKS: jwks},
		{ID: "plain", Name: "plain", AuthMethod: store.AuthSecretBasic},
	} {
		c.GrantTypes, c.AccessTokenFormat = []string{"client_credentials"}, store.FormatOpaque
		c.CreatedAt, c.UpdatedAt = epoch, epoch
		if err := db.CreateClient(ctx, c); err != nil {
			t.Fatalf("create client %s: %v", c.ID, err)
		}
	}
	return db, priv
}

func TestStoreClientKeys(t *testing.T) {
	db, priv := clientKeysStore(t)
	r := &countingReader{db: db}
	now := epoch
	ck := newStoreClientKeys(r, 30*time.Second, func() time.Time { return now })
	ctx := t.Context()

	set, err := ck.ClientKeys(ctx, "enc")
	if err != nil {
		t.Fatalf("ClientKeys(enc): %v", err)
	}
	if len(set.Keys) != 1 || set.Keys[0].KeyID != "enc-1" || set.Keys[0].Use != "enc" {
		t.Fatalf("ClientKeys(enc) = %+v, want the registered enc-1", set.Keys)
	}
	if pub, ok := set.Keys[0].Key.(*ecdsa.PublicKey); !ok || !pub.Equal(&priv.PublicKey) {
		t.Errorf("key = %T, want the registered public key", set.Keys[0].Key)
	}

	t.Run("hit", func(t *testing.T) {
		before := r.count()
		again, err := ck.ClientKeys(ctx, "enc")
		if err != nil || again != set {
			t.Errorf("second ClientKeys = %p, %v; want the cached %p", again, err, set)
		}
		if r.count() != before {
			t.Errorf("a fresh entry read the store")
		}
	})
	t.Run("negative", func(t *testing.T) {
		for _, id := range []string{"plain", "nobody"} {
			before := r.count()
			for range 3 {
				if _, err := ck.ClientKeys(ctx, id); !errors.Is(err, gateway.ErrNoClientKeys) {
					t.Fatalf("ClientKeys(%s) = %v, want ErrNoClientKeys", id, err)
				}
			}
			if got := r.count() - before; got != 1 {
				t.Errorf("%s: %d store reads for three asks, want 1 (the miss is cached)", id, got)
			}
		}
	})
	t.Run("ttl", func(t *testing.T) {
		before := r.count()
		now = now.Add(29 * time.Second)
		if _, err := ck.ClientKeys(ctx, "enc"); err != nil || r.count() != before {
			t.Fatalf("within the TTL: err %v, reads %d, want 0", err, r.count()-before)
		}
		now = now.Add(time.Second)
		if _, err := ck.ClientKeys(ctx, "enc"); err != nil || r.count() != before+1 {
			t.Errorf("at the TTL: err %v, reads %d, want 1", err, r.count()-before)
		}
	})
	t.Run("store error is not cached", func(t *testing.T) {
		now = now.Add(time.Minute)
		down := errors.New("database is locked")
		r.fail(down)
		for range 2 {
			if _, err := ck.ClientKeys(ctx, "enc"); !errors.Is(err, down) || errors.Is(err, gateway.ErrNoClientKeys) {
				t.Fatalf("ClientKeys with the store down = %v, want the store's error", err)
			}
		}
		before := r.count()
		r.fail(nil)
		if set, err := ck.ClientKeys(ctx, "enc"); err != nil || len(set.Keys) != 1 {
			t.Errorf("after the store recovers: %v, %v", set, err)
		}
		if r.count() != before+1 {
			t.Errorf("the recovered answer came from the cache, not the store")
		}
	})
}

func TestStoreClientKeysBounded(t *testing.T) {
	db, _ := clientKeysStore(t)
	now := epoch
	ck := newStoreClientKeys(&countingReader{db: db}, time.Minute, func() time.Time { return now })
	ck.max = 5
	for i := range 20 {
		if _, err := ck.ClientKeys(t.Context(), fmt.Sprintf("c%d", i)); !errors.Is(err, gateway.ErrNoClientKeys) {
			t.Fatal(err)
		}
		if len(ck.sets) > ck.max {
			t.Fatalf("cache holds %d entries, bound %d", len(ck.sets), ck.max)
		}
	}
}

func TestStoreClientKeysCorruptRow(t *testing.T) {
	bad := fakeClientReader{c: store.Client{ID: "x", JWKS: []byte("{not json")}}
	ck := newStoreClientKeys(bad, 0, nil)
	if _, err := ck.ClientKeys(t.Context(), "x"); err == nil || errors.Is(err, gateway.ErrNoClientKeys) {
		t.Errorf("ClientKeys of a corrupt row = %v, want an error (fail closed)", err)
	}
}

type fakeClientReader struct{ c store.Client }

func (f fakeClientReader) GetClient(context.Context, string) (store.Client, error) { return f.c, nil }
