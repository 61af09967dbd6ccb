package identity

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/portcullis/portcullis/internal/printable"
	"github.com/portcullis/portcullis/internal/store"
)

// Errors of user management. Callers test them with errors.Is; store
// errors (store.ErrConflict, store.ErrNotFound) come back wrapped.
var (
	// ErrInvalidUsername means a username is not 1–64 characters of ASCII
	// letters, digits and ._@-.
	ErrInvalidUsername = errors.New("identity: invalid username")
	// ErrWeakPassword means a password is shorter than MinPasswordChars.
	ErrWeakPassword = errors.New("identity: password too short")
	// ErrInvalidRole means a role name is empty, too long or holds spaces
	// or control characters.
	ErrInvalidRole = errors.New("identity: invalid role")
	// ErrInvalidAttribute means an attribute key or value is empty (key),
	// too long, not UTF-8 or holds control characters.
	ErrInvalidAttribute = errors.New("identity: invalid attribute")
)

// MinPasswordChars is the shortest password accepted, in characters
// (runes), following NIST SP 800-63B §5.1.1.2's minimum of 8.
const MinPasswordChars = 8

// Limits on what a user record may hold. Roles and attributes end up in
// tokens and policy inputs, so they are kept small and printable.
const (
	maxUsernameLen  = 64
	maxRoleLen      = 128
	maxAttrKeyLen   = 128
	maxAttrValueLen = 1024
)

// UserStore is what user management needs from persistence.
type UserStore interface {
	CreateUser(ctx context.Context, u store.User) error
	GetUser(ctx context.Context, id string) (store.User, error)
	GetUserByUsername(ctx context.Context, username string) (store.User, error)
	ListUsers(ctx context.Context) ([]store.User, error)
	UpdateUser(ctx context.Context, u store.User) error
	DeleteUser(ctx context.Context, id string) error
}

// dummy is the hash checked when there is no real one, computed once on
// first use so that importing the package costs nothing.
var dummy = sync.OnceValue(dummyHash)

// Users manages users and checks their passwords.
type Users struct {
	st  UserStore
	h   *Hasher
	now func() time.Time
}

// NewUsers returns the user service. A nil h means NewHasher(0); a nil now
// means time.Now.
func NewUsers(st UserStore, h *Hasher, now func() time.Time) *Users {
	if h == nil {
		h = NewHasher(0)
	}
	if now == nil {
		now = time.Now
	}
	return &Users{st: st, h: h, now: now}
}

// Create adds a user with a fresh random id; password may be empty (login
// disabled until one is set). Usernames are 1–64 characters of letters,
// digits and ._@-.
//
// Letters are ASCII only, so two usernames cannot look alike while being
// different (Unicode confusables). A username that exists already gives an
// error wrapping store.ErrConflict.
func (u *Users) Create(ctx context.Context, username, password string, roles []string, attrs map[string]string) (store.User, error) {
	if err := ValidateUsername(username); err != nil {
		return store.User{}, err
	}
	if password != "" {
		if err := checkPassword(password); err != nil {
			return store.User{}, err
		}
	}
	if err := checkRoles(roles); err != nil {
		return store.User{}, err
	}
	if err := checkAttrs(attrs); err != nil {
		return store.User{}, err
	}
	var hash string
	if password != "" {
		var err error
		if hash, err = u.h.Hash(ctx, password); err != nil {
			return store.User{}, err
		}
	}
	now := u.now().UTC()
	usr := store.User{
		ID:           newUserID(),
		Username:     username,
		PasswordHash: hash,
		// Copies, so the caller's later edits cannot reach the stored user.
		Roles:     slices.Clone(roles),
		Attrs:     maps.Clone(attrs),
		CreatedAt: now,
		UpdatedAt: now,
	}
	if err := u.st.CreateUser(ctx, usr); err != nil {
		return store.User{}, fmt.Errorf("identity: create user %q: %w", username, err)
	}
	return usr, nil
}

// SetPassword replaces the password of the user named username.
//
// The password must be MinPasswordChars long (ErrWeakPassword); an unknown
// user gives an error wrapping store.ErrNotFound.
func (u *Users) SetPassword(ctx context.Context, username, password string) error {
	if err := checkPassword(password); err != nil {
		return err
	}
	usr, err := u.st.GetUserByUsername(ctx, username)
	if err != nil {
		return fmt.Errorf("identity: set password of %q: %w", username, err)
	}
	hash, err := u.h.Hash(ctx, password)
	if err != nil {
		return err
	}
	usr.PasswordHash = hash
	usr.UpdatedAt = u.now().UTC()
	if err := u.st.UpdateUser(ctx, usr); err != nil {
		return fmt.Errorf("identity: set password of %q: %w", username, err)
	}
	return nil
}

// SetDisabled disables (or re-enables) login for the user named username;
// an unknown user gives an error wrapping store.ErrNotFound.
func (u *Users) SetDisabled(ctx context.Context, username string, disabled bool) error {
	usr, err := u.st.GetUserByUsername(ctx, username)
	if err != nil {
		return fmt.Errorf("identity: set disabled of %q: %w", username, err)
	}
	usr.Disabled = disabled
	usr.UpdatedAt = u.now().UTC()
	if err := u.st.UpdateUser(ctx, usr); err != nil {
		return fmt.Errorf("identity: set disabled of %q: %w", username, err)
	}
	return nil
}

// Authenticate returns the user when username and password match and the
// user is not disabled, else ErrBadCredentials. It spends the same hashing
// work on an unknown username, so timing does not tell which users exist.
//
// A refusal made before any lookup or hashing also matches ErrUnchecked.
// Errors other than ErrBadCredentials are server faults (the store is
// down, a stored hash is corrupt, ctx ended) and must be shown as such, not
// as a wrong password.
func (u *Users) Authenticate(ctx context.Context, username, password string) (store.User, error) {
	// Over-long passwords are refused before any lookup or hashing: no
	// real password can be that long, and refusing costs the same for
	// every username. The error says so (ErrUnchecked), so the caller
	// does not count it as a guess.
	if len(password) > MaxPasswordBytes || password == "" {
		return store.User{}, errUncheckedCredentials
	}
	usr, err := u.st.GetUserByUsername(ctx, username)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.User{}, u.burn(ctx, password)
	case err != nil:
		return store.User{}, fmt.Errorf("identity: authenticate: %w", err)
	case usr.Disabled || usr.PasswordHash == "":
		return store.User{}, u.burn(ctx, password)
	}
	ok, err := u.h.Verify(ctx, password, usr.PasswordHash)
	if err != nil {
		return store.User{}, err
	}
	if !ok {
		return store.User{}, ErrBadCredentials
	}
	return usr, nil
}

// burn checks password against the dummy hash, spending the work a real
// check would, and returns ErrBadCredentials (or the hasher's error when
// ctx ended while waiting).
func (u *Users) burn(ctx context.Context, password string) error {
	if _, err := u.h.Verify(ctx, password, dummy()); err != nil {
		return err
	}
	return ErrBadCredentials
}

// ValidateUsername returns nil when name is 1–64 ASCII letters, digits and
// ._@-, else an error wrapping ErrInvalidUsername.
func ValidateUsername(name string) error {
	if name == "" || len(name) > maxUsernameLen {
		return fmt.Errorf("%w: must be 1 to %d characters", ErrInvalidUsername, maxUsernameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '_', c == '@', c == '-':
		default:
			// The name is not secret, but echoing arbitrary bytes into
			// logs invites log injection; say where instead.
			return fmt.Errorf("%w: character %d is not a letter, digit or one of ._@-", ErrInvalidUsername, i+1)
		}
	}
	return nil
}

// checkPassword enforces the length rules. Only length: NIST SP 800-63B
// §5.1.1.2 advises against composition rules.
func checkPassword(password string) error {
	if len(password) > MaxPasswordBytes {
		return fmt.Errorf("%w (limit %d bytes)", ErrPasswordTooLong, MaxPasswordBytes)
	}
	if utf8.RuneCountInString(password) < MinPasswordChars {
		return fmt.Errorf("%w: need at least %d characters", ErrWeakPassword, MinPasswordChars)
	}
	return nil
}

func checkRoles(roles []string) error {
	for i, r := range roles {
		if r == "" || len(r) > maxRoleLen || !utf8.ValidString(r) ||
			strings.ContainsFunc(r, func(c rune) bool { return unicode.IsSpace(c) || printable.IsControl(c) }) {
			return fmt.Errorf("%w: role %d must be 1 to %d bytes of UTF-8 without spaces or control characters", ErrInvalidRole, i+1, maxRoleLen)
		}
	}
	return nil
}

func checkAttrs(attrs map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		v := attrs[k]
		if k == "" || len(k) > maxAttrKeyLen || !printableText(k) {
			return fmt.Errorf("%w: keys must be 1 to %d bytes of printable UTF-8", ErrInvalidAttribute, maxAttrKeyLen)
		}
		if len(v) > maxAttrValueLen || !printableText(v) {
			return fmt.Errorf("%w: value of %q must be at most %d bytes of printable UTF-8", ErrInvalidAttribute, k, maxAttrValueLen)
		}
	}
	return nil
}

// printableText reports whether s is UTF-8 without control characters.
func printableText(s string) bool {
	return utf8.ValidString(s) && !printable.HasControl(s)
}

// newUserID returns a random (version 4) UUID, RFC 9562 §5.4. The id is
// the "sub" claim for life, so it carries no meaning and is never reused.
func newUserID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])  // never fails since Go 1.24
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // variant 10 (RFC 9562)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
