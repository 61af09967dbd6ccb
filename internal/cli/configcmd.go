package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/server"
)

// ConfigCmd groups the configuration commands.
type ConfigCmd struct {
	Validate ConfigValidateCmd `cmd:"" help:"Check a configuration file as serve would at start, without opening the store or any listener."`
}

// ConfigValidateCmd checks a configuration file.
type ConfigValidateCmd struct {
	File  string   `arg:"" help:"Configuration file (named in errors as given)." placeholder:"FILE"`
	Roles []string `help:"Roles the node will run, as serve --roles (comma-separated; default all)." placeholder:"ROLES"`
}

// Run does what ServeCmd.Run does before server.Start (roles, Load with
// its validation, the logger settings) and stops there: it opens no
// store, binds no port and writes no file, so it is safe on a node that
// is running, in CI, or in an image build. On success it prints one line
// saying what the file configures; on failure every problem goes to
// Stderr on a line of its own ("FILE:LINE: field: message") and the
// command fails (exit status 1).
func (c *ConfigValidateCmd) Run(_ context.Context, rt *Runtime) error {
	roles, err := server.ParseRoles(c.Roles)
	if err != nil {
		return err
	}
	cfg, err := config.Load(c.File)
	if err == nil {
		_, err = server.NewLogger(io.Discard, cfg.Log)
	}
	if err != nil {
		problems := flatten(err)
		for _, p := range problems {
			if _, werr := fmt.Fprintln(rt.Stderr, p.Error()); werr != nil {
				return werr
			}
		}
		return &invalidConfigError{file: c.File, problems: len(problems)}
	}
	_, err = fmt.Fprintln(rt.Stdout, summary(c.File, cfg, roles))
	return err
}

// invalidConfigError ends config validate once the problems are printed;
// its text is the last line main prints.
type invalidConfigError struct {
	file     string
	problems int
}

func (e *invalidConfigError) Error() string {
	if e.problems == 1 {
		return e.file + ": the configuration is invalid (1 problem)"
	}
	return fmt.Sprintf("%s: the configuration is invalid (%d problems)", e.file, e.problems)
}

// flatten lists the leaves of a tree of joined errors (config joins one
// *config.FieldError per problem, already one line each).
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// summary is the one line config validate prints for a valid file. It
// names the store's kind, never its DSN (which may carry a password).
func summary(file string, cfg *config.Config, roles []server.Role) string {
	names := make([]string, len(roles))
	for i, r := range roles {
		addr := cfg.Listen.Authz
		switch r {
		case server.RoleGateway:
			addr = cfg.Listen.Gateway
		case server.RoleAdmin:
			addr = cfg.Listen.Admin
		}
		names[i] = string(r) + "=" + addr
	}
	parts := []string{
		"roles " + strings.Join(names, ","),
		"issuer " + cfg.Issuer,
		"store " + storeKind(cfg.Store.DSN),
		"ratelimit " + cfg.RateLimit.Backend,
		count(len(cfg.Gateway.APIs), "API"),
		count(len(cfg.Gateway.Issuers), "trusted issuer"),
		count(len(cfg.Policy.Roles), "policy role"),
	}
	if n := len(cfg.Gateway.TokenHandler.SPAs); n > 0 {
		parts = append(parts, count(n, "token-handler SPA"))
	}
	if cfg.TokenExchange.Enabled {
		parts = append(parts, "token exchange on")
	}
	if cfg.Audit.Stream.Enabled() {
		parts = append(parts, "audit stream on")
	}
	if cfg.Listen.GatewayTLS.CertFile != "" {
		parts = append(parts, "gateway TLS on")
	}
	return file + ": OK (" + strings.Join(parts, "; ") + ")"
}

// storeKind names the database a DSN selects, as store.Open decides it.
func storeKind(dsn string) string {
	lower := strings.ToLower(dsn)
	if strings.HasPrefix(lower, "postgres://") || strings.HasPrefix(lower, "postgresql://") {
		return "postgres"
	}
	return "sqlite"
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
