package gateway

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the gateway's Prometheus collectors.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	waf      *wafMetrics
	// validation counts requests that broke their contract (validate.go).
	validation *prometheus.CounterVec
	// fields counts what response field rules did (fieldrules.go).
	fields *prometheus.CounterVec
	// responseValidation counts broken answers (validate_response.go).
	responseValidation *prometheus.CounterVec
	// reqsig counts signed-request checks (reqsig.go).
	reqsig *prometheus.CounterVec
	// dpop counts DPoP checks and refusals (dpop_metrics.go).
	dpop *prometheus.CounterVec
	// mtls counts certificate-binding checks (mtls_metrics.go).
	mtls *prometheus.CounterVec
	// reg and all are for unregister.
	reg prometheus.Registerer
	all []prometheus.Collector
}

// latencyBuckets resolve the sub-millisecond range a gateway lives in.
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// newMetrics registers the gateway's collectors on reg; nil registers
// nothing. Token cache and key refresh counters are read from the current
// issuers (and those reloads retired) at scrape time.
func newMetrics(reg prometheus.Registerer, g *Gateway) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_gateway_requests_total",
			Help: "Requests through the gateway by API, API version, operation, status code and decision.",
		}, []string{"api", "version", "operation", "code", "decision"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "portcullis_gateway_request_duration_seconds",
			Help:    "Time from receiving a request to finishing its response, by API, API version and operation.",
			Buckets: latencyBuckets,
		}, []string{"api", "version", "operation"}),
	}
	m.waf = newWAFMetrics()
	cs := []prometheus.Collector{m.requests, m.duration}
	cs = append(cs, m.waf.collectors()...)
	m.validation = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portcullis_gateway_validation_failures_total",
		Help: "Requests that broke their operation's contract, by API, API version, operation and validation mode (enforce: refused; report: let through).",
	}, []string{"api", "version", "operation", "mode"})
	cs = append(cs, m.validation)
	m.fields = newFieldMetrics()
	cs = append(cs, m.fields)
	m.reqsig = newRequestSignatureMetrics()
	cs = append(cs, m.reqsig)
	m.dpop = newDPoPMetrics()
	cs = append(cs, m.dpop)
	m.mtls = newMTLSMetrics()
	cs = append(cs, m.mtls)
	m.responseValidation = newResponseValidationMetrics()
	cs = append(cs, m.responseValidation)
	for _, kind := range []string{"opaque", "split"} {
		cs = append(cs,
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name:        "portcullis_gateway_token_cache_hits_total",
				Help:        "Resolved-token cache hits (positive and negative), by token kind.",
				ConstLabels: prometheus.Labels{"kind": kind},
			}, func() float64 { h, _ := g.tokenCacheCounts(kind); return float64(h) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name:        "portcullis_gateway_token_cache_misses_total",
				Help:        "Resolved-token cache misses, by token kind.",
				ConstLabels: prometheus.Labels{"kind": kind},
			}, func() float64 { _, mi := g.tokenCacheCounts(kind); return float64(mi) }))
	}
	cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "portcullis_gateway_jwks_refreshes_total",
		Help: "Successful fetches of issuers' key sets.",
	}, func() float64 { return float64(g.keyRefreshes()) }))
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	m.reg, m.all = reg, cs
	return m, nil
}

// unregister removes the collectors again (a gateway that failed to
// build must not hold the names).
func (m *metrics) unregister() {
	if m == nil {
		return
	}
	for _, c := range m.all {
		m.reg.Unregister(c)
	}
}

// opMetrics are one operation's children, resolved when the table is
// built so a request does no label lookup: the duration observer, and the
// counters by (code, decision), added copy-on-write as new pairs appear.
// An API's versions are served side by side (a deprecated one beside its
// successor), so the version is a label of its own: each version has its
// series, and a sum by api still gives the API's total.
type opMetrics struct {
	api, version, op string
	vec              *prometheus.CounterVec
	duration         prometheus.Observer
	counters         atomic.Pointer[map[uint32]prometheus.Counter]
	mu               sync.Mutex
	// waf counts the WAF's refusals (waf.go).
	waf *wafMetrics
	// validation counts contract failures (validate.go).
	validation *prometheus.CounterVec
	// fields counts field rules' work (fieldrules.go).
	fields *prometheus.CounterVec
	// responseValidation counts broken answers (validate_response.go).
	responseValidation *prometheus.CounterVec
	// reqsig counts signed-request checks (reqsig.go).
	reqsig *prometheus.CounterVec
	// dpop counts DPoP checks (dpop_metrics.go).
	dpop *prometheus.CounterVec
	// mtls counts certificate-binding checks (mtls_metrics.go).
	mtls *prometheus.CounterVec
}

// forOp returns the children for an operation of an API version (""
// for requests that matched none); nil when metrics are off.
func (m *metrics) forOp(api, version, op string) *opMetrics {
	if m == nil {
		return nil
	}
	o := &opMetrics{api: api, version: version, op: op, vec: m.requests, duration: m.duration.WithLabelValues(api, version, op), waf: m.waf, validation: m.validation}
	o.fields = m.fields
	o.reqsig = m.reqsig
	o.dpop = m.dpop
	o.mtls = m.mtls
	o.responseValidation = m.responseValidation
	counters := map[uint32]prometheus.Counter{}
	// The pairs nearly every operation sees, resolved up front.
	for _, p := range []struct {
		code int
		d    decision
	}{
		{200, decisionAllow}, {401, decisionDenyToken}, {403, decisionDenyScope}, {404, decisionNotFound},
	} {
		counters[counterKey(p.code, p.d)] = m.requests.WithLabelValues(api, version, op, strconv.Itoa(p.code), p.d.String())
	}
	o.counters.Store(&counters)
	return o
}

func counterKey(code int, d decision) uint32 { return uint32(d)<<16 | uint32(code)&0xffff }

// observe counts one finished request.
func (o *opMetrics) observe(code int, d decision, seconds float64) {
	if o == nil {
		return
	}
	c, ok := (*o.counters.Load())[counterKey(code, d)]
	if !ok {
		c = o.add(code, d)
	}
	c.Inc()
	o.duration.Observe(seconds)
}

func (o *opMetrics) add(code int, d decision) prometheus.Counter {
	o.mu.Lock()
	defer o.mu.Unlock()
	old := *o.counters.Load()
	k := counterKey(code, d)
	if c, ok := old[k]; ok {
		return c
	}
	c := o.vec.WithLabelValues(o.api, o.version, o.op, strconv.Itoa(code), d.String())
	next := make(map[uint32]prometheus.Counter, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[k] = c
	o.counters.Store(&next)
	return c
}

// validationFailures returns the operation's counter of contract
// failures in mode, resolved once when its chain is built; nil when
// metrics are off.
func (o *opMetrics) validationFailures(mode string) prometheus.Counter {
	if o == nil || o.validation == nil {
		return nil
	}
	return o.validation.WithLabelValues(o.api, o.version, o.op, mode)
}
