package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/asynclog"
	"github.com/portcullis/portcullis/internal/tracing"
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
// portcullis_gateway_access_log_dropped_total. With traced, each line
// carries the trace and span ids of its request.
func newAccessLog(logger *slog.Logger, reg prometheus.Registerer, traced bool) (*accessLog, error) {
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
	var front slog.Handler = h
	if traced {
		// In front of the queue: the writer goroutine never sees the
		// request's context, so the ids are read before the line queues.
		front = tracing.LogHandler(h)
	}
	return &accessLog{logger: slog.New(front), h: h, stop: stop}, nil
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
