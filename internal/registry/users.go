package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/identity"
	"github.com/portcullis/portcullis/internal/printable"
	"github.com/portcullis/portcullis/internal/store"
)

// Limits on roles and attributes.
const (
	maxRoleLen      = 64
	maxAttrValueLen = 256
	maxAttrKeyLen   = 64
)

var _ identity.UserStore = (*store.DB)(nil)

// Users manages end users: roles and attributes checked here, passwords
// hashed by identity. Safe for concurrent use.
type Users struct {
	st    identity.UserStore
	audit Auditor
	h     *identity.Hasher
	now   func() time.Time
}

// NewUsers returns the user service over st; every mutation is written
// through au with its audit record, in one transaction. Passwords are
// hashed with h (nil means identity's default). now is the clock (nil
// means time.Now).
func NewUsers(st identity.UserStore, au Auditor, h *identity.Hasher, now func() time.Time) *Users {
	if now == nil {
		now = time.Now
	}
	if h == nil {
		// One hasher for the service, so its bound on concurrent
		// hashing holds across calls.
		h = identity.NewHasher(0)
	}
	return &Users{st: st, audit: au, h: h, now: now}
}

// ids is identity's user service for one mutation recorded as action: its
// write goes through a userWriter, with the audit record.
func (s *Users) ids(action string) *identity.Users {
	return identity.NewUsers(&userWriter{UserStore: s.st, audit: s.audit, action: action}, s.h, s.now)
}

// apply writes change with the audit record of action on the user around
// it; before or after is nil for a create or a delete.
func (s *Users) apply(ctx context.Context, action string, before, after *store.User, change store.Change) error {
	name := ""
	switch {
	case after != nil:
		name = after.Username
	case before != nil:
		name = before.Username
	}
	rec, err := record(action, TargetUser, name, newUserState, before, after)
	if err != nil {
		return err
	}
	return s.audit.Apply(ctx, rec, change)
}

// Create adds a user; password may be empty (login disabled until one is
// set). Roles and attributes are checked by CheckRoles and ParseAttrs'
// rules; an existing username wraps ErrExists.
func (s *Users) Create(ctx context.Context, username, password string, roles []string, attrs map[string]string) (store.User, error) {
	return s.create(ctx, ActionUserCreate, username, password, roles, attrs)
}

// create is Create recorded as action.
func (s *Users) create(ctx context.Context, action, username, password string, roles []string, attrs map[string]string) (store.User, error) {
	roles, err := CheckRoles(roles)
	if err != nil {
		return store.User{}, err
	}
	if err := checkAttrs(attrs); err != nil {
		return store.User{}, err
	}
	u, err := s.ids(action).Create(ctx, username, password, roles, attrs)
	if errors.Is(err, store.ErrConflict) {
		return store.User{}, exists("user", username)
	}
	if err != nil {
		return store.User{}, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

// List returns every user.
func (s *Users) List(ctx context.Context) ([]store.User, error) {
	list, err := s.st.ListUsers(ctx)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return list, nil
}

// SetPassword replaces the password of username; an unknown user wraps
// ErrNotFound.
func (s *Users) SetPassword(ctx context.Context, username, password string) error {
	err := s.ids(ActionUserSetPassword).SetPassword(ctx, username, password)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("user", username)
	}
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	return nil
}

// Delete removes username with their sessions, consents and tokens; an
// unknown user wraps ErrNotFound.
func (s *Users) Delete(ctx context.Context, username string) error {
	u, err := s.get(ctx, username)
	if err != nil {
		return err
	}
	err = s.apply(ctx, ActionUserDelete, &u, nil, store.DeleteUserChange(u.ID))
	if errors.Is(err, store.ErrNotFound) {
		return notFound("user", username)
	}
	if err != nil {
		return fmt.Errorf("delete user: %w", err)
	}
	return nil
}

// Put makes the store hold username with these roles, attributes and
// password, for seeding a known installation (the demo). A missing user is
// created; an existing one is updated only when replace is set.
func (s *Users) Put(ctx context.Context, username, password string, roles []string, attrs map[string]string, replace bool) error {
	u, err := s.get(ctx, username)
	switch {
	case errors.Is(err, ErrNotFound):
		_, err := s.create(ctx, ActionUserPut, username, password, roles, attrs)
		return err
	case err != nil:
		return err
	case !replace:
		return nil
	}
	if roles, err = CheckRoles(roles); err != nil {
		return err
	}
	if err := checkAttrs(attrs); err != nil {
		return err
	}
	before := u
	u.Roles, u.Attrs, u.UpdatedAt = roles, attrs, s.now()
	if err := s.apply(ctx, ActionUserPut, &before, &u, store.UpdateUserChange(u)); err != nil {
		return fmt.Errorf("update user %s: %w", username, err)
	}
	return s.SetPassword(ctx, username, password)
}

// Get returns the user username; an unknown user wraps ErrNotFound.
func (s *Users) Get(ctx context.Context, username string) (store.User, error) {
	return s.get(ctx, username)
}

func (s *Users) get(ctx context.Context, username string) (store.User, error) {
	u, err := s.st.GetUserByUsername(ctx, username)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, notFound("user", username)
	}
	if err != nil {
		return store.User{}, fmt.Errorf("get user: %w", err)
	}
	return u, nil
}

// CheckRoles checks role names and drops repeats: roles end up in tokens
// and CEL conditions, so they are short and free of spaces.
func CheckRoles(in []string) ([]string, error) {
	roles := []string{}
	for _, r := range in {
		if r == "" || len(r) > maxRoleLen || strings.ContainsFunc(r, func(c rune) bool { return c <= ' ' || printable.IsControl(c) }) {
			return nil, fmt.Errorf("invalid role %q: 1 to %d characters without spaces", r, maxRoleLen)
		}
		if !slices.Contains(roles, r) {
			roles = append(roles, r)
		}
	}
	return roles, nil
}

// ParseAttrs parses KEY=VALUE pairs. Keys are identifiers, so a policy can
// name them (user.attrs.office); a key given twice is an error rather than
// a silent overwrite.
func ParseAttrs(pairs []string) (map[string]string, error) {
	attrs := map[string]string{}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return nil, fmt.Errorf("invalid attribute %q: want KEY=VALUE", p)
		}
		if _, dup := attrs[k]; dup {
			return nil, fmt.Errorf("invalid attribute: %s given twice", k)
		}
		attrs[k] = v
	}
	if err := checkAttrs(attrs); err != nil {
		return nil, err
	}
	return attrs, nil
}

// CheckAttrs checks attribute keys and values by ParseAttrs' rules, for
// callers that receive them as a map (the admin API).
func CheckAttrs(attrs map[string]string) error { return checkAttrs(attrs) }

func checkAttrs(attrs map[string]string) error {
	for k, v := range attrs {
		if !isIdentifier(k) {
			return fmt.Errorf("invalid attribute key %q: letters, digits and _, not starting with a digit", k)
		}
		if len(v) > maxAttrValueLen || printable.HasControl(v) {
			return fmt.Errorf("invalid attribute %s: value of at most %d printable characters", k, maxAttrValueLen)
		}
	}
	return nil
}

func isIdentifier(s string) bool {
	if s == "" || len(s) > maxAttrKeyLen {
		return false
	}
	for i, r := range s {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_'
		if !letter && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// UserInfo is how a user is shown; it never holds the password hash.
type UserInfo struct {
	ID          string            `json:"id"`
	Username    string            `json:"username"`
	Roles       []string          `json:"roles"`
	Attrs       map[string]string `json:"attrs"`
	Disabled    bool              `json:"disabled"`
	HasPassword bool              `json:"has_password"`
	CreatedAt   time.Time         `json:"created_at"`
	UpdatedAt   time.Time         `json:"updated_at"`
}

// NewUserInfo describes u.
func NewUserInfo(u store.User) UserInfo {
	attrs := u.Attrs
	if attrs == nil {
		attrs = map[string]string{}
	}
	return UserInfo{
		ID:          u.ID,
		Username:    u.Username,
		Roles:       nonNil(u.Roles),
		Attrs:       attrs,
		Disabled:    u.Disabled,
		HasPassword: u.PasswordHash != "",
		CreatedAt:   u.CreatedAt,
		UpdatedAt:   u.UpdatedAt,
	}
}
