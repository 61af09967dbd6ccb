package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/contract"
)

// responseStep checks the upstream's answers against the operation's
// response schemas (the OpenAPI document's responses, or the
// operation's own response_schemas): a JSON answer of a status with a
// schema is held, up to a bound, and checked before its first byte goes
// out. In enforce mode an answer that breaks the contract becomes the
// gateway's 502 and no byte of it reaches the client; in report mode it
// passes unchanged and is counted and logged. What broke goes to the
// access log, never to the client.
//
// It is the chain's innermost step, so it sees the answer as the proxy
// writes it: after the response filter (hop-by-hop and backend headers
// removed, a 5xx body already replaced) and before any outer step's
// header edits.
type responseStep struct {
	answers *contract.Responses
	report  bool
	mode    string
	// limit bounds the answer held (validation.response_max_body_bytes).
	limit int64
	// failures count broken answers by why; nil when metrics are off.
	failures [answerReasons]prometheus.Counter
	next     http.Handler
}

// answerReason is why an answer was refused or let through unchecked.
type answerReason uint8

const (
	// answerContract: a schema violation, a body that is not JSON for a
	// JSON type, a content type the status does not declare.
	answerContract answerReason = iota
	// answerTooLarge: over the bound; never read whole.
	answerTooLarge
	// answerEncoded: a content coding the gateway did not ask for
	// (it asks the upstream for gzip itself and decodes it).
	answerEncoded
	answerReasons
)

var answerReasonNames = [answerReasons]string{"contract", "too_large", "encoded"}

// answerLogReasons are ex.reason when an answer is refused.
var answerLogReasons = [answerReasons]string{
	"response breaks the contract",
	"response too large to check",
	"response content coding not checkable",
}

// newValidateResponse builds the response validation step. An operation
// whose answers have no schema, or whose response validation is off,
// gets next itself: its answers stream untouched.
func newValidateResponse(c *stepConfig, next http.Handler) (http.Handler, error) {
	av := c.api.validation
	// A WebSocket operation's answer is the upgrade: nothing to check.
	if av == nil || c.op.websocket {
		return next, nil
	}
	var (
		ov      *catalog.OperationValidation
		answers *contract.Responses
		err     error
	)
	if c.opCfg != nil {
		ov = c.opCfg.Validation
	}
	if c.opCfg != nil && !c.imported {
		answers, err = ov.ResponseContract()
	} else if op := av.doc.Operation(c.op.method, c.op.pattern.raw); op != nil {
		// An imported operation's answers are its document's.
		answers = op.Responses
		if op.ResponsesErr != nil {
			err = fmt.Errorf("openapi responses (validation.response: off skips them): %w", op.ResponsesErr)
		}
	}
	mode := catalog.ResponseMode(av.cfg, ov, answers.HasSchema() || err != nil)
	switch {
	case mode == catalog.ValidationOff:
		return next, nil
	case err != nil:
		return nil, err
	case !answers.HasSchema():
		return next, nil
	}
	s := &responseStep{answers: answers, report: mode == catalog.ValidationReport, mode: mode,
		limit: av.cfg.ResponseLimit(), next: next}
	for i := range s.failures {
		s.failures[i] = c.op.metrics.responseValidationFailures(mode, answerReasonNames[i])
	}
	return s, nil
}

func (s *responseStep) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodHead {
		s.next.ServeHTTP(w, r)
		return
	}
	// Without the client's Accept-Encoding the transport asks for gzip
	// itself and decompresses, so the check reads the JSON as sent.
	delete(r.Header, "Accept-Encoding")
	h := heldAnswers.Get().(*heldAnswer)
	h.w, h.s, h.ex = w, s, exchangeOf(w)
	defer func() {
		if h.state == answerRefused {
			// Refusing an answer fails the proxy's copy, and the proxy
			// aborts the handler for a failed copy (under a server;
			// without one it returns): that abort is this step's own,
			// and the refusal is answered here instead.
			if p := recover(); p != nil && p != http.ErrAbortHandler {
				panic(p)
			}
			h.refuse()
		}
		h.reset()
		heldAnswers.Put(h)
	}()
	s.next.ServeHTTP(h, r)
	h.finish()
}

// count records a broken answer: the metric, and for the access log.
func (s *responseStep) count(ex *exchange, status int, why answerReason, vs []contract.Violation) {
	if c := s.failures[why]; c != nil {
		c.Inc()
	}
	ex.response = responseOutcome{mode: s.mode, status: status, reason: why, violations: vs}
}

// answerState is where a held answer is.
type answerState uint8

const (
	// answerNew: no status yet.
	answerNew answerState = iota
	// answerPassing: written through as it comes.
	answerPassing
	// answerHolding: a JSON answer gathered to be checked.
	answerHolding
	// answerPending: an answer that breaks the contract if it has a
	// body (pending says why); its head waits for the first byte.
	answerPending
	// answerRefused: the client gets the gateway's 502.
	answerRefused
)

// errAnswerRefused stops the proxy's copy of a refused answer, so that
// an answer that will not be sent is not read to its end either.
var errAnswerRefused = errors.New("gateway: answer refused by response validation")

// heldAnswer is the response writer the proxy writes an answer to: it
// holds the upstream's head and, for an answer to check, its body, and
// lets them out only once the answer is known to pass. Pooled.
type heldAnswer struct {
	w  http.ResponseWriter
	s  *responseStep
	ex *exchange

	state  answerState
	status int
	// header is the upstream's head as the proxy copies it; trailer
	// takes what the proxy adds once the head is held (trailers).
	header, trailer http.Header
	media           contract.Media
	pending         answerReason
	pendingVs       []contract.Violation
	body            []byte
}

var heldAnswers = sync.Pool{New: func() any { return &heldAnswer{header: http.Header{}} }}

// maxPooledBody is the largest body buffer kept for the next answer.
const maxPooledBody = 64 << 10

func (h *heldAnswer) reset() {
	clear(h.header)
	if len(h.trailer) > 0 {
		clear(h.trailer)
	}
	body := h.body[:0]
	if cap(body) > maxPooledBody {
		body = nil
	}
	*h = heldAnswer{header: h.header, trailer: h.trailer, body: body}
}

// Header is the upstream's head until it is let out, then the client's.
func (h *heldAnswer) Header() http.Header {
	switch h.state {
	case answerNew:
		return h.header
	case answerPassing:
		return h.w.Header()
	}
	if h.trailer == nil {
		h.trailer = http.Header{}
	}
	return h.trailer
}

// WriteHeader decides, from the status and the head, whether the answer
// passes as it comes, is held to be checked, or breaks the contract as
// soon as it has a body.
func (h *heldAnswer) WriteHeader(code int) {
	if h.state != answerNew {
		return
	}
	if code < 200 {
		h.informational(code)
		return
	}
	h.status = code
	s := h.s
	// RFC 9110 §15.3.5, §15.3.7, §15.4.5: no content, or a part of it;
	// a 5xx body is the gateway's already (upstream_errors) or passed
	// on purpose.
	if code >= 500 || code == http.StatusNoContent || code == http.StatusResetContent ||
		code == http.StatusPartialContent || code == http.StatusNotModified {
		h.pass()
		return
	}
	answer := s.answers.For(code)
	if answer == nil {
		h.pass()
		return
	}
	ct := h.header.Get("Content-Type")
	h.media = answer.Media(ct)
	switch {
	case !h.media.Declared:
		h.pend(answerContract, []contract.Violation{contract.Undeclared(ct)})
	case !h.media.JSON:
		h.pass()
	case encoded(h.header):
		h.pend(answerEncoded, nil)
	default:
		n, err := strconv.ParseInt(h.header.Get("Content-Length"), 10, 64)
		if err == nil && n > s.limit {
			h.pend(answerTooLarge, nil)
			return
		}
		h.state = answerHolding
		if err == nil && n > int64(cap(h.body)) {
			h.body = make([]byte, 0, n)
		}
	}
}

// encoded reports a content coding other than identity.
func encoded(h http.Header) bool {
	ce := h["Content-Encoding"]
	return len(ce) > 0 && !strings.EqualFold(strings.TrimSpace(ce[0]), "identity")
}

func (h *heldAnswer) pend(why answerReason, vs []contract.Violation) {
	h.state, h.pending, h.pendingVs = answerPending, why, vs
}

// pass lets the head out and the body through as it comes.
func (h *heldAnswer) pass() {
	dst := h.w.Header()
	for k, v := range h.header {
		// Added, as the proxy adds: a step may have set some already.
		// Otherwise the slice moves over: the held head only forgets it.
		if len(dst[k]) == 0 {
			dst[k] = v
		} else {
			dst[k] = append(dst[k], v...)
		}
	}
	h.state = answerPassing
	h.w.WriteHeader(h.status)
}

// informational forwards a 1xx answer (RFC 9110 §15.2: a proxy forwards
// them) with its own head only; the proxy clears that head after.
func (h *heldAnswer) informational(code int) {
	dst := h.w.Header()
	before := make(map[string][]string, len(h.header))
	for k, v := range h.header {
		before[k] = dst[k]
		dst[k] = append(dst[k][:len(dst[k]):len(dst[k])], v...)
	}
	h.w.WriteHeader(code)
	for k, v := range before {
		if v == nil {
			delete(dst, k)
		} else {
			dst[k] = v
		}
	}
}

func (h *heldAnswer) Write(b []byte) (int, error) {
	if h.state == answerNew {
		h.WriteHeader(http.StatusOK)
	}
	switch h.state {
	case answerPassing:
		return h.w.Write(b)
	case answerHolding:
		if int64(len(h.body)+len(b)) <= h.s.limit {
			h.body = append(h.body, b...)
			return len(b), nil
		}
		h.pend(answerTooLarge, nil)
		return h.broken(b)
	case answerPending:
		if len(b) == 0 {
			return 0, nil
		}
		return h.broken(b)
	}
	return 0, errAnswerRefused
}

// broken settles a pending answer at its first byte past what was
// held: refused in enforce mode, counted and let through in report mode.
func (h *heldAnswer) broken(b []byte) (int, error) {
	h.s.count(h.ex, h.status, h.pending, h.pendingVs)
	if !h.s.report {
		h.state = answerRefused
		return 0, errAnswerRefused
	}
	h.release()
	return h.w.Write(b)
}

// release lets out a held head and what was gathered of the body.
func (h *heldAnswer) release() {
	h.pass()
	if len(h.body) > 0 {
		_, _ = h.w.Write(h.body)
	}
}

// finish settles the answer once the proxy is done: a held one is
// checked, then let out or refused.
func (h *heldAnswer) finish() {
	switch h.state {
	case answerPending:
		// No body came: nothing broke.
		h.pass()
	case answerHolding:
		if len(h.body) > 0 {
			if vs := h.media.Check(h.body); vs != nil {
				h.s.count(h.ex, h.status, answerContract, vs)
				if !h.s.report {
					h.state = answerRefused
					return
				}
			}
		}
		h.release()
		if len(h.trailer) > 0 {
			// As the proxy does: flushing commits to chunking, and what
			// is set after the head goes out is a trailer.
			_ = http.NewResponseController(h.w).Flush()
			dst := h.w.Header()
			for k, v := range h.trailer {
				dst[k] = append(dst[k], v...)
			}
		}
	}
}

// refuse answers 502 for an answer that is not let out; the upstream's
// head and body are dropped.
func (h *heldAnswer) refuse() {
	h.ex.reason = answerLogReasons[h.ex.response.reason]
	h.ex.problem(problemBadGateway, decisionBadGateway)
}

// FlushError flushes what passes through; a held answer has nothing to
// flush yet.
func (h *heldAnswer) FlushError() error {
	if h.state != answerPassing {
		return nil
	}
	return http.NewResponseController(h.w).Flush()
}

// Flush implements http.Flusher.
func (h *heldAnswer) Flush() { _ = h.FlushError() }

// Unwrap lets exchangeOf and http.ResponseController reach the
// exchange (deadlines).
func (h *heldAnswer) Unwrap() http.ResponseWriter { return h.w }

// responseOutcome is what response validation found, for the access
// log; mode is empty when the answer broke nothing.
type responseOutcome struct {
	mode       string
	status     int
	reason     answerReason
	violations []contract.Violation
}

// attr is the access log's "response_validation" group: the mode, the
// upstream's status, why, and at most contract.MaxViolations violations
// (JSON pointers into the answer, messages that quote at most an excerpt
// of it). An empty attribute when nothing broke.
func (o *responseOutcome) attr() slog.Attr {
	if o.mode == "" {
		return slog.Attr{}
	}
	attrs := []slog.Attr{
		slog.String("mode", o.mode),
		slog.Int("status", o.status),
		slog.String("reason", answerReasonNames[o.reason]),
	}
	if len(o.violations) > 0 {
		attrs = append(attrs, slog.Any("violations", o.violations))
	}
	return slog.Attr{Key: "response_validation", Value: slog.GroupValue(attrs...)}
}

// newResponseValidationMetrics is the counter of answers that broke
// their operation's contract.
func newResponseValidationMetrics() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portcullis_gateway_response_validation_failures_total",
		Help: "Upstream answers that broke their operation's response schemas, by API, API version, operation, mode (enforce: refused with 502; report: let through) and reason (contract, too_large, encoded).",
	}, []string{"api", "version", "operation", "mode", "reason"})
}

// responseValidationFailures returns the operation's counter of broken
// answers in mode for reason, resolved when its chain is built; nil when
// metrics are off.
func (o *opMetrics) responseValidationFailures(mode, reason string) prometheus.Counter {
	if o == nil || o.responseValidation == nil {
		return nil
	}
	return o.responseValidation.WithLabelValues(o.api, o.version, o.op, mode, reason)
}
