package catalog

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/duration"
	"github.com/portcullis/portcullis/internal/printable"
)

var (
	onErrorPolicies = []string{OnErrorDeny, OnErrorAllow, OnErrorLocal}
	abuseKeys       = []string{string(KeyClientID), string(KeySub)}
)

// rateLimit checks the plans, client plans and abuse rules, and every
// limit of the APIs and operations: names unique across all of them,
// rates and quotas that parse, keys that are known, conditions that
// compile, plan references that exist, abuse rules that make sense.
func (v *validator) rateLimit() {
	s := v.s
	r := &s.RateLimit
	v.rateLimitZone(r.TimeZone)
	// Conditions read times as policies do, in the gateway's zone.
	loc := s.Location()
	names := map[string]string{}
	v.names = names
	for _, plan := range slices.Sorted(maps.Keys(r.Plans)) {
		f := v.rl("plans." + plan)
		if !limitName.MatchString(plan) {
			v.add(f, fmt.Sprintf("plan name %q is not %s", plan, limitNameMsg), nil)
		}
		v.limits(f, r.Plans[plan], true, loc, names)
	}
	for _, client := range slices.Sorted(maps.Keys(r.ClientPlans)) {
		f := v.rl("client_plans." + client)
		plan := r.ClientPlans[client]
		switch {
		case client == "" || strings.IndexFunc(client, printable.IsSpaceOrControl) >= 0:
			v.add(f, fmt.Sprintf("client id %q must be non-empty, without spaces or control characters", client), nil)
		case plan == "":
			v.add(f, fmt.Sprintf("names no plan: name one of %s, or leave the client out", v.rl("plans")), nil)
		case !hasPlan(r, plan):
			v.add(f, fmt.Sprintf("plan %q is not declared in %s", plan, v.rl("plans")), nil)
		}
	}
	if r.DefaultPlan != "" && !hasPlan(r, r.DefaultPlan) {
		v.add(v.rl("default_plan"), fmt.Sprintf("plan %q is not declared in %s", r.DefaultPlan, v.rl("plans")), nil)
	}
	for i := range s.APIs {
		a := &s.APIs[i]
		f := v.gw(fmt.Sprintf("apis[%d]", i))
		v.limits(f+".limits", a.Limits, false, loc, names)
		for j := range a.Operations {
			v.limits(fmt.Sprintf("%s.operations[%d].limits", f, j), a.Operations[j].Limits, false, loc, names)
		}
	}
	v.abuse(r.Abuse)
}

func hasPlan(r *RateLimits, name string) bool {
	_, ok := r.Plans[name]
	return ok
}

// rateLimitZone checks the zone of calendar quotas.
func (v *validator) rateLimitZone(tz string) {
	if tz != "" {
		v.timeZone(v.rl("time_zone"), tz)
	}
}

// limits checks a list of limits at field; names maps each limit name
// seen so far to its field, for uniqueness across the catalog.
func (v *validator) limits(field string, limits []Limit, plan bool, loc *time.Location, names map[string]string) {
	for i := range limits {
		l := &limits[i]
		f := fmt.Sprintf("%s[%d]", field, i)
		switch {
		case l.Name == "":
			v.add(f+".name", "must not be empty: the name shown in RateLimit headers and metrics", nil)
		case !limitName.MatchString(l.Name):
			v.add(f+".name", fmt.Sprintf("%q is not %s", l.Name, limitNameMsg), nil)
		case strings.HasPrefix(l.Name, AbuseLimitPrefix):
			v.add(f+".name", fmt.Sprintf("%q starts with %q, which names the counters of abuse rules", l.Name, AbuseLimitPrefix), nil)
		case names[l.Name] != "":
			v.add(f+".name", fmt.Sprintf("%q is also the name of %s: limit names are unique across %s", l.Name, names[l.Name], v.f.Within), nil)
		default:
			names[l.Name] = f
		}
		v.limitAmount(f, l)
		v.limitKey(f, l, plan)
		v.requestRule(f+".condition", l.Condition, loc)
		v.oneOf(f+".on_backend_error", l.OnBackendError, onErrorPolicies)
		if l.Strict && l.OnBackendError == OnErrorAllow {
			v.add(f+".on_backend_error", "allow contradicts strict: a strict limit fails closed (deny) or counts locally (local)", nil)
		}
	}
}

// limitAmount checks quota, rate, burst and rolling.
func (v *validator) limitAmount(f string, l *Limit) {
	switch {
	case l.Quota != "" && l.Rate != "":
		v.add(f+".rate", "set quota or rate, not both (declare two limits for both)", nil)
	case l.Quota == "" && l.Rate == "":
		v.add(f+".quota", "needs quota (such as 2000/day) or rate (such as 100/s)", nil)
	case l.Quota != "":
		_, w, err := ParseQuota(l.Quota)
		if err != nil {
			v.add(f+".quota", err.Error(), nil)
		} else if l.Rolling && w == WindowMonth {
			v.add(f+".rolling", "a rolling quota needs a fixed window: minute, hour or day (months differ in length)", nil)
		}
		if l.Burst != 0 {
			v.add(f+".burst", "goes with rate: a quota admits its whole count at once", nil)
		}
	default:
		if _, _, err := ParseRate(l.Rate); err != nil {
			v.add(f+".rate", err.Error(), nil)
		}
		if l.Rolling {
			v.add(f+".rolling", "goes with quota: a rate is continuous already", nil)
		}
		switch {
		case l.Burst < 0:
			v.add(f+".burst", "must be at least 1 (0 means the rate's count)", nil)
		case l.Burst > MaxLimitCount:
			v.add(f+".burst", fmt.Sprintf("must be at most %d", MaxLimitCount), nil)
		}
	}
}

// limitKey checks a limit's key.
func (v *validator) limitKey(f string, l *Limit, plan bool) {
	if len(l.Key) == 0 {
		v.add(f+".key", "must list what the limit counts by, such as [client_id] or [sub] ([api] for one counter shared by every caller)", nil)
		return
	}
	hasClient := false
	for k, s := range l.Key {
		kf := fmt.Sprintf("%s.key[%d]", f, k)
		p, err := ParseKeyPart(s)
		switch {
		case err != nil:
			v.add(kf, err.Error(), nil)
			continue
		case contains(l.Key[:k], s):
			v.add(kf, fmt.Sprintf("%q is listed twice", s), nil)
		}
		hasClient = hasClient || p.Kind == KeyClientID
	}
	if plan && !hasClient {
		v.add(f+".key", "a plan counts per client: the key must contain client_id", nil)
	}
}

// abuse checks the abuse rules.
func (v *validator) abuse(rules []AbuseRule) {
	for i := range rules {
		a := &rules[i]
		f := v.rl(fmt.Sprintf("abuse[%d]", i))
		switch {
		case a.Name == "":
			v.add(f+".name", "must not be empty: the rule's name in logs, metrics and blocks", nil)
		case !limitName.MatchString(a.Name):
			v.add(f+".name", fmt.Sprintf("%q is not %s", a.Name, limitNameMsg), nil)
		case slices.ContainsFunc(rules[:i], func(o AbuseRule) bool { return o.Name == a.Name }):
			v.add(f+".name", fmt.Sprintf("%q is the name of another abuse rule", a.Name), nil)
		}
		if a.Key == "" {
			v.add(f+".key", "must be client_id or sub: what is counted and blocked", nil)
		} else {
			v.oneOf(f+".key", a.Key, abuseKeys)
		}
		switch {
		case a.Rejections < 1:
			v.add(f+".rejections", "must be at least 1: how many rejections within window are tolerated", nil)
		case a.Rejections > MaxLimitCount:
			v.add(f+".rejections", fmt.Sprintf("must be at most %d", MaxLimitCount), nil)
		}
		v.duration(f+".window", a.Window, duration.Bounds{Min: time.Second, Max: 24 * time.Hour})
		v.duration(f+".block", a.Block, duration.Bounds{Min: time.Second, Max: 720 * time.Hour})
	}
}
