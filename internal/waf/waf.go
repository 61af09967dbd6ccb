// Package waf inspects requests for injection with Coraza and the OWASP
// Core Rule Set (CRS v4, embedded), plus a few rules of Portcullis's own
// for what the CRS does not look at: NoSQL operators and prototype
// pollution in JSON keys (rules.conf, ids 10100-10199).
//
// A WAF is compiled once per configuration, when a routing table is
// built, and is safe for concurrent use; Inspect runs one Coraza
// transaction per request. The package decides nothing about the
// response a refused request gets, and never reads the network: the
// caller hands it a request and a body it has already read and bounded.
package waf

import (
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
	"github.com/corazawaf/coraza/v3"
	"github.com/corazawaf/coraza/v3/experimental"
	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
	"github.com/corazawaf/coraza/v3/types"
)

// Defaults of Config's zero values (the CRS's own).
const (
	DefaultParanoia         = 1
	DefaultAnomalyThreshold = 5
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
	// InspectResponse loads the CRS response rules (data leakage) and
	// lets InspectResponse read response headers and bodies. False loads
	// the request phases only.
	InspectResponse bool
	// MaxBody is the largest request body inspected, in bytes; the
	// gateway bounds bodies before. Zero means 1 MiB.
	MaxBody int64
}

// TargetExclusion is one variable one rule no longer inspects.
type TargetExclusion struct {
	Rule int
	// Target is COLLECTION:key, such as ARGS:json.notes or
	// REQUEST_HEADERS:referer.
	Target string
}

// WAF is a compiled rule set.
type WAF struct {
	waf       coraza.WAF
	paranoia  int
	threshold int
	response  bool
}

// New compiles the CRS with c's settings. It takes tens of
// milliseconds: build one per configuration, never per request.
func New(c Config) (*WAF, error) {
	w := &WAF{paranoia: c.Paranoia, threshold: c.AnomalyThreshold, response: c.InspectResponse}
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
	for _, x := range c.ExcludeTargets {
		if msg := targetProblem(x.Target); msg != "" {
			return nil, fmt.Errorf("target %q of rule %d %s", x.Target, x.Rule, msg)
		}
	}
	files, err := crsFiles(c.InspectResponse)
	if err != nil {
		return nil, err
	}
	// Exclusions naming a rule that is not loaded would do nothing
	// silently; the observer sees every rule as it is added.
	loaded := map[int]bool{}
	cfg := coraza.NewWAFConfig().
		WithRootFS(coreruleset.FS).
		WithDirectives(directives(c, w.paranoia, w.threshold, files))
	cfg = experimental.WAFConfigWithRuleObserver(cfg, func(r types.RuleMetadata) { loaded[r.ID()] = true })
	cw, err := coraza.NewWAF(cfg)
	if err != nil {
		return nil, fmt.Errorf("compile rules: %w", err)
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
	w.waf = cw
	return w, nil
}

// Paranoia is the blocking paranoia level in force.
func (w *WAF) Paranoia() int { return w.paranoia }

// AnomalyThreshold is the inbound anomaly score that blocks.
func (w *WAF) AnomalyThreshold() int { return w.threshold }

// crsFiles lists the CRS rule files to include, in order: the request
// rules, Portcullis's slotted before the blocking evaluation (949) so they
// add to the score it checks, and the response rules when asked for.
func crsFiles(response bool) ([]string, error) {
	all, err := fs.Glob(coreruleset.FS, "@owasp_crs/*.conf")
	if err != nil {
		return nil, fmt.Errorf("list the core rule set: %w", err)
	}
	slices.Sort(all)
	var files []string
	for _, f := range all {
		base := strings.TrimPrefix(f, "@owasp_crs/")
		if strings.HasPrefix(base, "RESPONSE-") && !response {
			continue
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		return nil, errors.New("the embedded core rule set is empty")
	}
	return files, nil
}

//go:embed rules.conf
var portcullisRules string

// directives renders the SecLang configuration. Everything interpolated
// is a number or a target targetProblem accepted, so no configuration
// value can add a directive of its own.
func directives(c Config, paranoia, threshold int, files []string) string {
	var b strings.Builder
	// The engine always interrupts; detection-only is the caller's
	// choice of what to do with a verdict, so a detecting and a blocking
	// API measure the same thing.
	b.WriteString("SecRuleEngine On\n")
	b.WriteString("SecRxPreFilter On\n")
	b.WriteString("SecRequestBodyAccess On\n")
	limit := c.MaxBody
	if limit <= 0 {
		limit = 1 << 20
	}
	fmt.Fprintf(&b, "SecRequestBodyLimit %d\nSecRequestBodyInMemoryLimit %d\n", limit, limit)
	b.WriteString("SecRequestBodyLimitAction Reject\n")
	b.WriteString("SecRequestBodyJsonDepthLimit 512\n")
	b.WriteString("SecArgumentsLimit 1000\n")
	if c.InspectResponse {
		b.WriteString("SecResponseBodyAccess On\nSecResponseBodyLimit 524288\nSecResponseBodyLimitAction ProcessPartial\n")
		b.WriteString("SecResponseBodyMimeType text/plain text/html text/xml application/json\n")
	} else {
		b.WriteString("SecResponseBodyAccess Off\n")
	}
	// JSON bodies are parsed as JSON: every value is an ARGS entry named
	// by its path (json.items.0.name), not one opaque string.
	b.WriteString(`SecRule REQUEST_HEADERS:Content-Type "@rx ^application/(?:[a-z0-9.-]+\+)?json(?:[\s;]|$)" "id:10001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"` + "\n")
	b.WriteString(`SecRule REQUEST_HEADERS:Content-Type "@rx ^(?:application(?:/soap\+|/)|text/)xml" "id:10002,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"` + "\n")
	b.WriteString("Include @crs-setup.conf.example\n")
	fmt.Fprintf(&b, `SecAction "id:900000,phase:1,pass,t:none,nolog,setvar:tx.blocking_paranoia_level=%d"`+"\n", paranoia)
	fmt.Fprintf(&b, `SecAction "id:900110,phase:1,pass,t:none,nolog,setvar:tx.inbound_anomaly_score_threshold=%d,setvar:tx.outbound_anomaly_score_threshold=4"`+"\n", threshold)
	// An API gateway routes every method it serves by operation; the
	// CRS's default (GET HEAD POST OPTIONS) would refuse REST's others.
	b.WriteString(`SecAction "id:900200,phase:1,pass,t:none,nolog,setvar:'tx.allowed_methods=GET HEAD POST OPTIONS PUT PATCH DELETE'"` + "\n")
	b.WriteString(`SecAction "id:900220,phase:1,pass,t:none,nolog,setvar:'tx.allowed_request_content_type=|application/x-www-form-urlencoded| |multipart/form-data| |text/xml| |application/xml| |application/soap+xml| |application/json| |application/merge-patch+json| |application/json-patch+json| |application/problem+json| |application/ld+json| |application/vnd.api+json|'"` + "\n")
	for _, f := range files {
		if strings.Contains(f, "REQUEST-949-") {
			b.WriteString(portcullisRules)
			b.WriteString("\n")
		}
		b.WriteString("Include " + f + "\n")
	}
	for _, id := range apiExclusions {
		fmt.Fprintf(&b, "SecRuleRemoveById %d\n", id)
	}
	for _, id := range c.ExcludeRules {
		fmt.Fprintf(&b, "SecRuleRemoveById %d\n", id)
	}
	for _, x := range c.ExcludeTargets {
		fmt.Fprintf(&b, "SecRuleUpdateTargetById %d \"!%s\"\n", x.Rule, x.Target)
	}
	return b.String()
}

// apiExclusions are CRS rules removed for every API: they police what a
// browser-facing web site sends, and a JSON API's clients legitimately
// send otherwise. None of them is an injection detector.
var apiExclusions = []int{}

// targetChars are the only bytes a target may hold: the catalog checks
// a target's shape (COLLECTION:key) for people; this is the guard at the
// point the target is written into a directive, where a quote, a space,
// a comma or a pipe would change what the directive says.
var targetChars = regexp.MustCompile(`^[A-Z_]+(?::[A-Za-z0-9_.$\[\]-]{1,200})?$`)

// targetProblem says what is wrong with an exclusion target, or "" when
// nothing is.
func targetProblem(t string) string {
	if !targetChars.MatchString(t) {
		return "is not COLLECTION or COLLECTION:key with a key of letters, digits and . _ - $ [ ]"
	}
	return ""
}

// Request is what Inspect reads of a request.
type Request struct {
	// ID names the transaction (the gateway's request id).
	ID   string
	HTTP *http.Request
	// Body is the request body, already read and bounded.
	Body []byte
	// Client is the caller's address; zero when unknown.
	Client netip.Addr
	// PathNames and PathValues are the operation's path parameters,
	// inspected as ARGS_PATH (and so as ARGS).
	PathNames, PathValues []string
}

// Verdict is what the rules made of a request.
type Verdict struct {
	// Interrupted is true when the request reached the anomaly threshold
	// or a rule refused it outright.
	Interrupted bool
	// Score is the inbound anomaly score at the blocking paranoia level.
	Score int
	// Rules are the ids of the detection rules that matched, in the
	// order they ran; empty when none did.
	Rules []int
}

// transaction is the part of Coraza's transaction that reads its
// variables (the TX collection holds the anomaly score).
type transaction interface {
	Variables() plugintypes.TransactionVariables
}

// Inspect runs the request phases over r.
func (w *WAF) Inspect(r Request) Verdict {
	tx := w.waf.NewTransactionWithID(r.ID)
	defer func() {
		tx.ProcessLogging()
		_ = tx.Close()
	}()
	hr := r.HTTP
	client := ""
	if r.Client.IsValid() {
		client = r.Client.String()
	}
	tx.ProcessConnection(client, 0, "", 0)
	tx.ProcessURI(hr.URL.RequestURI(), hr.Method, hr.Proto)
	for k, vs := range hr.Header {
		for _, v := range vs {
			tx.AddRequestHeader(k, v)
		}
	}
	// net/http moves Host out of the header map, and a client request
	// (a test's) may carry its length only in ContentLength.
	if hr.ContentLength > 0 && hr.Header.Get("Content-Length") == "" {
		tx.AddRequestHeader("Content-Length", strconv.FormatInt(hr.ContentLength, 10))
	}
	if hr.Host != "" {
		tx.AddRequestHeader("Host", hr.Host)
		tx.SetServerName(hostOnly(hr.Host))
	}
	for i, n := range r.PathNames {
		if i < len(r.PathValues) {
			tx.AddPathRequestArgument(n, r.PathValues[i])
		}
	}
	if it := tx.ProcessRequestHeaders(); it != nil {
		return w.verdict(tx, true)
	}
	if len(r.Body) > 0 && tx.IsRequestBodyAccessible() {
		if it, _, err := tx.WriteRequestBody(r.Body); it != nil || err != nil {
			return w.verdict(tx, true)
		}
	}
	it, err := tx.ProcessRequestBody()
	return w.verdict(tx, it != nil || err != nil)
}

// verdict reads the transaction's outcome.
func (w *WAF) verdict(tx types.Transaction, interrupted bool) Verdict {
	v := Verdict{Interrupted: interrupted}
	for _, m := range tx.MatchedRules() {
		// Detection rules say what they found; the CRS's paranoia-level
		// skips and variable settings have no message.
		if id := m.Rule().ID(); m.Message() != "" && detectionRule(id) {
			v.Rules = append(v.Rules, id)
		}
	}
	if t, ok := tx.(transaction); ok {
		if s := t.Variables().TX().Get("blocking_inbound_anomaly_score"); len(s) > 0 {
			v.Score, _ = strconv.Atoi(s[0])
		}
		if v.Score == 0 {
			// Interrupted before the blocking evaluation summed it.
			if s := t.Variables().TX().Get("inbound_anomaly_score_pl1"); len(s) > 0 {
				v.Score, _ = strconv.Atoi(s[0])
			}
		}
	}
	return v
}

// detectionRule tells a rule that detects something from the CRS's
// bookkeeping (setup, initialization, the blocking evaluation, the
// correlation) and the body-processor switches.
func detectionRule(id int) bool {
	switch {
	case id >= 10000 && id < 10100, // body processors
		id >= 900000 && id < 902000, // setup and initialization
		id >= 949000 && id < 950000, // inbound blocking evaluation
		id >= 959000 && id < 960000, // outbound blocking evaluation
		id >= 980000 && id < 981000: // correlation
		return false
	}
	return true
}

func hostOnly(h string) string {
	if ap, err := netip.ParseAddrPort(h); err == nil {
		return ap.Addr().String()
	}
	if i := strings.LastIndexByte(h, ':'); i > 0 && !strings.Contains(h[i:], "]") {
		return h[:i]
	}
	return h
}
