package gateway

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/portcullis/portcullis/internal/ratelimit"
)

// The RateLimit header fields (draft-ietf-httpapi-ratelimit-headers, the
// structured-field form): RateLimit-Policy lists the quota policies that
// applied, RateLimit the state of the most restrictive one.
const (
	headerRateLimitPolicy = "Ratelimit-Policy"
	headerRateLimit       = "Ratelimit"
	headerRetryAfterName  = "Retry-After"
)

// maxCachedConds bounds the conditional limits whose combinations get a
// cached RateLimit-Policy value (2^8 entries at most per plan variant);
// past it the value is rendered per request.
const maxCachedConds = 8

// policyVariant is one operation's limits for one plan (or none): the
// plan's specs, then the API's and the operation's, in the order they are
// checked. A limit with a condition gets a bit; RateLimit-Policy for each
// combination of conditional limits that applied is rendered once, on
// first use, so the request path formats nothing.
type policyVariant struct {
	specs []*limitSpec
	// bit[i] is spec i's bit in a request's mask, -1 when it has no
	// condition (it always applies).
	bit   []int8
	conds int
	// order is specs sorted for the header: shortest window first, then
	// by name.
	order []*limitSpec
	cache []atomic.Pointer[[]string]
}

func newPolicyVariant(planSpecs, static []*limitSpec) *policyVariant {
	v := &policyVariant{specs: append(slices.Clip(planSpecs), static...)}
	v.bit = make([]int8, len(v.specs))
	for i, s := range v.specs {
		v.bit[i] = -1
		if s.cond != nil {
			if v.conds < maxCachedConds {
				v.bit[i] = int8(v.conds)
			}
			v.conds++
		}
	}
	v.order = slices.Clone(v.specs)
	slices.SortStableFunc(v.order, func(a, b *limitSpec) int {
		return cmp.Or(cmp.Compare(a.window, b.window), strings.Compare(a.name, b.name))
	})
	if v.conds <= maxCachedConds {
		v.cache = make([]atomic.Pointer[[]string], 1<<v.conds)
	}
	return v
}

// policyHeader is RateLimit-Policy for the specs that applied: mask holds
// the bits of the conditional ones, applied lists them all (for variants
// with too many conditions to cache).
func (v *policyVariant) policyHeader(mask uint32, applied []*limitSpec) []string {
	if v.cache == nil {
		return renderPolicy(v.order, func(s *limitSpec) bool { return slices.Contains(applied, s) })
	}
	if h := v.cache[mask].Load(); h != nil {
		return *h
	}
	h := renderPolicy(v.order, func(s *limitSpec) bool {
		i := slices.Index(v.specs, s)
		return v.bit[i] < 0 || mask&(1<<v.bit[i]) != 0
	})
	v.cache[mask].Store(&h)
	return h
}

// renderPolicy joins the items of the specs in order that applied.
func renderPolicy(order []*limitSpec, applied func(*limitSpec) bool) []string {
	var b strings.Builder
	for _, s := range order {
		if !applied(s) {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(s.item)
	}
	return []string{b.String()}
}

// mostRestrictive picks the check RateLimit describes: the first one that
// refused, else the one with the fewest requests left (the later reset on
// a tie).
func mostRestrictive(states []ratelimit.State) int {
	for i := range states {
		if states[i].Denied {
			return i
		}
	}
	best := 0
	for i := 1; i < len(states); i++ {
		st, b := &states[i], &states[best]
		if st.Remaining < b.Remaining || st.Remaining == b.Remaining && st.Reset > b.Reset {
			best = i
		}
	}
	return best
}

// appendRateLimit renders a RateLimit item: "name";r=R;t=T.
func appendRateLimit(b []byte, name string, st *ratelimit.State) []byte {
	b = append(b, '"')
	b = append(b, name...)
	b = append(b, `";r=`...)
	b = strconv.AppendInt(b, max(st.Remaining, 0), 10)
	b = append(b, ";t="...)
	b = strconv.AppendInt(b, ceilSeconds(st.Reset), 10)
	return b
}
