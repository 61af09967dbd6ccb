package catalog

import (
	"fmt"
	"regexp"
	"slices"
)

// WAF modes.
const (
	WAFBlock  = "block"
	WAFDetect = "detect"
)

var wafModes = []string{WAFBlock, WAFDetect}

// WAF is an API's injection inspection with the OWASP Core Rule Set.
type WAF struct {
	// Mode is "block" (a request that reaches the anomaly threshold is
	// refused with 403) or "detect" (it is logged and counted, and goes
	// on). Empty means block.
	Mode string `yaml:"mode"`
	// Paranoia is the CRS paranoia level, 1 to 4: higher catches more
	// and mistakes more benign input for attacks. Zero means 1.
	Paranoia int `yaml:"paranoia"`
	// AnomalyThreshold is the inbound anomaly score that blocks (a
	// critical match scores 5, an error 4, a warning 3, a notice 2).
	// Zero means 5.
	AnomalyThreshold int `yaml:"anomaly_threshold"`
	// Exclusions are rule ids removed for every operation of the API.
	// Empty means none.
	Exclusions []int `yaml:"exclusions"`
	// InspectResponse also loads the CRS response rules (data leakage).
	// False means requests only.
	InspectResponse bool `yaml:"inspect_response"`
}

// OperationWAF tunes an API's WAF for one operation.
type OperationWAF struct {
	// Off skips inspection for the operation. False means inspect.
	Off bool `yaml:"off"`
	// ExcludeRules are rule ids removed for this operation, on top of
	// the API's exclusions. Empty means none.
	ExcludeRules []int `yaml:"exclude_rules"`
	// ExcludeParams stop one rule from inspecting one variable of this
	// operation's requests. Empty means none.
	ExcludeParams []WAFParamExclusion `yaml:"exclude_params"`
}

// WAFParamExclusion stops one rule from inspecting one variable.
type WAFParamExclusion struct {
	// Rule is the rule's id.
	Rule int `yaml:"rule"`
	// Target is COLLECTION:key, as in ModSecurity's
	// ctl:ruleRemoveTargetById: ARGS:json.notes (a JSON body's field),
	// ARGS:q (a query parameter), REQUEST_HEADERS:referer.
	Target string `yaml:"target"`
}

// Tuned reports whether the operation changes its API's WAF.
func (w *OperationWAF) Tuned() bool {
	return w != nil && (w.Off || len(w.ExcludeRules) > 0 || len(w.ExcludeParams) > 0)
}

func (w *WAF) clone() *WAF {
	if w == nil {
		return nil
	}
	c := *w
	c.Exclusions = slices.Clone(w.Exclusions)
	return &c
}

func (w *OperationWAF) clone() *OperationWAF {
	if w == nil {
		return nil
	}
	c := *w
	c.ExcludeRules = slices.Clone(w.ExcludeRules)
	c.ExcludeParams = slices.Clone(w.ExcludeParams)
	return &c
}

// wafTarget is the shape of an exclusion target; internal/waf checks the
// same again before writing it into a directive. No quotes, spaces,
// commas or pipes can reach the rule language.
var wafTarget = regexp.MustCompile(`^(ARGS|ARGS_GET|ARGS_POST|ARGS_NAMES|ARGS_GET_NAMES|ARGS_POST_NAMES|REQUEST_HEADERS|REQUEST_COOKIES|REQUEST_COOKIES_NAMES|REQUEST_FILENAME|REQUEST_BASENAME|REQUEST_URI|REQUEST_BODY)(?::([A-Za-z0-9_.$\[\]-]{1,200}))?$`)

// A rule id as ModSecurity allows one: 1 to 9,999,999. Whether a rule
// with the id exists is checked when the gateway compiles the rules.
const maxRuleID = 9_999_999

// waf checks the API's WAF settings and its operations' (field f is the
// API's).
func (v *validator) waf(f string, a *API) {
	if w := a.WAF; w != nil {
		wf := f + ".waf"
		if w.Mode != "" {
			v.oneOf(wf+".mode", w.Mode, wafModes)
		}
		if w.Paranoia < 0 || w.Paranoia > 4 {
			v.add(wf+".paranoia", fmt.Sprintf("%d is not a paranoia level: 1 to 4 (0 means 1)", w.Paranoia), nil)
		}
		if w.AnomalyThreshold < 0 || w.AnomalyThreshold > 1000 {
			v.add(wf+".anomaly_threshold", fmt.Sprintf("%d is not 1 to 1000 (0 means 5)", w.AnomalyThreshold), nil)
		}
		v.ruleIDs(wf+".exclusions", w.Exclusions)
	}
	for j := range a.Operations {
		o := a.Operations[j].WAF
		if o == nil {
			continue
		}
		of := fmt.Sprintf("%s.operations[%d].waf", f, j)
		if a.WAF == nil {
			v.add(of, "tunes a WAF the API does not have: add waf to the API, or remove this", nil)
			continue
		}
		if o.Off && (len(o.ExcludeRules) > 0 || len(o.ExcludeParams) > 0) {
			v.add(of+".off", "turns inspection off: exclude_rules and exclude_params would do nothing", nil)
		}
		v.ruleIDs(of+".exclude_rules", o.ExcludeRules)
		for k, p := range o.ExcludeParams {
			pf := fmt.Sprintf("%s.exclude_params[%d]", of, k)
			if p.Rule < 1 || p.Rule > maxRuleID {
				v.add(pf+".rule", fmt.Sprintf("%d is not a rule id (1 to %d)", p.Rule, maxRuleID), nil)
			}
			if !wafTarget.MatchString(p.Target) {
				v.add(pf+".target", fmt.Sprintf("%q is not COLLECTION or COLLECTION:key such as ARGS:json.notes "+
					"(ARGS, ARGS_GET, ARGS_POST, ARGS_NAMES, REQUEST_HEADERS, REQUEST_COOKIES, ...; a key of letters, digits and . _ - $ [ ])", p.Target), nil)
			}
		}
	}
}

// ruleIDs checks a list of rule ids.
func (v *validator) ruleIDs(field string, ids []int) {
	for k, id := range ids {
		switch {
		case id < 1 || id > maxRuleID:
			v.add(fmt.Sprintf("%s[%d]", field, k), fmt.Sprintf("%d is not a rule id (1 to %d)", id, maxRuleID), nil)
		case slices.Contains(ids[:k], id):
			v.add(fmt.Sprintf("%s[%d]", field, k), fmt.Sprintf("%d is listed twice", id), nil)
		}
	}
}
