package gateway

import (
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"

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
type wafStep struct {
	waf    *waf.WAF
	detect bool
	limit  int64
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
	s := &wafStep{waf: w, detect: c.api.waf.detect, limit: c.api.maxBody, next: next}
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
	if !v.Interrupted {
		s.next.ServeHTTP(w, r)
		return
	}
	if s.detect {
		count(s.detections, v.Rules)
		s.next.ServeHTTP(w, r)
		return
	}
	count(s.blocks, v.Rules)
	ex.reason = "waf"
	ex.problem(problemRequestBlocked, decisionDenyWAF)
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

// wafOutcome is what the WAF made of a request, for the access log.
type wafOutcome struct {
	rules       []int
	score       int
	interrupted bool
	detect      bool
}

// attr is the access log's "waf" group: the rule ids, the anomaly score
// and what was done. A request the WAF found nothing in (or that no WAF
// saw) gets an empty group, which slog leaves out.
func (o *wafOutcome) attr() slog.Attr {
	if o.rules == nil && !o.interrupted {
		return slog.Attr{Key: "waf", Value: slog.GroupValue()}
	}
	action := "none"
	switch {
	case o.interrupted && o.detect:
		action = "detected"
	case o.interrupted:
		action = "blocked"
	}
	return slog.Attr{Key: "waf", Value: slog.GroupValue(
		slog.String("rules", joinIDs(o.rules)),
		slog.Int("score", o.score),
		slog.String("action", action),
	)}
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
// have), by API, version and rule: a request that matched three rules
// counts once in each of their series.
type wafMetrics struct {
	blocks, detections *prometheus.CounterVec
}

func newWAFMetrics() *wafMetrics {
	return &wafMetrics{
		blocks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_gateway_waf_blocks_total",
			Help: "Requests the WAF refused, by API, API version and matched rule id (a request counts once per rule it matched).",
		}, []string{"api", "version", "rule"}),
		detections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portcullis_gateway_waf_detections_total",
			Help: "Requests a detect-only WAF would have refused, by API, API version and matched rule id.",
		}, []string{"api", "version", "rule"}),
	}
}

func (m *wafMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.blocks, m.detections}
}
