package app

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// maxPasswordBytes bounds a password read from stdin; argon2id would take
// anything, but nobody types more and a runaway pipe should not be hashed.
const maxPasswordBytes = 1024

// Limits on roles and attributes.
const (
	maxRoleLen      = 64
	maxAttrValueLen = 256
)

// UsersCmd groups the user commands.
type UsersCmd struct {
	Create      UsersCreateCmd      `cmd:"" help:"Create a user; the password is read from stdin."`
	List        UsersListCmd        `cmd:"" help:"List users."`
	SetPassword UsersSetPasswordCmd `cmd:"" name:"set-password" help:"Replace a user's password, read from stdin."`
	Delete      UsersDeleteCmd      `cmd:"" help:"Delete a user with their sessions, consents and tokens."`
}

// UserInfo is how commands show a user; it never holds the password hash.
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

// UsersCreateCmd creates a user.
type UsersCreateCmd struct {
	Source     `embed:""`
	Username   string   `arg:"" help:"Username: 1-64 letters, digits and ._@-"`
	Role       []string `name:"role" help:"Role (repeatable)."`
	Attr       []string `name:"attr" sep:"none" placeholder:"KEY=VALUE" help:"Attribute, such as office=head (repeatable)."`
	NoPassword bool     `name:"no-password" help:"Create the user without a password (login disabled until set-password)."`
	JSON       bool     `name:"json" help:"Print JSON."`
}

// Run reads the password (one line of stdin) and creates the user.
func (c *UsersCreateCmd) Run(ctx context.Context, rt *Runtime) error {
	roles, err := parseRoles(c.Role)
	if err != nil {
		return err
	}
	attrs, err := ParseAttrs(c.Attr)
	if err != nil {
		return err
	}
	var password string
	if !c.NoPassword {
		if password, err = readPassword(rt, "Password for "+c.Username); err != nil {
			return err
		}
	}
	return withManaged(ctx, c.Source, rt, func(m *managed) error {
		u, err := m.users().Create(ctx, c.Username, password, roles, attrs)
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("user %q already exists", c.Username)
		}
		if err != nil {
			return fmt.Errorf("create user: %w", err)
		}
		if c.JSON {
			return writeJSON(rt.Stdout, NewUserInfo(u))
		}
		_, err = fmt.Fprintf(rt.Stdout, "created user %s (id %s)\n", u.Username, u.ID)
		return err
	})
}

// UsersListCmd lists users.
type UsersListCmd struct {
	Source `embed:""`
	JSON   bool `name:"json" help:"Print JSON."`
}

// Run prints every user.
func (c *UsersListCmd) Run(ctx context.Context, rt *Runtime) error {
	return withManaged(ctx, c.Source, rt, func(m *managed) error {
		users, err := m.db.ListUsers(ctx)
		if err != nil {
			return fmt.Errorf("list users: %w", err)
		}
		infos := make([]UserInfo, len(users))
		for i, u := range users {
			infos[i] = NewUserInfo(u)
		}
		if c.JSON {
			return writeJSON(rt.Stdout, infos)
		}
		tw := tabwriter.NewWriter(rt.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "USERNAME\tID\tROLES\tATTRS\tSTATUS")
		for _, in := range infos {
			status := "active"
			switch {
			case in.Disabled:
				status = "disabled"
			case !in.HasPassword:
				status = "no password"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", in.Username, in.ID, strings.Join(in.Roles, ","),
				formatAttrs(in.Attrs), status)
		}
		return tw.Flush()
	})
}

// UsersSetPasswordCmd replaces a password.
type UsersSetPasswordCmd struct {
	Source   `embed:""`
	Username string `arg:"" help:"Username."`
}

// Run reads the new password (one line of stdin) and stores its hash.
func (c *UsersSetPasswordCmd) Run(ctx context.Context, rt *Runtime) error {
	password, err := readPassword(rt, "New password for "+c.Username)
	if err != nil {
		return err
	}
	return withManaged(ctx, c.Source, rt, func(m *managed) error {
		err := m.users().SetPassword(ctx, c.Username, password)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no user %q", c.Username)
		}
		if err != nil {
			return fmt.Errorf("set password: %w", err)
		}
		_, err = fmt.Fprintf(rt.Stdout, "password of %s replaced\n", c.Username)
		return err
	})
}

// UsersDeleteCmd deletes a user.
type UsersDeleteCmd struct {
	Source   `embed:""`
	Username string `arg:"" help:"Username."`
}

// Run deletes the user with their sessions, consents and tokens.
func (c *UsersDeleteCmd) Run(ctx context.Context, rt *Runtime) error {
	return withManaged(ctx, c.Source, rt, func(m *managed) error {
		u, err := m.db.GetUserByUsername(ctx, c.Username)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no user %q", c.Username)
		}
		if err != nil {
			return fmt.Errorf("get user: %w", err)
		}
		if err := m.db.DeleteUser(ctx, u.ID); err != nil {
			return fmt.Errorf("delete user: %w", err)
		}
		_, err = fmt.Fprintf(rt.Stdout, "deleted user %s\n", c.Username)
		return err
	})
}

// readPassword reads one line of rt.Stdin, without its line ending. A
// password never comes from a flag, where ps and shell history would show
// it. On a terminal a prompt goes to Stderr; echo stays on, as the module
// has no terminal package.
func readPassword(rt *Runtime, prompt string) (string, error) {
	if rt.StdinIsTerminal {
		fmt.Fprintf(rt.Stderr, "%s (typing is visible): ", prompt)
	}
	password, err := ReadPasswordLine(rt.Stdin)
	if err != nil {
		return "", err
	}
	if password == "" {
		return "", errors.New("empty password on stdin")
	}
	return password, nil
}

// ReadPasswordLine reads one line of at most 1024 bytes from r and strips
// the trailing "\n" or "\r\n". End of input ends the line too.
func ReadPasswordLine(r io.Reader) (string, error) {
	br := bufio.NewReader(io.LimitReader(r, maxPasswordBytes+2))
	line, err := br.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	line = strings.TrimSuffix(line, "\n")
	line = strings.TrimSuffix(line, "\r")
	if len(line) > maxPasswordBytes {
		return "", fmt.Errorf("password longer than %d bytes", maxPasswordBytes)
	}
	return line, nil
}

// parseRoles checks role names: they end up in tokens and CEL conditions,
// so they are short and free of spaces.
func parseRoles(in []string) ([]string, error) {
	roles := []string{}
	for _, r := range in {
		if r == "" || len(r) > maxRoleLen || strings.ContainsFunc(r, func(c rune) bool { return c <= ' ' || c == 0x7f }) {
			return nil, fmt.Errorf("invalid --role %q: 1 to %d characters without spaces", r, maxRoleLen)
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
			return nil, fmt.Errorf("invalid --attr %q: want KEY=VALUE", p)
		}
		if !isIdentifier(k) {
			return nil, fmt.Errorf("invalid --attr key %q: letters, digits and _, not starting with a digit", k)
		}
		if len(v) > maxAttrValueLen || strings.ContainsFunc(v, isControl) {
			return nil, fmt.Errorf("invalid --attr %s: value of at most %d printable characters", k, maxAttrValueLen)
		}
		if _, dup := attrs[k]; dup {
			return nil, fmt.Errorf("invalid --attr: %s given twice", k)
		}
		attrs[k] = v
	}
	return attrs, nil
}

func isIdentifier(s string) bool {
	if s == "" || len(s) > 64 {
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

func formatAttrs(attrs map[string]string) string {
	parts := make([]string, 0, len(attrs))
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		parts = append(parts, k+"="+attrs[k])
	}
	return strings.Join(parts, ",")
}
