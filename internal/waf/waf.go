// Package waf inspects requests, and on demand the answers to them, with
// Coraza and the OWASP Core Rule Set (CRS v4, embedded), plus a few rules
// of Portcullis's own for what the CRS does not look at: NoSQL operators
// and prototype pollution in JSON keys, SSRF targets, XPath and LDAP
// injection (rules.conf, ids 10100-10199). A few CRS rules that misfire
// on prose count only when a rule of their attack family corroborates
// them (corroborate.go).
//
// A WAF is compiled once per configuration, when a routing table is
// built, and is safe for concurrent use; Inspect and InspectResponse run
// one Coraza transaction each. The package decides nothing about the
// response a refused request or answer gets, and never reads the
// network: the caller hands it what it has already read and bounded.
package waf

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
	"github.com/corazawaf/coraza/v3"
	"github.com/corazawaf/coraza/v3/experimental"
	"github.com/corazawaf/coraza/v3/types"
)

// Defaults of Config's zero values (the CRS's own, but for the response
// body, which the CRS reads up to 512 KiB).
const (
	DefaultParanoia          = 1
	DefaultAnomalyThreshold  = 5
	DefaultResponseBodyLimit = 32 << 10
)

// Config is one compiled WAF's settings.
type Config struct {
	// Paranoia is the CRS blocking paranoia level, 1-4. Zero means 1.
	Paranoia int
	// AnomalyThreshold is the inbound anomaly score that blocks a
	// request. Zero means 5 (one critical match).
	AnomalyThreshold int
	// ExcludeRules are rule ids removed (SecRuleRemoveById). Every id
	// must be a rule the WAF loads.
	ExcludeRules []int
	// ExcludeTargets remove one variable from one rule
	// (SecRuleUpdateTargetById, the build-time form of
	// ctl:ruleRemoveTargetById).
	ExcludeTargets []TargetExclusion
	// InspectResponse compiles the CRS response rules (data leakage) so
	// that InspectResponse can run. False compiles the request rules
	// only, and InspectResponse finds nothing.
	InspectResponse bool
	// MaxBody is the largest request body inspected, in bytes; the
	// gateway bounds bodies before. Zero means 1 MiB.
	MaxBody int64
	// ResponseBodyLimit is how much of a response body is inspected, in
	// bytes: the first ResponseBodyLimit bytes of a longer one. Zero
	// means DefaultResponseBodyLimit.
	ResponseBodyLimit int64
}

// TargetExclusion is one variable one rule no longer inspects.
type TargetExclusion struct {
	Rule int
	// Target is COLLECTION:key, such as ARGS:json.notes or
	// REQUEST_HEADERS:referer.
	Target string
}

// WAF is a compiled rule set: the request rules, and the response rules
// when the configuration asks for them.
//
// The two are compiled apart. A request's transaction then carries none
// of the response rules, and an answer is inspected by a transaction of
// its own that runs the CRS's initialization and the response rules
// only: the request need not be held open while the upstream answers,
// and an answer costs tens of microseconds, not a second pass of the
// request rules.
type WAF struct {
	waf       coraza.WAF
	resp      coraza.WAF // nil without InspectResponse
	paranoia  int
	threshold int
	respLimit int64
}

// New compiles the CRS with c's settings. It takes tens of
// milliseconds: build one per configuration, never per request.
func New(c Config) (*WAF, error) {
	w := &WAF{paranoia: c.Paranoia, threshold: c.AnomalyThreshold, respLimit: c.ResponseBodyLimit}
	if w.paranoia == 0 {
		w.paranoia = DefaultParanoia
	}
	if w.paranoia < 1 || w.paranoia > 4 {
		return nil, fmt.Errorf("paranoia %d is not 1 to 4", c.Paranoia)
	}
	if w.threshold == 0 {
		w.threshold = DefaultAnomalyThreshold
	}
	if w.threshold < 1 {
		return nil, fmt.Errorf("anomaly threshold %d is not positive", c.AnomalyThreshold)
	}
	if w.respLimit == 0 {
		w.respLimit = DefaultResponseBodyLimit
	}
	if w.respLimit < 1 {
		return nil, fmt.Errorf("response body limit %d is not positive", c.ResponseBodyLimit)
	}
	for _, x := range c.ExcludeTargets {
		if msg := targetProblem(x.Target); msg != "" {
			return nil, fmt.Errorf("target %q of rule %d %s", x.Target, x.Rule, msg)
		}
	}
	files, err := crsFiles()
	if err != nil {
		return nil, err
	}
	// Exclusions naming a rule that is not loaded would do nothing
	// silently; the observer sees every rule as it is added.
	loaded := map[int]bool{}
	if w.waf, err = compile(requestDirectives(c, w.paranoia, w.threshold, files), loaded); err != nil {
		return nil, fmt.Errorf("compile rules: %w", err)
	}
	if c.InspectResponse {
		if w.resp, err = compile(responseDirectives(c, w.paranoia, w.respLimit, files), loaded); err != nil {
			return nil, fmt.Errorf("compile response rules: %w", err)
		}
	}
	var unknown []string
	for _, id := range c.ExcludeRules {
		if !loaded[id] {
			unknown = append(unknown, strconv.Itoa(id))
		}
	}
	for _, x := range c.ExcludeTargets {
		if !loaded[x.Rule] {
			unknown = append(unknown, strconv.Itoa(x.Rule))
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("no rule has id %s", strings.Join(unknown, ", "))
	}
	return w, nil
}

// compile builds one Coraza WAF, adding the ids of its rules to loaded.
func compile(directives string, loaded map[int]bool) (coraza.WAF, error) {
	cfg := coraza.NewWAFConfig().
		WithRootFS(coreruleset.FS).
		WithDirectives(directives)
	cfg = experimental.WAFConfigWithRuleObserver(cfg, func(r types.RuleMetadata) { loaded[r.ID()] = true })
	return coraza.NewWAF(cfg)
}

// Paranoia is the blocking paranoia level in force.
func (w *WAF) Paranoia() int { return w.paranoia }

// AnomalyThreshold is the inbound anomaly score that blocks.
func (w *WAF) AnomalyThreshold() int { return w.threshold }

// InspectsResponses reports whether the response rules are compiled.
func (w *WAF) InspectsResponses() bool { return w.resp != nil }

// ResponseBodyLimit is how many bytes of a response body
// InspectResponse reads; a caller holds no more than that.
func (w *WAF) ResponseBodyLimit() int64 { return w.respLimit }

// Verdict is what the rules made of a request or an answer.
type Verdict struct {
	// Interrupted is true when the anomaly score reached its threshold
	// (inbound for a request, outbound for an answer) or a rule refused
	// outright.
	Interrupted bool
	// Score is the anomaly score at the blocking paranoia level.
	Score int
	// Rules are the ids of the detection rules that matched, in the
	// order they ran; empty when none did.
	Rules []int
	// Uncounted are the rules of Rules that did not count toward Score:
	// rules prone to match prose that no rule of their attack family
	// corroborated (corroborate.go). Empty when every rule counted.
	Uncounted []int
}

// verdict reads a finished transaction's outcome; score names the TX
// variables of the direction inspected, the blocking sum first.
func verdict(tx types.Transaction, interrupted bool, score ...string) Verdict {
	v := Verdict{Interrupted: interrupted}
	for _, m := range tx.MatchedRules() {
		// Detection rules say what they found; the CRS's paranoia-level
		// skips and variable settings have no message.
		if id := m.Rule().ID(); m.Message() != "" && detectionRule(id) {
			v.Rules = append(v.Rules, id)
		}
	}
	t, ok := tx.(transaction)
	if !ok {
		return v
	}
	if fams := uncountedFamilies(t); fams != nil {
		v.Uncounted = uncounted(v.Rules, fams)
	}
	// The blocking sum is 0 when the transaction was interrupted before
	// the blocking evaluation added it up: the paranoia level's own
	// score says what there was.
	for _, name := range score {
		if s := t.Variables().TX().Get(name); len(s) > 0 {
			v.Score, _ = strconv.Atoi(s[0])
		}
		if v.Score != 0 {
			break
		}
	}
	return v
}

// detectionRule tells a rule that detects something from the CRS's
// bookkeeping (setup, initialization, the blocking evaluations, the
// correlation) and Portcullis's (the body-processor switches, the
// corroboration).
func detectionRule(id int) bool {
	switch {
	case id >= 10000 && id < 10100, // body processors
		id >= 900000 && id < 902000, // setup and initialization
		id >= 949000 && id < 950000, // inbound blocking evaluation
		id >= 959000 && id < 960000, // outbound blocking evaluation
		id >= 980000 && id < 981000, // correlation
		corroborationRule(id):
		return false
	}
	return true
}

func clientText(a netip.Addr) string {
	if a.IsValid() {
		return a.String()
	}
	return ""
}
