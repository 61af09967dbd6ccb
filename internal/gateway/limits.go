package gateway

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/ratelimit"
)

// Rate limits sit between the policy and body steps (DESIGN: after
// policy, before request inspection). A table's limits are compiled once
// per configuration: each limit becomes a limitSpec (its ratelimit.Limit,
// key recipe, condition and RateLimit-Policy item); each operation gets
// the specs of its API and itself (opLimits), and the plans are shared
// by every operation and chosen per request by the token's client_id.

// errNoLimiter refuses a configuration with limits on a gateway that has
// nowhere to count them (fail closed: a limit silently not enforced is
// worse than a gateway that does not start).
var errNoLimiter = errors.New("rate limits, plans or abuse rules are configured but the gateway has no rate-limit backend")

// limitBuild is what one build of a table compiled of the limits: the
// table, the limit names taken (they name counters, so they are unique
// across plans, APIs and operations), the API and operation limits
// compiled so far (an API's are shared by its operations) and the zone
// of calendar quotas.
type limitBuild struct {
	table *limitTable
	names map[string]bool
	specs map[*config.Limit]*limitSpec
	qloc  *time.Location
}

// limitTable is the rate-limit part of a route table: the plans, the
// abuse rules and what the step needs to call the backend.
type limitTable struct {
	backend ratelimit.Backend
	blocks  ratelimit.Blocks
	rt      *limitRuntime
	// clientPlans maps a client_id to its plan; defaultPlan serves the
	// others (nil: none).
	clientPlans map[string]*plan
	defaultPlan *plan
	plans       []*plan
	// maxPlan is the most limits of any plan, for sizing scratch space.
	maxPlan int
	abuse   []*abuseRule
}

// plan is a tier: limits applied to every API for its clients.
type plan struct {
	name  string
	idx   int // 1-based position in limitTable.plans; 0 means no plan
	specs []*limitSpec
}

// limitSpec is one compiled limit.
type limitSpec struct {
	lim  *ratelimit.Limit
	name string
	key  []keyPart
	// recipe is the key as configured ("client_id|ip/24"): two specs
	// with the same recipe have the same key for any request.
	recipe string
	cond   requestRule // nil: every request
	// item is this limit's entry in RateLimit-Policy ("name";q=N;w=S) and
	// window its w, for ordering the entries.
	item   string
	window int64
	// rejected counts refusals by this limit (nil without metrics).
	rejected counter
}

// keyPart is one compiled part of a limit's key.
type keyPart struct {
	kind config.KeyKind
	// name is the claim name, or the canonical header name.
	name         string
	bits4, bits6 int
}

// buildLimits compiles the limits of cfg (plans and abuse rules; API and
// operation limits are compiled per API by opLimitsFor). loc is the zone
// conditions read times in.
func (b *builder) buildLimits(cfg *config.Gateway, loc *time.Location) (*limitTable, error) {
	rl := &cfg.RateLimit
	t := &limitTable{backend: b.limiter, blocks: b.blocks, rt: b.limitRT, clientPlans: map[string]*plan{}}
	qloc := rl.Location(cfg)
	names := map[string]bool{}
	b.lim = limitBuild{table: t, names: names, specs: map[*config.Limit]*limitSpec{}, qloc: qloc}
	if !rl.Enabled(cfg) {
		return t, nil
	}
	if b.limiter == nil {
		return nil, errNoLimiter
	}
	byName := map[string]*plan{}
	for _, name := range slices.Sorted(maps.Keys(rl.Plans)) {
		p := &plan{name: name, idx: len(t.plans) + 1}
		for i := range rl.Plans[name] {
			s, err := b.limitSpec(&rl.Plans[name][i], true, loc, qloc, names)
			if err != nil {
				return nil, fmt.Errorf("ratelimit.plans.%s[%d]: %w", name, i, err)
			}
			p.specs = append(p.specs, s)
		}
		t.maxPlan = max(t.maxPlan, len(p.specs))
		t.plans = append(t.plans, p)
		byName[name] = p
	}
	for _, client := range slices.Sorted(maps.Keys(rl.ClientPlans)) {
		p := byName[rl.ClientPlans[client]]
		if p == nil {
			return nil, fmt.Errorf("ratelimit.client_plans.%s: plan %q is not declared", client, rl.ClientPlans[client])
		}
		t.clientPlans[client] = p
	}
	if rl.DefaultPlan != "" {
		if t.defaultPlan = byName[rl.DefaultPlan]; t.defaultPlan == nil {
			return nil, fmt.Errorf("ratelimit.default_plan: plan %q is not declared", rl.DefaultPlan)
		}
	}
	for i := range rl.Abuse {
		a, err := b.abuseRule(&rl.Abuse[i])
		if err != nil {
			return nil, fmt.Errorf("ratelimit.abuse[%d]: %w", i, err)
		}
		t.abuse = append(t.abuse, a)
	}
	return t, nil
}

// planFor is the plan of a caller with a token.
func (t *limitTable) planFor(clientID string) *plan {
	if p, ok := t.clientPlans[clientID]; ok {
		return p
	}
	return t.defaultPlan
}

// limitSpec compiles one configured limit. names holds the names seen so
// far (they must be unique: they name counters).
func (b *builder) limitSpec(c *config.Limit, inPlan bool, loc, qloc *time.Location, names map[string]bool) (*limitSpec, error) {
	if !isLimitName(c.Name) {
		return nil, fmt.Errorf("limit name %q is not 1 to 64 of a-z, 0-9, _ and -", c.Name)
	}
	if names[c.Name] {
		return nil, fmt.Errorf("limit name %q is used twice", c.Name)
	}
	if strings.HasPrefix(c.Name, config.AbuseLimitPrefix) {
		return nil, fmt.Errorf("limit name %q starts with %q, which names the counters of abuse rules", c.Name, config.AbuseLimitPrefix)
	}
	names[c.Name] = true
	lim := &ratelimit.Limit{Name: c.Name}
	var window time.Duration
	switch {
	case c.Quota != "" && c.Rate != "":
		return nil, fmt.Errorf("limit %s: set quota or rate, not both", c.Name)
	case c.Quota != "":
		n, w, err := config.ParseQuota(c.Quota)
		if err != nil {
			return nil, fmt.Errorf("limit %s: %w", c.Name, err)
		}
		if c.Burst != 0 {
			return nil, fmt.Errorf("limit %s: burst goes with rate", c.Name)
		}
		lim.Kind, lim.Count, lim.Period, window = ratelimit.Quota, n, w.Period(), w.Period()
		if c.Rolling {
			if w == config.WindowMonth {
				return nil, fmt.Errorf("limit %s: a rolling quota cannot be per month", c.Name)
			}
			lim.Rolling = true
		} else {
			lim.Window, lim.Location = quotaWindow(w), qloc
		}
	case c.Rate != "":
		n, per, err := config.ParseRate(c.Rate)
		if err != nil {
			return nil, fmt.Errorf("limit %s: %w", c.Name, err)
		}
		if c.Rolling {
			return nil, fmt.Errorf("limit %s: rolling goes with quota", c.Name)
		}
		if c.Burst < 0 || c.Burst > config.MaxLimitCount {
			return nil, fmt.Errorf("limit %s: burst must be from 1 to %d", c.Name, config.MaxLimitCount)
		}
		lim.Kind, lim.Count, lim.Period, lim.Burst, window = ratelimit.Rate, n, per, c.Burst, per
		if lim.Burst == 0 {
			lim.Burst = n
		}
	default:
		return nil, fmt.Errorf("limit %s: needs quota or rate", c.Name)
	}
	switch c.OnBackendError {
	case config.OnErrorDeny:
		lim.OnError = ratelimit.Deny
	case config.OnErrorAllow:
		lim.OnError = ratelimit.Allow
	case config.OnErrorLocal:
		lim.OnError = ratelimit.Local
	case "":
		lim.OnError = ratelimit.Local
		if c.Strict {
			lim.OnError = ratelimit.Deny
		}
	default:
		return nil, fmt.Errorf("limit %s: on_backend_error %q is not deny, allow or local", c.Name, c.OnBackendError)
	}
	if c.Strict && lim.OnError == ratelimit.Allow {
		return nil, fmt.Errorf("limit %s: on_backend_error allow contradicts strict", c.Name)
	}
	if err := lim.Validate(); err != nil {
		return nil, fmt.Errorf("limit %s: %w", c.Name, err)
	}
	s := &limitSpec{lim: lim, name: c.Name, window: int64(window / time.Second)}
	keys := c.Key
	if len(keys) == 0 && inPlan {
		keys = []string{string(config.KeyClientID)}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("limit %s: key must list what it counts by", c.Name)
	}
	hasClient := false
	for i, k := range keys {
		p, err := config.ParseKeyPart(k)
		if err != nil {
			return nil, fmt.Errorf("limit %s: key[%d]: %w", c.Name, i, err)
		}
		if slices.Contains(keys[:i], k) {
			return nil, fmt.Errorf("limit %s: key[%d] %q is listed twice", c.Name, i, k)
		}
		kp := keyPart{kind: p.Kind, name: p.Name, bits4: p.IPv4Bits, bits6: p.IPv6Bits}
		if p.Kind == config.KeyHeader {
			kp.name = textproto.CanonicalMIMEHeaderKey(p.Name)
		}
		hasClient = hasClient || p.Kind == config.KeyClientID
		s.key = append(s.key, kp)
	}
	s.recipe = strings.Join(keys, "|")
	if inPlan && !hasClient {
		return nil, fmt.Errorf("limit %s: a plan limit's key must contain client_id", c.Name)
	}
	if c.Condition != "" {
		rule, err := b.f.rule(c.Condition, loc)
		if err != nil {
			return nil, fmt.Errorf("limit %s: condition: %w", c.Name, err)
		}
		s.cond = rule
	}
	// draft-ietf-httpapi-ratelimit-headers §3: a quota policy item is an
	// sf-string name with q (quota units) and w (window in seconds).
	s.item = strconv.Quote(c.Name) + ";q=" + strconv.FormatInt(lim.Count, 10) + ";w=" + strconv.FormatInt(s.window, 10)
	s.rejected = b.limitRT.metrics.rejectedBy(c.Name)
	return s, nil
}

func quotaWindow(w config.QuotaWindow) ratelimit.Window {
	switch w {
	case config.WindowMinute:
		return ratelimit.Minute
	case config.WindowHour:
		return ratelimit.Hour
	case config.WindowDay:
		return ratelimit.Day
	}
	return ratelimit.Month
}

// isLimitName is the syntax config checks: it makes a name safe in an
// sf-string, a metric label and a counter key as it is.
func isLimitName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || (i > 0 && (c == '_' || c == '-'))) {
			return false
		}
	}
	return true
}

// opLimits are the limits of one operation: its API's and its own, then
// at request time its caller's plan. Scratch space for a request comes
// from a pool sized for the largest case, so a request allocates nothing
// for its checks.
type opLimits struct {
	t      *limitTable
	static []*limitSpec
	// variants[i] is the RateLimit-Policy cache for plan index i (0: no
	// plan).
	variants []*policyVariant
	scratch  sync.Pool
	// api and op are the values of the api and operation key parts.
	api, op string
}

// opLimitsFor compiles an operation's limits: the API's (apiCfg) and its
// own (opCfg, nil for an operation of an OpenAPI document). It returns
// nil when the operation has nothing to do: no limits, no plans and no
// blocks to check.
func (b *builder) opLimitsFor(apiName, opLabel string, apiCfg, opCfg []config.Limit, public bool, loc *time.Location) (*opLimits, error) {
	t := b.lim.table
	ol := &opLimits{t: t, api: apiName, op: opLabel}
	for _, list := range [][]config.Limit{apiCfg, opCfg} {
		for i := range list {
			s, err := b.limitSpecOnce(&list[i], loc)
			if err != nil {
				return nil, err
			}
			ol.static = append(ol.static, s)
		}
	}
	hasPlans := len(t.plans) > 0 && !public
	checksBlocks := t.blocks != nil && !public
	if len(ol.static) == 0 && !hasPlans && !checksBlocks {
		return nil, nil
	}
	if len(ol.static) > 0 && t.backend == nil {
		return nil, errNoLimiter
	}
	ol.variants = make([]*policyVariant, len(t.plans)+1)
	ol.variants[0] = newPolicyVariant(nil, ol.static)
	if !public {
		for _, p := range t.plans {
			ol.variants[p.idx] = newPolicyVariant(p.specs, ol.static)
		}
	}
	n := len(ol.static) + t.maxPlan
	ol.scratch.New = func() any { return newLimitScratch(n) }
	return ol, nil
}

// limitSpecOnce compiles an API or operation limit. An API's limits are
// compiled once and shared by its operations: the builder remembers them
// by their config entry.
func (b *builder) limitSpecOnce(c *config.Limit, loc *time.Location) (*limitSpec, error) {
	if s, ok := b.lim.specs[c]; ok {
		return s, nil
	}
	s, err := b.limitSpec(c, false, loc, b.lim.qloc, b.lim.names)
	if err != nil {
		return nil, err
	}
	b.lim.specs[c] = s
	return s, nil
}

// ceilSeconds rounds d up to whole seconds, for Retry-After and t: a
// client that waits that long is sure to be admitted (RFC 9110 §10.2.3).
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	s := int64(d / time.Second)
	if d%time.Second != 0 && s < math.MaxInt64 {
		s++
	}
	return s
}
