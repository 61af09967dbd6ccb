// Command portcullis is the Portcullis binary: the authorization server
// and the API gateway (serve, demo) and the management commands (migrate,
// clients, users, keys, apis). It only parses the command line;
// internal/cli does the work.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/portcullis/portcullis/internal/cli"
)

func main() {
	// SIGINT and SIGTERM cancel ctx, which shuts the server down
	// gracefully; a second signal kills the process as usual.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	rt := cli.StdRuntime()
	var c cli.CLI
	kctx := kong.Parse(&c, cli.KongOptions(ctx, rt)...)
	err := kctx.Run()
	stop()
	kctx.FatalIfErrorf(err)
}
