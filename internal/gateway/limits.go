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

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/ratelimit"
)

// Rate limits sit between the policy and body steps (DESIGN: after
// policy, before request inspection). A table's limits are compiled once
// per snapshot: each limit becomes a limitSpec (its ratelimit.Limit,
// key recipe, condition and RateLimit-Policy item); each operation gets
// the specs of its API and itself (opLimits), and the plans are shared
// by every operation and chosen per request by the token's client_id.

// errNoLimiter refuses a snapshot with limits on a gateway that has
// nowhere to count them (fail closed: a limit silently not enforced is
// worse than a gateway that does not start).
var errNoLimiter = errors.New("rate limits, plans or abuse rules are configured but the gateway has no rate-limit backend")

// limitBuild is what one build of a table compiled of the limits: the
// table, the API and operation limits compiled so far (an API's are
// shared by its operations) and the zone of calendar quotas.
type limitBuild struct {
	table *limitTable
	specs map[*catalog.Limit]*limitSpec
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
	kind catalog.KeyKind
	// name is the claim name, or the canonical header name.
	name         string
	bits4, bits6 int
}

// buildLimits compiles the limits of s (plans and abuse rules; API and
// operation limits are compiled per API by opLimitsFor). loc is the zone
// conditions read times in.
func (b *builder) buildLimits(s *catalog.Snapshot, loc *time.Location) (*limitTable, error) {
	rl := &s.RateLimit
	t := &limitTable{backend: b.limiter, blocks: b.blocks, rt: b.limitRT, clientPlans: map[string]*plan{}}
	qloc := s.QuotaLocation()
	b.lim = limitBuild{table: t, specs: map[*catalog.Limit]*limitSpec{}, qloc: qloc}
	if !s.LimitsEnabled() {
		return t, nil
	}
	if b.limiter == nil {
		return nil, errNoLimiter
	}
	byName := map[string]*plan{}
	for _, name := range slices.Sorted(maps.Keys(rl.Plans)) {
		p := &plan{name: name, idx: len(t.plans) + 1}
		for i := range rl.Plans[name] {
			s, err := b.limitSpec(&rl.Plans[name][i], loc, qloc)
			if err != nil {
				return nil, fmt.Errorf("ratelimit.plans.%s[%d]: %w", name, i, err)
			}
			p.specs = append(p.specs, s)
		}
		t.maxPlan = max(t.maxPlan, len(p.specs))
		t.plans = append(t.plans, p)
		byName[name] = p
	}
	// Validate made sure every plan named here is declared.
	for _, client := range slices.Sorted(maps.Keys(rl.ClientPlans)) {
		t.clientPlans[client] = byName[rl.ClientPlans[client]]
	}
	if rl.DefaultPlan != "" {
		t.defaultPlan = byName[rl.DefaultPlan]
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

// limitSpec compiles one limit of a validated snapshot (its syntax,
// names and keys are the catalog's to check); loc is the zone its
// condition reads times in, qloc the one calendar quotas start in.
func (b *builder) limitSpec(c *catalog.Limit, loc, qloc *time.Location) (*limitSpec, error) {
	lim := &ratelimit.Limit{Name: c.Name}
	var window time.Duration
	if c.Quota != "" {
		n, w, err := catalog.ParseQuota(c.Quota)
		if err != nil {
			return nil, fmt.Errorf("limit %s: %w", c.Name, err)
		}
		lim.Kind, lim.Count, lim.Period, window = ratelimit.Quota, n, w.Period(), w.Period()
		if c.Rolling {
			lim.Rolling = true
		} else {
			lim.Window, lim.Location = quotaWindow(w), qloc
		}
	} else {
		n, per, err := catalog.ParseRate(c.Rate)
		if err != nil {
			return nil, fmt.Errorf("limit %s: %w", c.Name, err)
		}
		lim.Kind, lim.Count, lim.Period, lim.Burst, window = ratelimit.Rate, n, per, c.Burst, per
		if lim.Burst == 0 {
			lim.Burst = n
		}
	}
	switch c.OnBackendError {
	case catalog.OnErrorDeny:
		lim.OnError = ratelimit.Deny
	case catalog.OnErrorAllow:
		lim.OnError = ratelimit.Allow
	default:
		lim.OnError = ratelimit.Local
	}
	if err := lim.Validate(); err != nil {
		return nil, fmt.Errorf("limit %s: %w", c.Name, err)
	}
	s := &limitSpec{lim: lim, name: c.Name, window: int64(window / time.Second)}
	for i, k := range c.Key {
		p, err := catalog.ParseKeyPart(k)
		if err != nil {
			return nil, fmt.Errorf("limit %s: key[%d]: %w", c.Name, i, err)
		}
		kp := keyPart{kind: p.Kind, name: p.Name, bits4: p.IPv4Bits, bits6: p.IPv6Bits}
		if p.Kind == catalog.KeyHeader {
			kp.name = textproto.CanonicalMIMEHeaderKey(p.Name)
		}
		s.key = append(s.key, kp)
	}
	s.recipe = strings.Join(c.Key, "|")
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

func quotaWindow(w catalog.QuotaWindow) ratelimit.Window {
	switch w {
	case catalog.WindowMinute:
		return ratelimit.Minute
	case catalog.WindowHour:
		return ratelimit.Hour
	case catalog.WindowDay:
		return ratelimit.Day
	}
	return ratelimit.Month
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
func (b *builder) opLimitsFor(apiName, opLabel string, apiCfg, opCfg []catalog.Limit, public bool, loc *time.Location) (*opLimits, error) {
	t := b.lim.table
	ol := &opLimits{t: t, api: apiName, op: opLabel}
	for _, list := range [][]catalog.Limit{apiCfg, opCfg} {
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
// by their catalog entry.
func (b *builder) limitSpecOnce(c *catalog.Limit, loc *time.Location) (*limitSpec, error) {
	if s, ok := b.lim.specs[c]; ok {
		return s, nil
	}
	s, err := b.limitSpec(c, loc, b.lim.qloc)
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
