package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/asynclog"
)

// accessLogDrainTimeout bounds how long shutdown waits for queued access
// log lines to be written.
const accessLogDrainTimeout = 2 * time.Second

// accessLog is the gateway's asynchronous access logger: request
// goroutines queue their line and return, one goroutine writes. Its writer
// outlives the listeners (it stops in close, after the last request), so
// the lines of requests finished during a graceful shutdown are kept.
type accessLog struct {
	logger *slog.Logger
	h      *asynclog.Handler
	stop   context.CancelFunc
}

// newAccessLog writes through logger's handler and counts dropped lines in
// portcullis_gateway_access_log_dropped_total.
func newAccessLog(logger *slog.Logger, reg prometheus.Registerer) (*accessLog, error) {
	dropped := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "portcullis_gateway_access_log_dropped_total",
		Help: "Access log lines dropped because the log output could not keep up.",
	})
	if err := reg.Register(dropped); err != nil {
		return nil, err
	}
	// Not the run context: the writer must drain after the listeners stop.
	ctx, stop := context.WithCancel(context.Background())
	h := asynclog.New(ctx, logger.Handler(), 0, dropped.Inc)
	return &accessLog{logger: slog.New(h), h: h, stop: stop}, nil
}

// close writes what is queued, waiting at most accessLogDrainTimeout.
func (a *accessLog) close() {
	if a == nil {
		return
	}
	a.stop()
	select {
	case <-a.h.Done():
	case <-time.After(accessLogDrainTimeout):
	}
}
