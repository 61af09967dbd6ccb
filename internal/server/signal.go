package server

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/portcullis/portcullis/internal/config"
)

// watchInterval is how often a watched configuration file is checked for
// changes; polling keeps the binary free of platform-specific watchers.
const watchInterval = 2 * time.Second

// NotifyReload starts catching SIGHUP for ReloadOnSignal; stop undoes it.
func NotifyReload() (hup <-chan os.Signal, stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	return ch, func() { signal.Stop(ch) }
}

// ReloadOnSignal re-reads path on SIGHUP (and, when watch is set,
// when the file changes) and swaps the gateway's route table. An invalid
// file is logged with its line-numbered error and the running table keeps
// serving. Only the gateway section is reloaded; other sections need a
// restart. It runs on every node, whatever its roles: Go's default for
// SIGHUP is to exit, and an operator sends it to every `serve`; a node
// without the gateway role logs that it has nothing to reload.
//
// hup comes from NotifyReload, called before the node starts: from then
// on a SIGHUP is caught rather than fatal, so one sent while the node is
// starting (or right after it answers its probes) waits for the loop.
func ReloadOnSignal(ctx context.Context, r *Running, hup <-chan os.Signal, path string, watch bool, logger *slog.Logger) {
	if r.GatewayURL == "" {
		watch = false
	}
	var tick <-chan time.Time
	lastMod := modTime(path)
	if watch {
		t := time.NewTicker(watchInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.Done():
			return
		case <-hup:
			if r.GatewayURL == "" {
				logger.Info("SIGHUP: nothing to reload on a node without the gateway role")
				continue
			}
			reloadGateway(ctx, r, path, "SIGHUP", logger)
			lastMod = modTime(path)
		case <-tick:
			if m := modTime(path); !m.Equal(lastMod) {
				lastMod = m
				reloadGateway(ctx, r, path, "file changed", logger)
			}
		}
	}
}

func reloadGateway(ctx context.Context, r *Running, path, why string, logger *slog.Logger) {
	cfg, err := config.Load(path)
	if err == nil {
		err = r.ReloadGateway(ctx, cfg.Gateway)
	}
	if err != nil {
		logger.Error("gateway configuration refused; the previous one keeps serving", "trigger", why, "err", err)
		return
	}
	logger.Info("gateway configuration reloaded", "trigger", why, "apis", len(cfg.Gateway.APIs))
}

func modTime(path string) time.Time {
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}
