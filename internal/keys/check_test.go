package keys_test

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/keys"
	"github.com/portcullis/portcullis/internal/store"
)

// checkMemStore adds the master key check and Rekey to memStore, with the
// semantics of *store.DB.
type checkMemStore struct {
	*memStore
	mu    sync.Mutex
	check *store.MasterKeyCheck
	// preempt, when set, is recorded just before the first
	// CreateMasterKeyCheck, as if another node had won the race.
	preempt *store.MasterKeyCheck
}

var _ keys.RekeyStore = (*checkMemStore)(nil)

func newCheckMemStore() *checkMemStore { return &checkMemStore{memStore: newMemStore()} }

func (s *checkMemStore) GetMasterKeyCheck(context.Context) (store.MasterKeyCheck, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.check == nil {
		return store.MasterKeyCheck{}, store.ErrNotFound
	}
	return *s.check, nil
}

func (s *checkMemStore) CreateMasterKeyCheck(_ context.Context, c store.MasterKeyCheck) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.preempt != nil {
		s.check, s.preempt = s.preempt, nil
	}
	if s.check != nil {
		return store.ErrConflict
	}
	s.check = &c
	return nil
}

func (s *checkMemStore) Rekey(ctx context.Context, from, to store.MasterKeyCheck, plan []store.Reseal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.check == nil || s.check.KeyID != from.KeyID || !bytes.Equal(s.check.Value, from.Value) {
		return store.ErrChanged
	}
	rows, _ := s.ListKeys(ctx)
	if len(rows) != len(plan) {
		return store.ErrChanged
	}
	for i, k := range rows {
		if plan[i].KID != k.KID || !bytes.Equal(plan[i].Old, k.PrivateSealed) {
			return store.ErrChanged
		}
	}
	for i, k := range rows {
		k.PrivateSealed = plan[i].New
		s.put(k)
	}
	to.CreatedAt = s.check.CreatedAt
	s.check = &to
	return nil
}

func (s *checkMemStore) stored() *store.MasterKeyCheck {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.check
}

var (
	otherMaster = bytes.Repeat([]byte{0x17}, 32)
	target      = keys.Target{Store: "sqlite /data/portcullis.db", KeySource: "$PORTCULLIS_MASTER_KEY"}
)

func TestKeyIDAndCheckValue(t *testing.T) {
	id := keys.KeyID(testMaster)
	if !regexp.MustCompile(`^[0-9a-f]{8}$`).MatchString(id) {
		t.Errorf("KeyID() = %q, want 8 lowercase hex digits", id)
	}
	if keys.KeyID(testMaster) != id || keys.KeyID(otherMaster) == id {
		t.Errorf("KeyID must be stable per key and differ between keys")
	}
	c, err := keys.NewKeyCheck(testMaster, newClock().now())
	if err != nil {
		t.Fatal(err)
	}
	if c.KeyID != id || len(c.Value) != 32 {
		t.Errorf("NewKeyCheck() = id %q, %d-byte value; want %q and 32 bytes", c.KeyID, len(c.Value), id)
	}
	// Neither the check value nor the id is the master key or a subkey
	// used elsewhere.
	for _, purpose := range []string{keys.PurposeClientSecrets, keys.PurposeCSRF, keys.PurposeAuthorizeRequest, keys.PurposeKeyCheck} {
		if bytes.Equal(c.Value, keys.DeriveKey(testMaster, purpose)) {
			t.Errorf("check value equals the %s subkey", purpose)
		}
	}
	if !keys.MatchesKeyCheck(c, testMaster) {
		t.Error("MatchesKeyCheck(own key) = false")
	}
	if keys.MatchesKeyCheck(c, otherMaster) {
		t.Error("MatchesKeyCheck(other key) = true")
	}
	// The id alone proves nothing: a forged row with the right id fails.
	forged := c
	forged.Value = bytes.Repeat([]byte{1}, 32)
	if keys.MatchesKeyCheck(forged, testMaster) {
		t.Error("MatchesKeyCheck accepted a check value with the right id and a wrong MAC")
	}
	if _, err := keys.NewKeyCheck(make([]byte, 32), newClock().now()); err == nil {
		t.Error("NewKeyCheck(all-zero key) succeeded")
	}
}

func TestVerifyMasterKey(t *testing.T) {
	ctx := context.Background()
	// sealedUnder returns a store holding signing keys sealed under master
	// and, when withCheck, master's check value (else a store from before
	// check values existed).
	sealedUnder := func(t *testing.T, master []byte, withCheck bool) *checkMemStore {
		st := newCheckMemStore()
		if master != nil {
			m := newManager(t, st.memStore, master, keys.Config{}, newClock())
			if err := m.Init(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if withCheck {
			c, err := keys.NewKeyCheck(master, newClock().now())
			if err != nil {
				t.Fatal(err)
			}
			st.check = &c
		}
		return st
	}
	tests := []struct {
		name        string
		st          func(t *testing.T) *checkMemStore
		wantCreated bool
		// wantWant is the key of record a mismatch names; "-" means
		// success.
		wantWant string
	}{
		{"fresh store takes the key", func(t *testing.T) *checkMemStore { return sealedUnder(t, nil, false) }, true, "-"},
		{"matching key", func(t *testing.T) *checkMemStore { return sealedUnder(t, testMaster, true) }, false, "-"},
		{"mismatching key", func(t *testing.T) *checkMemStore { return sealedUnder(t, otherMaster, true) }, false, keys.KeyID(otherMaster)},
		{"legacy store whose keys open", func(t *testing.T) *checkMemStore { return sealedUnder(t, testMaster, false) }, true, "-"},
		{"legacy store whose keys do not open", func(t *testing.T) *checkMemStore { return sealedUnder(t, otherMaster, false) }, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := tc.st(t)
			before := st.stored()
			writes := st.writeCount()
			created, err := keys.VerifyMasterKey(ctx, st, testMaster, target, newClock().now())
			if writes != st.writeCount() {
				t.Errorf("VerifyMasterKey wrote signing keys (%d writes)", st.writeCount()-writes)
			}
			if tc.wantWant == "-" {
				if err != nil {
					t.Fatalf("VerifyMasterKey() error = %v", err)
				}
				if created != tc.wantCreated {
					t.Errorf("created = %v, want %v", created, tc.wantCreated)
				}
				if c := st.stored(); c == nil || !keys.MatchesKeyCheck(*c, testMaster) {
					t.Errorf("after success the store's check value is %+v, want the given key's", c)
				}
				return
			}
			var mm *keys.MismatchError
			if !errors.As(err, &mm) || !errors.Is(err, keys.ErrWrongMasterKey) {
				t.Fatalf("VerifyMasterKey() error = %v, want a *MismatchError", err)
			}
			want := &keys.MismatchError{Store: target.Store, Want: tc.wantWant, Got: keys.KeyID(testMaster), Source: target.KeySource}
			if diff := cmp.Diff(want, mm, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Cause" }, cmp.Ignore())); diff != "" {
				t.Errorf("MismatchError mismatch (-want +got):\n%s", diff)
			}
			msg := err.Error()
			for _, part := range []string{target.Store, keys.KeyID(testMaster), target.KeySource, "nothing was written"} {
				if !strings.Contains(msg, part) {
					t.Errorf("error %q does not name %q", msg, part)
				}
			}
			if tc.wantWant != "" && !strings.Contains(msg, tc.wantWant) {
				t.Errorf("error %q does not name the key of record %s", msg, tc.wantWant)
			}
			if created || st.stored() != before {
				t.Errorf("a refused key changed the check value (created=%v)", created)
			}
		})
	}
}

func TestVerifyMasterKeyRace(t *testing.T) {
	// Another node records its (other) key between this node's read and
	// its write: this node must lose and say so, not take over.
	st := newCheckMemStore()
	other, err := keys.NewKeyCheck(otherMaster, newClock().now())
	if err != nil {
		t.Fatal(err)
	}
	st.preempt = &other
	_, err = keys.VerifyMasterKey(context.Background(), st, testMaster, target, newClock().now())
	if !errors.Is(err, keys.ErrWrongMasterKey) {
		t.Fatalf("VerifyMasterKey() after losing the race: error %v, want ErrWrongMasterKey", err)
	}
}

func TestRekey(t *testing.T) {
	ctx := context.Background()
	st := newCheckMemStore()
	c := newClock()
	m := newManager(t, st.memStore, testMaster, keys.Config{}, c)
	if err := m.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.VerifyMasterKey(ctx, st, testMaster, target, c.now()); err != nil {
		t.Fatal(err)
	}
	before := list(t, m)
	jwks := m.JWKS()

	// The wrong previous key is refused and changes nothing.
	third := bytes.Repeat([]byte{0x99}, 32)
	if _, err := keys.Rekey(ctx, st, third, otherMaster, target, c.now()); !errors.Is(err, keys.ErrWrongMasterKey) {
		t.Fatalf("Rekey(wrong previous) error = %v, want ErrWrongMasterKey", err)
	}
	if _, err := keys.Rekey(ctx, st, testMaster, testMaster, target, c.now()); err == nil {
		t.Fatal("Rekey(same key twice) succeeded")
	}

	res, err := keys.Rekey(ctx, st, testMaster, otherMaster, target, c.now())
	if err != nil {
		t.Fatalf("Rekey() error = %v", err)
	}
	want := keys.RekeyResult{From: keys.KeyID(testMaster), To: keys.KeyID(otherMaster), Resealed: len(before)}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("Rekey() result mismatch (-want +got):\n%s", diff)
	}
	if chk := st.stored(); chk == nil || !keys.MatchesKeyCheck(*chk, otherMaster) {
		t.Errorf("after Rekey the key of record is %+v, want the new key", chk)
	}

	// The new key opens the same keys; nothing is generated.
	writes := st.writeCount()
	m2 := newManager(t, st.memStore, otherMaster, keys.Config{}, c)
	if err := m2.Init(ctx); err != nil {
		t.Fatalf("Init under the new key: %v", err)
	}
	if st.writeCount() != writes {
		t.Errorf("Init under the new key wrote %d times, want 0", st.writeCount()-writes)
	}
	if diff := cmp.Diff(before, list(t, m2)); diff != "" {
		t.Errorf("keys after Rekey mismatch (-want +got):\n%s", diff)
	}
	if !bytes.Equal(jwks, m2.JWKS()) {
		t.Error("the JWKS changed across Rekey")
	}
	if err := newManager(t, st.memStore, testMaster, keys.Config{}, c).Init(ctx); err == nil {
		t.Error("Init under the old key succeeded after Rekey")
	}

	again, err := keys.Rekey(ctx, st, testMaster, otherMaster, target, c.now())
	if err != nil || !again.AlreadyDone {
		t.Errorf("Rekey() again = %+v, %v; want AlreadyDone", again, err)
	}
}

func TestLoadPreviousMasterKey(t *testing.T) {
	if k, err := keys.LoadPreviousMasterKey(""); k != nil || err != nil {
		t.Errorf("LoadPreviousMasterKey(\"\") = %v, %v; want nil, nil", k, err)
	}
	_, err := keys.LoadPreviousMasterKey("not-a-key")
	if !errors.Is(err, keys.ErrBadMasterKey) || !strings.Contains(err.Error(), keys.MasterKeyPreviousEnv) {
		t.Errorf("LoadPreviousMasterKey(bad) error = %v, want ErrBadMasterKey naming %s", err, keys.MasterKeyPreviousEnv)
	}
}
