package cli

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

	"github.com/portcullis/portcullis/internal/admin"
	"github.com/portcullis/portcullis/internal/registry"
	"github.com/portcullis/portcullis/internal/server"
)

// maxPasswordBytes bounds a password read from stdin; argon2id would take
// anything, but nobody types more and a runaway pipe should not be hashed.
const maxPasswordBytes = 1024

// UsersCmd groups the user commands.
type UsersCmd struct {
	Create      UsersCreateCmd      `cmd:"" help:"Create a user; the password is read from stdin."`
	List        UsersListCmd        `cmd:"" help:"List users."`
	SetPassword UsersSetPasswordCmd `cmd:"" name:"set-password" help:"Replace a user's password, read from stdin."`
	Delete      UsersDeleteCmd      `cmd:"" help:"Delete a user with their sessions, consents and tokens."`
}

// UsersCreateCmd creates a user.
type UsersCreateCmd struct {
	Source     `embed:""`
	Remote     `embed:""`
	Username   string   `arg:"" help:"Username: 1-64 letters, digits and ._@-"`
	Role       []string `name:"role" help:"Role (repeatable)."`
	Attr       []string `name:"attr" sep:"none" placeholder:"KEY=VALUE" help:"Attribute, such as office=head (repeatable)."`
	NoPassword bool     `name:"no-password" help:"Create the user without a password (login disabled until set-password)."`
	JSON       bool     `name:"json" help:"Print JSON."`
}

// Run reads the password (one line of stdin) and creates the user.
func (c *UsersCreateCmd) Run(ctx context.Context, rt *Runtime) error {
	roles, err := registry.CheckRoles(c.Role)
	if err != nil {
		return err
	}
	attrs, err := registry.ParseAttrs(c.Attr)
	if err != nil {
		return err
	}
	var password string
	if !c.NoPassword {
		if password, err = readPassword(rt, "Password for "+c.Username); err != nil {
			return err
		}
	}
	if c.remote() {
		ac, err := c.client(c.Source, rt)
		if err != nil {
			return err
		}
		info, err := ac.CreateUser(ctx, admin.UserRequest{Username: c.Username, Password: password, Roles: roles, Attrs: attrs})
		if err != nil {
			return err
		}
		return c.print(rt, info)
	}
	return withInstallation(ctx, c.Source, rt, func(in *server.Installation) error {
		u, err := in.Users().Create(ctx, c.Username, password, roles, attrs)
		if err != nil {
			return err
		}
		return c.print(rt, registry.NewUserInfo(u))
	})
}

func (c *UsersCreateCmd) print(rt *Runtime, u registry.UserInfo) error {
	if c.JSON {
		return writeJSON(rt.Stdout, u)
	}
	_, err := fmt.Fprintf(rt.Stdout, "created user %s (id %s)\n", u.Username, u.ID)
	return err
}

// UsersListCmd lists users.
type UsersListCmd struct {
	Source `embed:""`
	Remote `embed:""`
	JSON   bool `name:"json" help:"Print JSON."`
}

// Run prints every user.
func (c *UsersListCmd) Run(ctx context.Context, rt *Runtime) error {
	if c.remote() {
		ac, err := c.client(c.Source, rt)
		if err != nil {
			return err
		}
		infos, err := ac.ListUsers(ctx)
		if err != nil {
			return err
		}
		return c.print(rt, infos)
	}
	return withInstallation(ctx, c.Source, rt, func(in *server.Installation) error {
		users, err := in.Users().List(ctx)
		if err != nil {
			return err
		}
		infos := make([]registry.UserInfo, len(users))
		for i, u := range users {
			infos[i] = registry.NewUserInfo(u)
		}
		return c.print(rt, infos)
	})
}

func (c *UsersListCmd) print(rt *Runtime, infos []registry.UserInfo) error {
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
	return withInstallation(ctx, c.Source, rt, func(in *server.Installation) error {
		if err := in.Users().SetPassword(ctx, c.Username, password); err != nil {
			return err
		}
		_, err := fmt.Fprintf(rt.Stdout, "password of %s replaced\n", c.Username)
		return err
	})
}

// UsersDeleteCmd deletes a user.
type UsersDeleteCmd struct {
	Source   `embed:""`
	Remote   `embed:""`
	Username string `arg:"" help:"Username."`
}

// Run deletes the user with their sessions, consents and tokens.
func (c *UsersDeleteCmd) Run(ctx context.Context, rt *Runtime) error {
	if c.remote() {
		ac, err := c.client(c.Source, rt)
		if err != nil {
			return err
		}
		if err := ac.DeleteUser(ctx, c.Username); err != nil {
			return err
		}
		return c.print(rt)
	}
	return withInstallation(ctx, c.Source, rt, func(in *server.Installation) error {
		if err := in.Users().Delete(ctx, c.Username); err != nil {
			return err
		}
		return c.print(rt)
	})
}

func (c *UsersDeleteCmd) print(rt *Runtime) error {
	_, err := fmt.Fprintf(rt.Stdout, "deleted user %s\n", c.Username)
	return err
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

func formatAttrs(attrs map[string]string) string {
	parts := make([]string, 0, len(attrs))
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		parts = append(parts, k+"="+attrs[k])
	}
	return strings.Join(parts, ",")
}
