package gateway

import (
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/waf"
)

// apiWAF is an API's compiled rule sets: the API's own, and one per
// distinct tuning its operations ask for. They are compiled when the
// table is built (tens of milliseconds and ~12 MB each), never per
// request; operations with the same tuning share one.
type apiWAF struct {
	cfg    waf.Config
	detect bool
	base   *waf.WAF
	tuned  map[string]*waf.WAF
}

// newAPIWAF compiles an API's WAF; nil when the API has none.
func newAPIWAF(c *catalog.API) (*apiWAF, error) {
	w := c.WAF
	if w == nil {
		return nil, nil
	}
	a := &apiWAF{
		cfg: waf.Config{
			Paranoia:         w.Paranoia,
			AnomalyThreshold: w.AnomalyThreshold,
			ExcludeRules:     slices.Clone(w.Exclusions),
			InspectResponse:  w.InspectResponse,
			MaxBody:          c.MaxBodyBytes,
		},
		detect: w.Mode == catalog.WAFDetect,
		tuned:  map[string]*waf.WAF{},
	}
	var err error
	if a.base, err = waf.New(a.cfg); err != nil {
		return nil, err
	}
	return a, nil
}

// forOperation returns the rule set for an operation's tuning (nil o:
// the API's); nil when the operation turns inspection off.
func (a *apiWAF) forOperation(o *catalog.OperationWAF) (*waf.WAF, error) {
	if !o.Tuned() {
		return a.base, nil
	}
	if o.Off {
		return nil, nil
	}
	cfg := a.cfg
	cfg.ExcludeRules = slices.Clone(cfg.ExcludeRules)
	for _, id := range o.ExcludeRules {
		if !slices.Contains(cfg.ExcludeRules, id) {
			cfg.ExcludeRules = append(cfg.ExcludeRules, id)
		}
	}
	for _, p := range o.ExcludeParams {
		cfg.ExcludeTargets = append(cfg.ExcludeTargets, waf.TargetExclusion{Rule: p.Rule, Target: p.Target})
	}
	key := tuningKey(cfg)
	if w := a.tuned[key]; w != nil {
		return w, nil
	}
	w, err := waf.New(cfg)
	if err != nil {
		return nil, err
	}
	a.tuned[key] = w
	return w, nil
}

// tuningKey names a tuning regardless of the order it was listed in.
func tuningKey(c waf.Config) string {
	ids := slices.Sorted(slices.Values(c.ExcludeRules))
	var b strings.Builder
	for _, id := range ids {
		b.WriteString(strconv.Itoa(id) + ",")
	}
	b.WriteByte('|')
	targets := make([]string, 0, len(c.ExcludeTargets))
	for _, t := range c.ExcludeTargets {
		targets = append(targets, strconv.Itoa(t.Rule)+" "+t.Target)
	}
	slices.Sort(targets)
	b.WriteString(strings.Join(targets, "\n"))
	return b.String()
}

// wafStep inspects a request with the OWASP Core Rule Set. A request
// that reaches the anomaly threshold is refused with 403 (mode block) or
// logged and counted, and let through (mode detect); either way the
// matched rule ids and the score go to the access log, never to the
// client, who learns only that the request was refused.
//
// With inspect_response it also inspects the answer, through a writer
// that holds it (wafAnswer): an answer that reaches the outbound
// threshold is replaced with the gateway's 502 before a byte of it goes
// out (block), or logged and counted (detect).
type wafStep struct {
	waf    *waf.WAF
	detect bool
	limit  int64
	// answers says the step inspects answers: the API's WAF has
	// inspect_response and the operation is not a WebSocket (whose
	// answer is the upgrade).
	answers bool
	// blocks and detections count by rule; nil when metrics are off.
	blocks, detections *prometheus.CounterVec
	next               http.Handler
}

// newWAF builds the injection inspection step (the OWASP Core Rule Set).
// An operation of an API without a WAF, or one that turns it off,
// returns next.
func newWAF(c *stepConfig, next http.Handler) (http.Handler, error) {
	if c.api.waf == nil {
		return next, nil
	}
	var tuning *catalog.OperationWAF
	if c.opCfg != nil {
		tuning = c.opCfg.WAF
	}
	w, err := c.api.waf.forOperation(tuning)
	if err != nil {
		return nil, err
	}
	if w == nil {
		return next, nil
	}
	s := &wafStep{waf: w, detect: c.api.waf.detect, limit: c.api.maxBody, next: next,
		answers: w.InspectsResponses() && !c.op.websocket}
	if m := c.op.metrics; m != nil && m.waf != nil {
		labels := prometheus.Labels{"api": m.api, "version": m.version}
		s.blocks = m.waf.blocks.MustCurryWith(labels)
		s.detections = m.waf.detections.MustCurryWith(labels)
	}
	return s, nil
}

func (s *wafStep) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ex := exchangeOf(w)
	body, err := readBody(ex, r, s.limit)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			ex.problem(problemTooLarge, decisionTooLarge)
			return
		}
		ex.reason = "request body unreadable"
		ex.problem(problemBadRequest, decisionBadRequest)
		return
	}
	names := ex.op.pattern.names
	v := s.waf.Inspect(waf.Request{
		ID:         ex.id,
		HTTP:       r,
		Body:       body,
		Client:     ex.client,
		PathNames:  names,
		PathValues: ex.params[:len(names)],
	})
	if len(v.Rules) > 0 || v.Interrupted {
		ex.waf = wafOutcome{rules: v.Rules, score: v.Score, interrupted: v.Interrupted, detect: s.detect}
	}
	if v.Interrupted {
		if !s.detect {
			count(s.blocks, v.Rules)
			ex.reason = "waf"
			ex.problem(problemRequestBlocked, decisionDenyWAF)
			return
		}
		count(s.detections, v.Rules)
	}
	if !s.answers {
		s.next.ServeHTTP(w, r)
		return
	}
	s.serveInspected(w, r, ex)
}

// count adds one to each rule's series.
func count(c *prometheus.CounterVec, rules []int) {
	if c == nil {
		return
	}
	for _, id := range rules {
		c.WithLabelValues(strconv.Itoa(id)).Inc()
	}
}

// wafOutcome is what the WAF made of a request and of its answer, for
// the access log.
type wafOutcome struct {
	rules       []int
	score       int
	interrupted bool
	detect      bool
	// answer is what the response rules found; zero when they found
	// nothing or did not run.
	answer wafAnswerOutcome
}

// wafAnswerOutcome is what the response rules found in an answer.
type wafAnswerOutcome struct {
	rules       []int
	score       int
	interrupted bool
}

// attr is the access log's "waf" group: the rule ids, the anomaly score
// and what was done, for the request (rules, score, action) and for the
// answer (response_rules, response_score, response_action). A request
// and answer the WAF found nothing in (or that no WAF saw) get an empty
// group, which slog leaves out.
func (o *wafOutcome) attr() slog.Attr {
	a := &o.answer
	inRequest := o.rules != nil || o.interrupted
	inAnswer := a.rules != nil || a.interrupted
	if !inRequest && !inAnswer {
		return slog.Attr{Key: "waf", Value: slog.GroupValue()}
	}
	attrs := make([]slog.Attr, 0, 6)
	if inRequest {
		attrs = append(attrs,
			slog.String("rules", joinIDs(o.rules)),
			slog.Int("score", o.score),
			slog.String("action", wafAction(o.interrupted, o.detect)))
	}
	if inAnswer {
		attrs = append(attrs,
			slog.String("response_rules", joinIDs(a.rules)),
			slog.Int("response_score", a.score),
			slog.String("response_action", wafAction(a.interrupted, o.detect)))
	}
	return slog.Attr{Key: "waf", Value: slog.GroupValue(attrs...)}
}

// wafAction is what was done with what reached the threshold (or not).
func wafAction(interrupted, detect bool) string {
	switch {
	case interrupted && detect:
		return "detected"
	case interrupted:
		return "blocked"
	}
	return "none"
}

func joinIDs(ids []int) string {
	b := make([]byte, 0, 8*len(ids))
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(id), 10)
	}
	return string(b)
}

// wafMetrics count the requests the WAF refused (or, detecting, would
// have), and the answers it replaced (or would have), by API, version and
// rule: a request that matched three rules counts once in each of their
// series. Answers are told by their rules (95xxxx, the CRS response
// rules).
type wafMetrics struct {
	blocks, detections *prometheus.CounterVec
}

func newWAFMetrics() *wafMetrics {
	return &wafMetrics{
		blocks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_gateway_waf_blocks_total",
			Help: "Requests the WAF refused, and answers it replaced with 502 (response rules 950000-959999), by API, API version and matched rule id (a request counts once per rule it matched).",
		}, []string{"api", "version", "rule"}),
		detections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_gateway_waf_detections_total",
			Help: "Requests (and answers, rules 950000-959999) a detect-only WAF would have refused, by API, API version and matched rule id.",
		}, []string{"api", "version", "rule"}),
	}
}

func (m *wafMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.blocks, m.detections}
}

// serveInspected runs the rest of the chain through a wafAnswer and
// settles the answer once it is complete (or past what is inspected).
func (s *wafStep) serveInspected(w http.ResponseWriter, r *http.Request, ex *exchange) {
	// Without the client's Accept-Encoding the transport asks for gzip
	// itself and decompresses, so the rules read the body as text.
	delete(r.Header, "Accept-Encoding")
	a := wafAnswers.Get().(*wafAnswer)
	a.w, a.s, a.ex, a.r = w, s, ex, r
	defer func() {
		if a.state == wafAnswerRefused {
			// Refusing fails the proxy's copy, and the proxy aborts the
			// handler for a failed copy (under a server; without one it
			// returns): that abort is this step's own, and the refusal is
			// answered here instead.
			if p := recover(); p != nil && p != http.ErrAbortHandler {
				panic(p)
			}
			a.refuse()
		}
		a.reset()
		wafAnswers.Put(a)
	}()
	s.next.ServeHTTP(a, r)
	a.finish()
}

// wafAnswerState is where an answer under inspection is.
type wafAnswerState uint8

const (
	// wafAnswerNew: no status yet.
	wafAnswerNew wafAnswerState = iota
	// wafAnswerHolding: the head and the first bytes of the body are
	// held until the rules have read them.
	wafAnswerHolding
	// wafAnswerPassing: inspected and let out; the rest flows through.
	wafAnswerPassing
	// wafAnswerRefused: the client gets the gateway's 502.
	wafAnswerRefused
)

// errWAFAnswerRefused stops the proxy's copy of a refused answer, so an
// answer that will not be sent is not read to its end either.
var errWAFAnswerRefused = errors.New("gateway: answer refused by the waf")

// wafAnswer is the writer the chain past the WAF step answers through
// when the API inspects answers. It holds the upstream's head, and the
// body's first bytes (the WAF's ResponseBodyLimit) when its type is text
// (waf.InspectsBody); the rules read them before anything goes out. A
// longer body is let out after its first bytes pass, the rest streaming
// uninspected; a binary one, an event stream, a body with trailers or
// none at all is judged on its status and head alone. Pooled.
//
// Answers the gateway makes itself (its problems for a refused call, a
// timeout, an unreachable upstream) are written on the exchange, past
// this writer, and are not inspected.
type wafAnswer struct {
	w  http.ResponseWriter
	s  *wafStep
	ex *exchange
	r  *http.Request

	state  wafAnswerState
	status int
	// header is the upstream's head as the proxy copies it; trailer
	// takes what the proxy adds once the head is held (trailers).
	header, trailer http.Header
	body            []byte
}

var wafAnswers = sync.Pool{New: func() any { return &wafAnswer{header: http.Header{}} }}

// maxPooledWAFBody is the largest body buffer kept for the next answer.
const maxPooledWAFBody = 64 << 10

func (a *wafAnswer) reset() {
	clear(a.header)
	if len(a.trailer) > 0 {
		clear(a.trailer)
	}
	body := a.body[:0]
	if cap(body) > maxPooledWAFBody {
		body = nil
	}
	*a = wafAnswer{header: a.header, trailer: a.trailer, body: body}
}

// Header is the upstream's head until it is let out, then the client's;
// what is set while the body is held is a trailer.
func (a *wafAnswer) Header() http.Header {
	switch a.state {
	case wafAnswerNew:
		return a.header
	case wafAnswerPassing:
		return a.w.Header()
	}
	if a.trailer == nil {
		a.trailer = http.Header{}
	}
	return a.trailer
}

// WriteHeader holds the head of a final answer; one whose body is not
// read is judged now.
func (a *wafAnswer) WriteHeader(code int) {
	if a.state != wafAnswerNew {
		return
	}
	if code < 200 {
		a.informational(code)
		return
	}
	a.status = code
	if !a.readsBody() {
		if !a.judge(nil) {
			a.pass()
		}
		return
	}
	a.state = wafAnswerHolding
	limit := a.s.waf.ResponseBodyLimit()
	if n, err := strconv.ParseInt(a.header.Get("Content-Length"), 10, 64); err == nil && n > int64(cap(a.body)) {
		a.body = make([]byte, 0, min(n, limit))
	}
}

// readsBody reports whether the rules read this answer's body: one that
// may have one (RFC 9110 §9.3.2, §15.3.5, §15.4.5), of a text type, in
// no content coding the gateway cannot undo, without trailers (the body
// would be held past them).
func (a *wafAnswer) readsBody() bool {
	if a.r.Method == http.MethodHead || a.status == http.StatusNoContent || a.status == http.StatusNotModified {
		return false
	}
	h := a.header
	if ce := h["Content-Encoding"]; len(ce) > 0 && !strings.EqualFold(strings.TrimSpace(ce[0]), "identity") {
		return false
	}
	if len(h["Trailer"]) > 0 {
		return false
	}
	return waf.InspectsBody(h.Get("Content-Type"))
}

// informational forwards a 1xx answer (RFC 9110 §15.2: a proxy forwards
// them) with its own head only; the proxy clears that head after.
func (a *wafAnswer) informational(code int) {
	dst := a.w.Header()
	before := make(map[string][]string, len(a.header))
	for k, v := range a.header {
		before[k] = dst[k]
		dst[k] = append(dst[k][:len(dst[k]):len(dst[k])], v...)
	}
	a.w.WriteHeader(code)
	for k, v := range before {
		if v == nil {
			delete(dst, k)
		} else {
			dst[k] = v
		}
	}
}

func (a *wafAnswer) Write(b []byte) (int, error) {
	if a.state == wafAnswerNew {
		a.WriteHeader(http.StatusOK)
	}
	switch a.state {
	case wafAnswerPassing:
		return a.w.Write(b)
	case wafAnswerHolding:
		room := int(a.s.waf.ResponseBodyLimit()) - len(a.body)
		if len(b) <= room {
			a.body = append(a.body, b...)
			return len(b), nil
		}
		// Past what is inspected: the first bytes decide for the whole.
		a.body = append(a.body, b[:room]...)
		if a.judge(a.body) {
			return 0, errWAFAnswerRefused
		}
		a.release()
		n, err := a.w.Write(b[room:])
		return room + n, err
	}
	return 0, errWAFAnswerRefused
}

// judge runs the response rules and records what they found; true when
// the answer is refused (it reached the threshold in block mode).
func (a *wafAnswer) judge(body []byte) bool {
	s := a.s
	v := s.waf.InspectResponse(waf.Response{ID: a.ex.id, Request: a.r, Status: a.status, Header: a.header, Body: body})
	if len(v.Rules) == 0 && !v.Interrupted {
		return false
	}
	a.ex.waf.detect = s.detect
	a.ex.waf.answer = wafAnswerOutcome{rules: v.Rules, score: v.Score, interrupted: v.Interrupted}
	switch {
	case !v.Interrupted:
		return false
	case s.detect:
		count(s.detections, v.Rules)
		return false
	}
	count(s.blocks, v.Rules)
	a.state = wafAnswerRefused
	return true
}

// pass lets the head out and the body through as it comes.
func (a *wafAnswer) pass() {
	dst := a.w.Header()
	for k, v := range a.header {
		// Added, as the proxy adds: a step may have set some already.
		dst[k] = append(dst[k], v...)
	}
	a.state = wafAnswerPassing
	a.w.WriteHeader(a.status)
}

// release lets out a held head and what was gathered of the body.
func (a *wafAnswer) release() {
	a.pass()
	if len(a.body) > 0 {
		_, _ = a.w.Write(a.body)
	}
}

// finish settles the answer once the chain is done: a held one is
// inspected whole, then let out or refused.
func (a *wafAnswer) finish() {
	if a.state != wafAnswerHolding || a.judge(a.body) {
		return
	}
	a.release()
	if len(a.trailer) > 0 {
		// As the proxy does: flushing commits to chunking, and what is
		// set after the head goes out is a trailer.
		_ = http.NewResponseController(a.w).Flush()
		dst := a.w.Header()
		for k, v := range a.trailer {
			dst[k] = append(dst[k], v...)
		}
	}
}

// refuse answers 502 in place of the answer: its head and body are
// dropped, and the rule ids stay in the access log.
func (a *wafAnswer) refuse() {
	a.ex.reason = "waf: answer refused"
	a.ex.problem(problemBadGateway, decisionBadGateway)
}

// FlushError flushes what passes through; a held answer has nothing to
// flush yet.
func (a *wafAnswer) FlushError() error {
	if a.state != wafAnswerPassing {
		return nil
	}
	return http.NewResponseController(a.w).Flush()
}

// Flush implements http.Flusher.
func (a *wafAnswer) Flush() { _ = a.FlushError() }

// Unwrap lets exchangeOf and http.ResponseController reach the
// exchange (deadlines).
func (a *wafAnswer) Unwrap() http.ResponseWriter { return a.w }
