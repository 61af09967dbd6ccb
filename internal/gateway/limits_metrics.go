package gateway

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// limitMetrics are the rate-limit collectors, registered with the
// gateway's others (and unregistered with them). Nil when metrics are
// off; every method is then a no-op.
type limitMetrics struct {
	rejected      *prometheus.CounterVec
	blocks        *prometheus.CounterVec
	backendErrors *prometheus.CounterVec
	// allowed and denied are backendErrors' two children.
	allowed, denied prometheus.Counter
}

// counter is a resolved counter child; the zero value counts nothing.
type counter struct{ c prometheus.Counter }

func (c counter) inc() {
	if c.c != nil {
		c.c.Inc()
	}
}

// newLimitMetrics registers the rate-limit collectors on m's registry.
func newLimitMetrics(m *metrics) (*limitMetrics, error) {
	if m == nil {
		return nil, nil
	}
	lm := &limitMetrics{
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_gateway_ratelimit_rejections_total",
			Help: "Requests refused by a rate limit or quota, by limit name (a request refused by two limits counts for both).",
		}, []string{"limit"}),
		blocks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_gateway_abuse_blocks_total",
			Help: "Clients or users blocked by an abuse rule, by rule.",
		}, []string{"rule"}),
		backendErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_gateway_ratelimit_backend_errors_total",
			Help: "Requests whose limits the backend could not decide, by outcome (denied: refused with 503; allowed: passed on their on_backend_error).",
		}, []string{"outcome"}),
	}
	cs := []prometheus.Collector{lm.rejected, lm.blocks, lm.backendErrors}
	for i, c := range cs {
		if err := m.reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				m.reg.Unregister(done)
			}
			return nil, fmt.Errorf("register rate-limit metrics: %w", err)
		}
	}
	m.all = append(m.all, cs...)
	lm.allowed = lm.backendErrors.WithLabelValues("allowed")
	lm.denied = lm.backendErrors.WithLabelValues("denied")
	return lm, nil
}

func (m *limitMetrics) rejectedBy(limit string) counter {
	if m == nil {
		return counter{}
	}
	return counter{m.rejected.WithLabelValues(limit)}
}

func (m *limitMetrics) blocksBy(rule string) counter {
	if m == nil {
		return counter{}
	}
	return counter{m.blocks.WithLabelValues(rule)}
}

func (m *limitMetrics) backendError(allowed bool) {
	switch {
	case m == nil:
	case allowed:
		m.allowed.Inc()
	default:
		m.denied.Inc()
	}
}
