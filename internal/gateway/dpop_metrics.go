package gateway

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// dpopResult is what became of a request's DPoP check, for the access
// log; zero when there was none to make (a Bearer token not bound).
type dpopResult uint8

const (
	dpopNoCheck dpopResult = iota
	dpopVerified
	dpopRefused
	dpopUnavailableResult
)

var dpopResultNames = [...]string{
	dpopNoCheck:           "",
	dpopVerified:          resultVerified,
	dpopRefused:           resultRefused,
	dpopUnavailableResult: resultUnavailable,
}

// dpopOutcome is a request's DPoP check, for the access log.
type dpopOutcome struct {
	result dpopResult
	reason dpopReason
}

// attr is the access log's dpop group: result and reason (never the
// proof, the token or the key); empty, and so left out, when no check
// was made.
func (o dpopOutcome) attr() slog.Attr {
	if o.result == dpopNoCheck {
		return slog.Attr{Key: "dpop", Value: slog.GroupValue()}
	}
	if o.reason == dpopReasonNone {
		return slog.Group("dpop", slog.String("result", dpopResultNames[o.result]))
	}
	return slog.Group("dpop", slog.String("result", dpopResultNames[o.result]), slog.String("reason", o.reason.String()))
}

func newDPoPMetrics() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portcullis_gateway_dpop_total",
		Help: "DPoP checks (RFC 9449) by API, API version, operation, result (verified, refused, unavailable) and reason (why it was refused: scheme_off, bearer_scheme, invalid_token, wrong_audience, bound_as_bearer, unbound_token, malformed_cnf, key_mismatch, missing_proof, multiple_proofs, replayed, wrong_htm, wrong_htu, stale_iat, wrong_ath, bad_signature, use_nonce, invalid_proof, unavailable; empty when verified).",
	}, []string{"api", "version", "operation", "result", "reason"})
}

// dpopCounts are an operation's counters; the zero value (metrics off)
// counts nothing. The verified counter is resolved once, so an accepted
// proof does no label lookup; refusals look theirs up, so an operation
// exports only the reasons it has seen.
type dpopCounts struct {
	vec *prometheus.CounterVec // curried with the operation's labels
	ok  prometheus.Counter
}

func newDPoPCounts(o *opMetrics) dpopCounts {
	if o == nil || o.dpop == nil {
		return dpopCounts{}
	}
	vec := o.dpop.MustCurryWith(prometheus.Labels{"api": o.api, "version": o.version, "operation": o.op})
	return dpopCounts{vec: vec, ok: vec.WithLabelValues(resultVerified, "")}
}

func (c dpopCounts) verified() {
	if c.ok != nil {
		c.ok.Inc()
	}
}

func (c dpopCounts) count(result string, r dpopReason) {
	if c.vec != nil {
		c.vec.WithLabelValues(result, r.String()).Inc()
	}
}
