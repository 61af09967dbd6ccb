package identity_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/portcullis/portcullis/internal/identity"
	"github.com/portcullis/portcullis/internal/identity/identitytest"
	"github.com/portcullis/portcullis/internal/store"
)

var uuidV4RE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func newUsers(t *testing.T) (*identity.Users, *identitytest.UserStore, *clock) {
	t.Helper()
	st := &identitytest.UserStore{}
	clk := newClock()
	return identity.NewUsers(st, testHasher, clk.Now), st, clk
}

func TestCreate(t *testing.T) {
	users, st, clk := newUsers(t)
	roles := []string{"warehouse_admin"}
	attrs := map[string]string{"office": "head office"}
	got, err := users.Create(ctx(), "alice", "correct horse", roles, attrs)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	// The caller's slices and maps must not alias the stored user.
	roles[0] = "changed"
	attrs["office"] = "changed"

	if !uuidV4RE.MatchString(got.ID) {
		t.Errorf("ID = %q, want a random UUID", got.ID)
	}
	want := store.User{
		ID:        got.ID,
		Username:  "alice",
		Roles:     []string{"warehouse_admin"},
		Attrs:     map[string]string{"office": "head office"},
		CreatedAt: clk.Now(),
		UpdatedAt: clk.Now(),
	}
	ignoreHash := cmpopts.IgnoreFields(store.User{}, "PasswordHash")
	if diff := cmp.Diff(want, got, ignoreHash); diff != "" {
		t.Errorf("Create returned (-want +got):\n%s", diff)
	}
	stored, err := st.GetUser(ctx(), got.ID)
	if err != nil {
		t.Fatalf("stored user: %v", err)
	}
	if diff := cmp.Diff(want, stored, ignoreHash); diff != "" {
		t.Errorf("stored user (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(stored.PasswordHash, "$argon2id$") {
		t.Errorf("stored hash = %q, want argon2id", stored.PasswordHash)
	}
	ok, err := testHasher.Verify(ctx(), "correct horse", stored.PasswordHash)
	if err != nil || !ok {
		t.Errorf("stored hash does not verify the password: %v, %v", ok, err)
	}
}

func TestCreateIDsAreUnique(t *testing.T) {
	users, _, _ := newUsers(t)
	seen := map[string]bool{}
	for _, name := range []string{"a", "b", "c", "d"} {
		u, err := users.Create(ctx(), name, "", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if seen[u.ID] {
			t.Fatalf("id %q given twice", u.ID)
		}
		seen[u.ID] = true
	}
}

func TestCreateRejects(t *testing.T) {
	for _, tc := range []struct {
		name, username, password string
		roles                    []string
		attrs                    map[string]string
		want                     error
	}{
		{name: "empty username", username: "", want: identity.ErrInvalidUsername},
		{name: "long username", username: strings.Repeat("a", 65), want: identity.ErrInvalidUsername},
		{name: "space", username: "alice smith", want: identity.ErrInvalidUsername},
		{name: "non-ascii letter", username: "ålice", want: identity.ErrInvalidUsername},
		{name: "markup", username: "<script>", want: identity.ErrInvalidUsername},
		{name: "newline", username: "alice\nadmin", want: identity.ErrInvalidUsername},
		{name: "short password", username: "alice", password: "1234567", want: identity.ErrWeakPassword},
		{name: "seven runes in 14 bytes", username: "alice", password: "ééééééé", want: identity.ErrWeakPassword},
		{name: "long password", username: "alice", password: strings.Repeat("p", 1025), want: identity.ErrPasswordTooLong},
		{name: "empty role", username: "alice", roles: []string{"admin", ""}, want: identity.ErrInvalidRole},
		{name: "role with space", username: "alice", roles: []string{"warehouse admin"}, want: identity.ErrInvalidRole},
		{name: "long role", username: "alice", roles: []string{strings.Repeat("r", 129)}, want: identity.ErrInvalidRole},
		{name: "empty attr key", username: "alice", attrs: map[string]string{"": "x"}, want: identity.ErrInvalidAttribute},
		{name: "control char in value", username: "alice", attrs: map[string]string{"office": "a\x00b"}, want: identity.ErrInvalidAttribute},
		{name: "invalid utf-8 value", username: "alice", attrs: map[string]string{"office": "\xff"}, want: identity.ErrInvalidAttribute},
		{name: "long value", username: "alice", attrs: map[string]string{"office": strings.Repeat("v", 1025)}, want: identity.ErrInvalidAttribute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			users, st, _ := newUsers(t)
			_, err := users.Create(ctx(), tc.username, tc.password, tc.roles, tc.attrs)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Create err = %v, want %v", err, tc.want)
			}
			if tc.password != "" && strings.Contains(err.Error(), tc.password) {
				t.Errorf("error %q contains the password", err)
			}
			if all, _ := st.ListUsers(ctx()); len(all) != 0 {
				t.Errorf("store holds %d users after a refused Create, want 0", len(all))
			}
		})
	}
}

func TestCreateAcceptsEveryAllowedCharacter(t *testing.T) {
	users, _, _ := newUsers(t)
	for _, name := range []string{"a", strings.Repeat("z", 64), "Alice.Smith_2@example.com-x"} {
		if _, err := users.Create(ctx(), name, "", nil, nil); err != nil {
			t.Errorf("Create(%q): %v", name, err)
		}
	}
}

func TestCreateConflict(t *testing.T) {
	users, _, _ := newUsers(t)
	if _, err := users.Create(ctx(), "alice", "", nil, nil); err != nil {
		t.Fatal(err)
	}
	_, err := users.Create(ctx(), "alice", "", nil, nil)
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("second Create err = %v, want store.ErrConflict", err)
	}
}

func TestAuthenticate(t *testing.T) {
	users, st, _ := newUsers(t)
	alice, err := users.Create(ctx(), "alice", "alice-password", []string{"warehouse_admin"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := users.Create(ctx(), "nopass", "", nil, nil); err != nil {
		t.Fatal(err)
	}
	bob, err := users.Create(ctx(), "bob", "bob-password", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	bob.Disabled = true
	if err := st.UpdateUser(ctx(), bob); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, username, password string
		wantID                   string
		wantErr                  error
		// wantUnchecked: refused before any work, so not a guess the
		// throttle should count.
		wantUnchecked bool
	}{
		{name: "ok", username: "alice", password: "alice-password", wantID: alice.ID},
		{name: "wrong password", username: "alice", password: "alice-passwore", wantErr: identity.ErrBadCredentials},
		{name: "username is case sensitive", username: "Alice", password: "alice-password", wantErr: identity.ErrBadCredentials},
		{name: "unknown user", username: "mallory", password: "alice-password", wantErr: identity.ErrBadCredentials},
		{name: "invalid username", username: "' OR 1=1 --", password: "alice-password", wantErr: identity.ErrBadCredentials},
		{name: "disabled user", username: "bob", password: "bob-password", wantErr: identity.ErrBadCredentials},
		{name: "no password set", username: "nopass", password: "anything-at-all", wantErr: identity.ErrBadCredentials},
		{name: "empty password", username: "alice", password: "", wantErr: identity.ErrBadCredentials, wantUnchecked: true},
		{name: "over-long password", username: "alice", password: strings.Repeat("a", 1025), wantErr: identity.ErrBadCredentials, wantUnchecked: true},
		{name: "over-long password, unknown user", username: "mallory", password: strings.Repeat("a", 1025), wantErr: identity.ErrBadCredentials, wantUnchecked: true},
		{name: "longest password", username: "alice", password: strings.Repeat("a", 1024), wantErr: identity.ErrBadCredentials},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := users.Authenticate(ctx(), tc.username, tc.password)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("Authenticate err = %v, want %v", err, tc.wantErr)
			}
			if gotUnchecked := errors.Is(err, identity.ErrUnchecked); gotUnchecked != tc.wantUnchecked {
				t.Errorf("Authenticate err = %v: errors.Is(ErrUnchecked) = %v, want %v", err, gotUnchecked, tc.wantUnchecked)
			}
			if got.ID != tc.wantID {
				t.Errorf("Authenticate user id = %q, want %q", got.ID, tc.wantID)
			}
		})
	}
}

func TestAuthenticateStoreFailure(t *testing.T) {
	st := &identitytest.UserStore{Err: errors.New("database is down")}
	users := identity.NewUsers(st, testHasher, nil)
	_, err := users.Authenticate(ctx(), "alice", "alice-password")
	if err == nil || errors.Is(err, identity.ErrBadCredentials) {
		t.Errorf("Authenticate err = %v, want a server error, not bad credentials", err)
	}
}

func TestAuthenticateCorruptHash(t *testing.T) {
	users, st, _ := newUsers(t)
	u, err := users.Create(ctx(), "alice", "alice-password", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	u.PasswordHash = "$argon2id$v=19$m=4194304,t=100,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	if err := st.UpdateUser(ctx(), u); err != nil {
		t.Fatal(err)
	}
	_, err = users.Authenticate(ctx(), "alice", "alice-password")
	if !errors.Is(err, identity.ErrMalformedHash) {
		t.Errorf("Authenticate err = %v, want ErrMalformedHash", err)
	}
}

func TestAuthenticateCancelled(t *testing.T) {
	users, _, _ := newUsers(t)
	c, cancel := context.WithCancel(ctx())
	cancel()
	// Even an unknown user's dummy check honours the context.
	if _, err := users.Authenticate(c, "nobody", "some-password"); !errors.Is(err, context.Canceled) {
		t.Errorf("Authenticate err = %v, want context.Canceled", err)
	}
}

func TestSetPassword(t *testing.T) {
	users, st, clk := newUsers(t)
	if _, err := users.Create(ctx(), "alice", "", nil, nil); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	if err := users.SetPassword(ctx(), "alice", "brand-new-password"); err != nil {
		t.Fatalf("SetPassword: %v", err)
	}
	if _, err := users.Authenticate(ctx(), "alice", "brand-new-password"); err != nil {
		t.Errorf("Authenticate with the new password: %v", err)
	}
	u, err := st.GetUserByUsername(ctx(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !u.UpdatedAt.Equal(clk.Now()) {
		t.Errorf("UpdatedAt = %v, want %v", u.UpdatedAt, clk.Now())
	}

	if err := users.SetPassword(ctx(), "alice", "another-password"); err != nil {
		t.Fatal(err)
	}
	if _, err := users.Authenticate(ctx(), "alice", "brand-new-password"); !errors.Is(err, identity.ErrBadCredentials) {
		t.Errorf("old password still works: err = %v", err)
	}

	for _, tc := range []struct {
		name, username, password string
		want                     error
	}{
		{"weak", "alice", "short", identity.ErrWeakPassword},
		{"empty", "alice", "", identity.ErrWeakPassword},
		{"too long", "alice", strings.Repeat("x", 1025), identity.ErrPasswordTooLong},
		{"unknown user", "mallory", "long-enough-password", store.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := users.SetPassword(ctx(), tc.username, tc.password); !errors.Is(err, tc.want) {
				t.Errorf("SetPassword err = %v, want %v", err, tc.want)
			}
			if _, err := users.Authenticate(ctx(), "alice", "another-password"); err != nil {
				t.Errorf("a refused SetPassword changed the password: %v", err)
			}
		})
	}
}

func TestSetDisabled(t *testing.T) {
	users, _, _ := newUsers(t)
	if _, err := users.Create(ctx(), "alice", "alice-password", nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		disabled bool
		want     error
	}{
		{true, identity.ErrBadCredentials},
		{false, nil},
	} {
		if err := users.SetDisabled(ctx(), "alice", tc.disabled); err != nil {
			t.Fatalf("SetDisabled(%v): %v", tc.disabled, err)
		}
		if _, err := users.Authenticate(ctx(), "alice", "alice-password"); !errors.Is(err, tc.want) {
			t.Errorf("after SetDisabled(%v): Authenticate err = %v, want %v", tc.disabled, err, tc.want)
		}
	}
	if err := users.SetDisabled(ctx(), "mallory", true); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetDisabled(unknown) err = %v, want store.ErrNotFound", err)
	}
}
