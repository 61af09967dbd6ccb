package gateway

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/ratelimit"
)

// The problems of the limits step. Neither names a limit, a key or a
// count: the RateLimit headers say what a client may know.
var (
	problemRateLimited = newProblem(http.StatusTooManyRequests, "rate-limited", "Too many requests",
		"A rate limit or quota for these calls is exhausted; retry after the number of seconds in Retry-After.")
	problemBlocked = newProblem(http.StatusTooManyRequests, "blocked", "Too many requests",
		"Access is suspended for a while after too many refused requests; retry after the number of seconds in Retry-After.")
)

// maxKeyValue bounds a key part's value as it is stored: a longer one (a
// header the client chose) is replaced by its SHA-256, so counters and
// interned keys stay small whatever a client sends.
const maxKeyValue = 128

// limitScratch is one request's working space, pooled per operation and
// sized for its largest case.
type limitScratch struct {
	checks []ratelimit.Check
	states []ratelimit.State
	specs  []*limitSpec
	buf    []byte
	in     policy.RequestInput
}

func newLimitScratch(n int) *limitScratch {
	return &limitScratch{
		checks: make([]ratelimit.Check, 0, n),
		states: make([]ratelimit.State, n),
		specs:  make([]*limitSpec, 0, n),
		buf:    make([]byte, 0, 256),
	}
}

// reset drops what the request left, so a pooled scratch holds no claims
// or headers of a finished request.
func (sc *limitScratch) reset() {
	clear(sc.checks)
	sc.checks = sc.checks[:0]
	clear(sc.specs)
	sc.specs = sc.specs[:0]
	sc.in = policy.RequestInput{}
}

// limitStep checks blocks, then every limit that applies to the request
// in one call of the backend, and answers 429 when one refuses. It runs
// after the policies, so keys and conditions see verified claims only.
type limitStep struct {
	ol   *opLimits
	loc  *time.Location
	next http.Handler
}

func newLimits(c *stepConfig, next http.Handler) (http.Handler, error) {
	if c.limits == nil {
		return next, nil
	}
	return &limitStep{ol: c.limits, loc: c.loc, next: next}, nil
}

func (s *limitStep) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ex := exchangeOf(w)
	ol := s.ol
	t := ol.t
	var (
		clientID, sub string
		claims        map[string]any
	)
	hasToken := ex.verified != nil && ex.verified.Claims != nil
	if hasToken {
		c := ex.verified.Claims
		clientID, sub, claims = c.ClientID, c.Subject, c.Raw
	}
	// The request's arrival, read once by the gateway: another clock read
	// would cost more than the limits themselves.
	now := ex.start
	sc := ol.scratch.Get().(*limitScratch)
	if t.blocks != nil && hasToken {
		if b, ok := t.blocked(sc, clientID, sub, now); ok {
			ol.put(sc)
			refuseBlocked(ex, t.rt, b, now)
			return
		}
	}
	v := ol.variants[0]
	if hasToken {
		if p := t.planFor(clientID); p != nil && ol.variants[p.idx] != nil {
			v = ol.variants[p.idx]
		}
	}
	var (
		mask    uint32
		inReady bool
		// Limits with the same key recipe (a plan's, all per client)
		// share the key built for the first.
		lastRecipe, lastKey string
	)
	for i, spec := range v.specs {
		if spec.cond != nil {
			if !inReady {
				s.fillInput(&sc.in, ex, r, claims, now)
				inReady = true
			}
			// An evaluation error (a claim the token lacks) is false: the
			// limit does not apply, as documented for conditions.
			if !spec.cond.Allow(&sc.in) {
				continue
			}
			if b := v.bit[i]; b >= 0 {
				mask |= 1 << b
			}
		}
		if spec.recipe != lastRecipe || lastKey == "" {
			lastRecipe, lastKey = spec.recipe, ol.key(sc, spec, ex, r, clientID, sub, claims)
		}
		sc.checks = append(sc.checks, ratelimit.Check{Limit: spec.lim, Key: lastKey})
		sc.specs = append(sc.specs, spec)
	}
	if len(sc.checks) == 0 {
		ol.put(sc)
		s.next.ServeHTTP(w, r)
		return
	}
	states := sc.states[:len(sc.checks)]
	clear(states)
	// One call for every limit of the request: with Redis, one round
	// trip, which the span times.
	lctx, span := ex.child(r.Context(), spanRateLimit)
	ok, err := t.backend.Allow(lctx, sc.checks, now, states)
	traceLimits(span, len(sc.checks), ok, err)
	if err != nil && (errors.Is(err, ratelimit.ErrFailClosed) || !errors.Is(err, ratelimit.ErrBackend)) {
		// Fail closed: a strict limit could not be counted (or the
		// backend failed in a way it does not describe).
		ol.put(sc)
		t.rt.backendError(r.Context(), err, false, now)
		ex.reason = "rate limit backend"
		ex.problem(problemUnavailable, decisionUnavailable)
		return
	}
	h := w.Header()
	h[headerRateLimitPolicy] = v.policyHeader(mask, sc.specs)
	if err != nil {
		t.rt.backendError(r.Context(), err, ok, now)
		if ok {
			// Limits that may pass without their backend did; their
			// states say nothing reliable, so no RateLimit field.
			ol.put(sc)
			s.next.ServeHTTP(w, r)
			return
		}
		// A limit counted in this node's memory (on_backend_error:
		// local) is reached: refused like any limit, with 429 and the
		// local state's Retry-After, below.
	}
	i := mostRestrictive(states)
	sc.buf = appendRateLimit(sc.buf[:0], sc.specs[i].name, &states[i])
	h[headerRateLimit] = t.rt.headers.get(sc.buf)
	if ok {
		ol.put(sc)
		s.next.ServeHTTP(w, r)
		return
	}
	var retry time.Duration
	for j := range states {
		if states[j].Denied {
			retry = max(retry, states[j].RetryAfter)
			sc.specs[j].rejected.inc()
		}
	}
	sc.buf = strconv.AppendInt(sc.buf[:0], max(ceilSeconds(retry), 1), 10)
	h[headerRetryAfterName] = t.rt.headers.get(sc.buf)
	ol.put(sc)
	ex.reason = "rate limit"
	ex.problem(problemRateLimited, decisionDenyRate)
	if len(t.abuse) > 0 && hasToken {
		t.recordRejection(r.Context(), clientID, sub, now)
	}
}

// put returns a scratch to the pool, emptied.
func (ol *opLimits) put(sc *limitScratch) {
	sc.reset()
	ol.scratch.Put(sc)
}

// fillInput is the policy step's input, so a condition reads what a
// policy reads.
func (s *limitStep) fillInput(in *policy.RequestInput, ex *exchange, r *http.Request, claims map[string]any, now time.Time) {
	*in = policy.RequestInput{
		IP:     ex.client,
		Method: r.Method,
		Path:   r.URL.Path,
		Params: ex.paramMap(),
		Header: r.Header,
		Time:   now.In(s.loc),
		Claims: claims,
	}
}

// key builds a check's key: its parts joined by '|' (backends keep each
// limit's keys apart by its name). Free-text parts are length-prefixed
// ("3:bob") and addresses hold no '|', so no two different requests'
// parts can spell the same key. The key is interned: a caller seen
// before costs no allocation.
func (ol *opLimits) key(sc *limitScratch, spec *limitSpec, ex *exchange, r *http.Request, clientID, sub string, claims map[string]any) string {
	b := sc.buf[:0]
	for i, p := range spec.key {
		if i > 0 {
			b = append(b, '|')
		}
		switch p.kind {
		case catalog.KeyClientID:
			b = appendKeyValue(b, clientID)
		case catalog.KeySub:
			b = appendKeyValue(b, sub)
		case catalog.KeyAPI:
			b = appendKeyValue(b, ol.api)
		case catalog.KeyOperation:
			b = appendKeyValue(b, ol.op)
		case catalog.KeyIP:
			b = appendIPKey(b, ex.client, p.bits4, p.bits6)
		case catalog.KeyClaim:
			b = appendClaimKey(b, claims[p.name])
		case catalog.KeyHeader:
			var v string
			if vs := r.Header[p.name]; len(vs) > 0 {
				v = vs[0]
			}
			b = appendKeyValue(b, v)
		}
	}
	sc.buf = b
	return ol.t.rt.keys.get(b)
}

// appendKeyValue appends "len:value", or "h:" and the value's SHA-256
// when it is longer than maxKeyValue.
func appendKeyValue(b []byte, v string) []byte {
	if len(v) > maxKeyValue {
		sum := sha256.Sum256([]byte(v))
		b = append(b, "h:"...)
		return base64.RawURLEncoding.AppendEncode(b, sum[:])
	}
	b = strconv.AppendInt(b, int64(len(v)), 10)
	b = append(b, ':')
	return append(b, v...)
}

// appendIPKey appends the client's network: the address masked to bits4
// or bits6 (netip's Prefix masks), nothing when the address is unknown.
func appendIPKey(b []byte, a netip.Addr, bits4, bits6 int) []byte {
	if !a.IsValid() {
		return b
	}
	bits := bits6
	if a.Is4() {
		bits = bits4
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return b
	}
	return p.AppendTo(b)
}

// appendClaimKey appends a string or number claim; any other value (an
// object, a list, a bool, nothing) is an empty value, so such requests
// share one counter rather than escape the limit.
func appendClaimKey(b []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return appendKeyValue(b, x)
	case json.Number:
		return appendKeyValue(b, string(x))
	case float64:
		var tmp [32]byte
		n := strconv.AppendFloat(tmp[:0], x, 'g', -1, 64)
		b = strconv.AppendInt(b, int64(len(n)), 10)
		b = append(b, ':')
		return append(b, n...)
	case int64:
		var tmp [24]byte
		n := strconv.AppendInt(tmp[:0], x, 10)
		b = strconv.AppendInt(b, int64(len(n)), 10)
		b = append(b, ':')
		return append(b, n...)
	case int:
		return appendClaimKey(b, int64(x))
	}
	return appendKeyValue(b, "")
}

// blocked reports a block on the caller's client or user.
func (t *limitTable) blocked(sc *limitScratch, clientID, sub string, now time.Time) (ratelimit.Block, bool) {
	if clientID != "" {
		sc.buf = append(append(sc.buf[:0], blockPrefixClient...), clientID...)
		if b, ok := t.blocks.Blocked(t.rt.keys.get(sc.buf), now); ok {
			return b, true
		}
	}
	if sub != "" {
		sc.buf = append(append(sc.buf[:0], blockPrefixSub...), sub...)
		if b, ok := t.blocks.Blocked(t.rt.keys.get(sc.buf), now); ok {
			return b, true
		}
	}
	return ratelimit.Block{}, false
}

// refuseBlocked answers a blocked caller: 429 until the block ends.
func refuseBlocked(ex *exchange, rt *limitRuntime, b ratelimit.Block, now time.Time) {
	buf := strconv.AppendInt(make([]byte, 0, 20), max(ceilSeconds(b.Until.Sub(now)), 1), 10)
	ex.rw.Header()[headerRetryAfterName] = rt.headers.get(buf)
	ex.reason = "blocked"
	ex.problem(problemBlocked, decisionDenyBlocked)
}
