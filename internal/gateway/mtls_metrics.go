package gateway

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// checkResult is what became of a request's certificate-binding check,
// for the access log; zero when there was none to make (an unbound
// token where one is allowed).
type checkResult uint8

const (
	checkNone checkResult = iota
	checkVerified
	checkRefused
)

var checkResultNames = [...]string{
	checkNone:     "",
	checkVerified: resultVerified,
	checkRefused:  resultRefused,
}

// mtlsOutcome is a request's certificate-binding check (mtls.go), for
// the access log.
type mtlsOutcome struct {
	result checkResult
	reason mtlsReason
}

// attr is the access log's mtls group: result and reason (never the
// token, the certificate or its thumbprint); empty, and so left out,
// when no check was made. With the dpop group it says what a token was
// bound to.
func (o mtlsOutcome) attr() slog.Attr {
	if o.result == checkNone {
		return slog.Attr{Key: "mtls", Value: slog.GroupValue()}
	}
	if o.reason == mtlsReasonNone {
		return slog.Group("mtls", slog.String("result", checkResultNames[o.result]))
	}
	return slog.Group("mtls", slog.String("result", checkResultNames[o.result]), slog.String("reason", o.reason.String()))
}

func newMTLSMetrics() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portcullis_gateway_mtls_total",
		Help: "Certificate-bound token checks (RFC 8705 §3) by API, API version, operation, result (verified, refused) and reason (why it was refused: no_certificate, certificate_mismatch, unbound_token, malformed_cnf, bad_certificate_header; empty when verified).",
	}, []string{"api", "version", "operation", "result", "reason"})
}

// mtlsCounts are an operation's counters; the zero value (metrics off)
// counts nothing. The verified counter is resolved once, so a matching
// certificate does no label lookup.
type mtlsCounts struct {
	vec *prometheus.CounterVec // curried with the operation's labels
	ok  prometheus.Counter
}

func newMTLSCounts(o *opMetrics) mtlsCounts {
	if o == nil || o.mtls == nil {
		return mtlsCounts{}
	}
	vec := o.mtls.MustCurryWith(prometheus.Labels{"api": o.api, "version": o.version, "operation": o.op})
	return mtlsCounts{vec: vec, ok: vec.WithLabelValues(resultVerified, "")}
}

func (c mtlsCounts) verified() {
	if c.ok != nil {
		c.ok.Inc()
	}
}

func (c mtlsCounts) refused(r mtlsReason) {
	if c.vec != nil {
		c.vec.WithLabelValues(resultRefused, r.String()).Inc()
	}
}
