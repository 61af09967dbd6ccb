package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/alecthomas/kong"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/demo"
	"github.com/portcullis/portcullis/internal/server"
)

// Runtime is the process environment a command runs in. main passes the
// real one (StdRuntime); tests pass buffers and a fixed environment.
type Runtime struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// StdinIsTerminal makes password prompts appear (on Stderr).
	StdinIsTerminal bool
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// StdRuntime returns the process's own standard streams and environment.
func StdRuntime() *Runtime {
	tty := false
	if fi, err := os.Stdin.Stat(); err == nil {
		tty = fi.Mode()&os.ModeCharDevice != 0
	}
	return &Runtime{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, StdinIsTerminal: tty}
}

func (rt *Runtime) getenv(key string) string {
	if rt.Getenv == nil {
		return os.Getenv(key)
	}
	return rt.Getenv(key)
}

func (rt *Runtime) now() time.Time {
	if rt.Now == nil {
		return time.Now()
	}
	return rt.Now()
}

// logger is the quiet logger of management commands: their output is the
// result, so only warnings and errors are logged.
func (rt *Runtime) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(rt.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// CLI is the command line grammar of the portcullis binary.
type CLI struct {
	Serve ServeCmd `cmd:"" help:"Run the server with a configuration file."`
	Demo  DemoCmd  `cmd:"" help:"Run everything with the built-in warehouse example and print how to use it."`
	// DemoToken is a command of its own, not "demo token": demo's flags
	// and help stay those of running it.
	DemoToken DemoTokenCmd `cmd:"" name:"demo-token" help:"Sign a user of a running demo in (authorization code flow with PKCE) and print the access token."`
	Migrate   MigrateCmd   `cmd:"" help:"Apply the database migrations and exit."`
	Clients   ClientsCmd   `cmd:"" help:"Manage OAuth clients."`
	Users     UsersCmd     `cmd:"" help:"Manage end users."`
	Keys      KeysCmd      `cmd:"" help:"List and rotate signing keys."`
	Rekey     RekeyCmd     `cmd:"" help:"Re-encrypt the store under a new master key ($PORTCULLIS_MASTER_KEY, the old one in $PORTCULLIS_MASTER_KEY_PREVIOUS)."`
	APIs      APIsCmd      `cmd:"" name:"apis" help:"Work with API definitions (OpenAPI import)."`
	Audit     AuditCmd     `cmd:"" help:"Verify and export the audit trail of management changes."`
	Apply     ApplyCmd     `cmd:"" help:"Make the stored API catalog match a document: show the changes, apply them with --yes."`
	Export    ExportCmd    `cmd:"" help:"Write the stored API catalog as a document apply reads back."`
	Config    ConfigCmd    `cmd:"" help:"Check configuration files."`
	Version   VersionCmd   `cmd:"" help:"Print the version, commit and toolchain the binary was built from."`
	Probe     ProbeCmd     `cmd:"" help:"GET a health URL and fail unless it answers 2xx (container health checks without a shell)."`
}

// KongOptions configures the parser of CLI: program name and help, the
// demo directory default, and the bindings (ctx, rt) the commands' Run
// methods receive.
func KongOptions(ctx context.Context, rt *Runtime) []kong.Option {
	return []kong.Option{
		kong.Name("portcullis"),
		kong.Description("Portcullis: OAuth 2.0 / OpenID Connect authorization server and API gateway."),
		kong.UsageOnError(),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
		kong.Vars{"demo_dir": demo.DefaultDir(), "admin_token_env": DefaultTokenEnv},
		kong.Writers(rt.Stdout, rt.Stderr),
		kong.Exit(func(code int) { os.Exit(exitStatus(code)) }),
		kong.BindTo(ctx, (*context.Context)(nil)),
		kong.Bind(rt),
	}
}

// ExitUsage is the exit status of a command line that does not parse (an
// unknown flag, a missing argument). Kong's own is 80; 2 is what Go's
// flag package and most Unix tools use, so scripts can tell "you called
// it wrong" (2) from "it ran and failed" (1).
const ExitUsage = 2

// exitStatus maps kong's exit codes to the binary's.
func exitStatus(code int) int {
	if code == kongUsageStatus {
		return ExitUsage
	}
	return code
}

// kongUsageStatus is the code kong exits with after a usage error.
const kongUsageStatus = 80

// exitCode is how Execute's parser reports an exit (after --help) without
// ending the process.
type exitCode int

// Execute parses args and runs the command, as main does, but returns
// instead of exiting: tests drive the real command line through it.
func Execute(ctx context.Context, args []string, rt *Runtime) (err error) {
	var cli CLI
	opts := append(KongOptions(ctx, rt), kong.Exit(func(code int) { panic(exitCode(code)) }))
	parser, err := kong.New(&cli, opts...)
	if err != nil {
		return fmt.Errorf("command line grammar: %w", err)
	}
	defer func() {
		if v := recover(); v != nil {
			code, ok := v.(exitCode)
			if !ok {
				panic(v)
			}
			if code := exitStatus(int(code)); code != 0 {
				err = fmt.Errorf("exit status %d", code)
			}
		}
	}()
	kctx, err := parser.Parse(args)
	if err != nil {
		return err
	}
	return kctx.Run()
}

// ServeCmd runs the server.
type ServeCmd struct {
	Config string   `help:"Configuration file." type:"existingfile" required:"" placeholder:"FILE"`
	Roles  []string `help:"Listeners to run: authz, gateway, admin (comma-separated; default all)." placeholder:"ROLES"`
}

// Run starts the server and blocks until ctx is cancelled (SIGINT/SIGTERM)
// or a listener fails.
func (c *ServeCmd) Run(ctx context.Context, rt *Runtime) error {
	roles, err := server.ParseRoles(c.Roles)
	if err != nil {
		return err
	}
	cfg, err := config.Load(c.Config)
	if err != nil {
		return err
	}
	logger, err := server.NewLogger(rt.Stderr, cfg.Log)
	if err != nil {
		return err
	}
	// SIGHUP is caught from before the start: Go's default for it is to
	// exit, and a reload sent as the node comes up must not kill it.
	hup, stopHUP := server.NotifyReload()
	defer stopHUP()
	r, err := server.Start(ctx, cfg, logger, server.WithRoles(roles...), server.WithGetenv(rt.getenv))
	if err != nil {
		return err
	}
	go server.ReloadOnSignal(ctx, r, hup, c.Config, cfg.Gateway.Watch, logger.With("component", "reload"))
	return r.Wait()
}

// DemoTokenCmd signs a demo user in headlessly.
type DemoTokenCmd struct {
	Data   string   `help:"Data directory of the running demo (default ${default})." default:"${demo_dir}" type:"path" placeholder:"DIR"`
	User   string   `help:"The demo user who signs in (see demo.json)." required:"" placeholder:"USERNAME"`
	Client string   `help:"The client the user signs in to: clinic-app (default) or warehouse-web." placeholder:"CLIENT_ID"`
	Scope  []string `help:"Scopes to ask for (default: all the client may ask for)." placeholder:"SCOPE"`
}

// Run prints the access token alone on a line, so a shell can capture it.
func (c *DemoTokenCmd) Run(ctx context.Context, rt *Runtime) error {
	tok, err := demo.Token(ctx, demo.TokenOptions{Dir: c.Data, User: c.User, Client: c.Client, Scopes: c.Scope})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(rt.Stdout, tok)
	return err
}

// MigrateCmd applies the migrations.
type MigrateCmd struct {
	Source `embed:""`
}

// Run opens the store, which migrates it, and reports the dialect.
func (c *MigrateCmd) Run(ctx context.Context, rt *Runtime) error {
	return withInstallation(ctx, c.Source, rt, func(in *server.Installation) error {
		_, err := fmt.Fprintf(rt.Stdout, "migrations applied (%s)\n", in.Dialect())
		return err
	})
}

// DemoCmd runs the warehouse demo.
type DemoCmd struct {
	Data        string `help:"Data directory, reused across runs (default ${default})." default:"${demo_dir}" type:"path" placeholder:"DIR"`
	AuthzAddr   string `help:"Listen address of the authorization server (default ${default})." default:"127.0.0.1:8080" placeholder:"ADDR"`
	AdminAddr   string `help:"Listen address of /healthz, /readyz and /metrics (default ${default})." default:"127.0.0.1:8081" placeholder:"ADDR"`
	GatewayAddr string `help:"Listen address of the API gateway (default ${default})." default:"127.0.0.1:8000" placeholder:"ADDR"`
	BackendAddr string `help:"Listen address of the demo's warehouse backend, loopback (default ${default})." default:"127.0.0.1:9000" placeholder:"ADDR"`
	SPAAddr     string `name:"spa-addr" help:"Listen address of the demo's warehouse single-page app, loopback; its origin is the token handler's (default ${default})." default:"127.0.0.1:5173" placeholder:"ADDR"`
	Issuer      string `help:"Issuer URL (default http://AUTHZ-ADDR)." placeholder:"URL"`
}

// Run starts the demo, prints the quick-start and blocks until ctx is
// cancelled.
func (c *DemoCmd) Run(ctx context.Context, rt *Runtime) error {
	r, _, err := demo.Start(ctx, demo.Options{
		Dir:         c.Data,
		AuthzAddr:   c.AuthzAddr,
		AdminAddr:   c.AdminAddr,
		GatewayAddr: c.GatewayAddr,
		BackendAddr: c.BackendAddr,
		SPAAddr:     c.SPAAddr,
		Issuer:      c.Issuer,
	}, demo.Env{Stdout: rt.Stdout, Stderr: rt.Stderr, Now: rt.now})
	if err != nil {
		return err
	}
	return r.Wait()
}
