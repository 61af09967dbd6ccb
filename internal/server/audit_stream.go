package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/config"
)

// auditStream copies the audit trail to the sinks of audit.stream as it
// grows (docs/audit.md). It runs on nodes with the authorization server:
// they hold the store read-write and are where the trail is written.
type auditStream struct {
	follower *audit.Follower
	interval time.Duration
	logger   *slog.Logger
}

// newAuditStream builds the stream cfg's audit.stream asks for, and
// registers its metrics with reg; nil when the section sets no sink.
// Nothing is opened here: the sinks open on the first poll, and one that
// cannot is logged, counted and tried again on every poll.
func newAuditStream(cfg *config.Config, st audit.FollowStore, reg prometheus.Registerer, logger *slog.Logger) (*auditStream, error) {
	sc := cfg.Audit.Stream
	if !sc.Enabled() {
		return nil, nil
	}
	logger = logger.With("component", "audit.stream")
	var sinks []audit.Sink
	if sc.File != "" {
		sinks = append(sinks, audit.NewFileSink(relTo(cfg.BaseDir(), sc.File), logger))
	}
	if s := sc.Syslog; s != nil {
		sinks = append(sinks, audit.NewSyslogSink(audit.SyslogOptions{
			Network: s.Network, Address: s.Address, Tag: s.Tag, Facility: s.FacilityCode(),
		}))
	}
	lastSeq := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "portcullis_audit_stream_last_seq",
		Help: "Seq of the last audit record the stream's sink holds; compare with the trail's head to see it lag.",
	}, []string{"sink"})
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portcullis_audit_stream_errors_total",
		Help: "Failed attempts to open an audit stream sink or write records to it; each is retried from the same record.",
	}, []string{"sink"})
	for _, c := range []prometheus.Collector{lastSeq, errs} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, s := range sinks {
		// Present from the start, so an alert on the rate sees zero.
		errs.WithLabelValues(s.Name())
	}
	interval := time.Duration(sc.Interval)
	if interval <= 0 {
		interval = config.DefaultAuditStreamInterval
	}
	return &auditStream{
		follower: audit.NewFollower(st, sinks, audit.FollowerOptions{
			Logger:   logger,
			Streamed: func(sink string, seq int64) { lastSeq.WithLabelValues(sink).Set(float64(seq)) },
			Failed:   func(sink string, _ error) { errs.WithLabelValues(sink).Inc() },
		}),
		interval: interval,
		logger:   logger,
	}, nil
}

// run polls at once (what was written while the node was down goes out
// at start), then every interval until ctx ends, and closes the sinks.
func (s *auditStream) run(ctx context.Context) {
	defer func() {
		if err := s.follower.Close(); err != nil {
			s.logger.Warn("closing the audit stream failed", "err", err)
		}
	}()
	s.follower.Poll(ctx)
	every(ctx, s.interval, s.follower.Poll)
}
