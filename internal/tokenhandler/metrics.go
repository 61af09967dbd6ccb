package tokenhandler

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics counts the agent's calls and the proxy's decisions. Labels
// are the app, the endpoint ("login_start", ..., "proxy") and the
// outcome ("ok" or a Problem's outcome); never anything a client sent.
type metrics struct {
	requests *prometheus.CounterVec
	// proxy holds the proxy's counters, resolved once: it runs on every
	// API call.
	proxy map[string]prometheus.Counter
}

var proxyOutcomes = []string{"ok", "origin", "csrf", "session_expired", "ambiguous"}

// newMetrics registers the counter on reg, or reuses the one registered
// by another app's handler or by a previous build of this one (a
// gateway reload). A nil reg counts without exporting.
func newMetrics(reg prometheus.Registerer, app string) (*metrics, error) {
	cv := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portcullis_tokenhandler_requests_total",
		Help: "Token handler calls by app, endpoint (proxy for API calls with cookies) and outcome.",
	}, []string{"app", "endpoint", "outcome"})
	if reg != nil {
		if err := reg.Register(cv); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, fmt.Errorf("tokenhandler: register metrics: %w", err)
			}
			existing, ok := are.ExistingCollector.(*prometheus.CounterVec)
			if !ok {
				return nil, fmt.Errorf("tokenhandler: register metrics: %w", err)
			}
			cv = existing
		}
	}
	m := &metrics{requests: cv, proxy: map[string]prometheus.Counter{}}
	for _, o := range proxyOutcomes {
		m.proxy[o] = cv.WithLabelValues(app, "proxy", o)
	}
	return m, nil
}
