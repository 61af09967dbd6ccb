package oauth

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's Prometheus collectors. Label values come from a
// fixed set (endpoint names, grant types, outcomes), never from a client,
// so cardinality stays bounded.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	issued   *prometheus.CounterVec
	refused  *prometheus.CounterVec
	// dpopRefused counts DPoP proofs refused at the token endpoint, and
	// bound grants redeemed without their key, by a reason from a fixed
	// set (dpopReason, requireKey).
	dpopRefused *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_authz_requests_total",
			Help: "Requests to the authorization server by endpoint and status code.",
		}, []string{"endpoint", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "portcullis_authz_request_duration_seconds",
			Help:    "Latency of the authorization server by endpoint.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}, []string{"endpoint"}),
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_authz_tokens_issued_total",
			Help: "Tokens issued by grant type and token kind (access format, refresh, id).",
		}, []string{"grant_type", "kind"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_authz_errors_total",
			Help: "OAuth error responses by endpoint and RFC error code.",
		}, []string{"endpoint", "error"}),
		dpopRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_authz_dpop_refused_total",
			Help: "DPoP proofs refused at the token endpoint, and DPoP-bound codes and refresh tokens redeemed without their key, by reason.",
		}, []string{"reason"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.duration, m.issued, m.refused, m.dpopRefused)
	}
	return m
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (m *metrics) instrument(endpoint string, h http.HandlerFunc) http.Handler {
	dur := m.duration.WithLabelValues(endpoint)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		h(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		dur.Observe(time.Since(start).Seconds())
		m.requests.WithLabelValues(endpoint, strconv.Itoa(rec.status)).Inc()
	})
}
