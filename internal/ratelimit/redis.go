package ratelimit

import (
	"context"
	_ "embed"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisConfig configures the Redis backend.
type RedisConfig struct {
	// Prefix starts every key; empty means "pc:rl:". Keys use a hash tag
	// per request ({...}) so one script call touches one Cluster slot.
	Prefix string
	// Timeout bounds one round trip; zero means 50ms.
	Timeout time.Duration
	// BreakerFailures consecutive failures open the circuit breaker; zero
	// means 5. While open, calls fail at once (no timeout per request).
	BreakerFailures int
	// BreakerCooldown is how long the breaker stays open before one trial
	// call; zero means 2s.
	BreakerCooldown time.Duration
}

// Defaults of RedisConfig.
const (
	defaultRedisPrefix     = "pc:rl:"
	defaultRedisTimeout    = 50 * time.Millisecond
	defaultBreakerFailures = 5
	defaultBreakerCooldown = 2 * time.Second
)

// windowLetter names a calendar window in a key.
var windowLetter = [...]byte{Minute: 'm', Hour: 'h', Day: 'd', Month: 'M'}

// calendarSlack keeps a calendar quota's counter a while past its window,
// so a node whose clock lags still finds it instead of starting afresh.
const calendarSlack = time.Minute

//go:embed redis.lua
var redisLua string

// redisScript is shared by every backend: go-redis sends EVALSHA and falls
// back to EVAL (which loads the script) when the server does not know it.
var redisScript = redis.NewScript(redisLua)

// errBreakerOpen is the failure reported while the breaker refuses calls.
var errBreakerOpen = fmt.Errorf("%w: circuit breaker open", ErrBackend)

// Redis is the cluster backend: every limit of a request is evaluated by
// one Lua script in one round trip, on the Redis server's clock, with
// constant memory per key (no per-request log). On a backend failure each
// limit follows its OnError: Deny refuses, Allow skips, Local counts in
// the fallback memory backend. Safe for concurrent use.
//
// Keys are Prefix + "{" + tag + "}:" + limit name + ":" + marker + ":" +
// key, where the marker is "r" for a rate or rolling quota (the key holds
// a TAT) and, for a calendar quota (the key holds a count), the window's
// letter (m, h, d, M) and its start in Unix seconds. A key holds one small
// string and expires when the limit is full again or the window is over
// (plus a minute), so memory is constant per key and idle keys vanish.
//
// The tag is the same for every check of a request, so the script touches
// one Redis Cluster slot: the limits of one request share a slot. Its
// value depends on the client:
//   - a single server (redis.Client, Sentinel failover): the fixed tag
//     "rl". Every key is in one slot, which costs nothing there, and a
//     counter is the same whatever else the request checks, exactly as in
//     the memory backend.
//   - Redis Cluster or a Ring (which shard by tag): a hash of the first
//     check's key, spreading requests over the shards. A counter is then
//     found again only by requests whose first check has the same key, so
//     callers put the broadest key first (the client's plan): a per-user
//     limit behind a per-client plan counts per client and user.
//
// Rates and rolling quotas run on the Redis server's clock. Calendar
// quota windows are cut on the node's clock (the now passed in), since a
// window in a time zone needs the zone's calendar: NTP-synced nodes agree
// within milliseconds, so only requests that close to a window boundary
// may count in the neighbouring window.
type Redis struct {
	client   redis.UniversalClient
	prefix   string
	timeout  time.Duration
	fallback func() *Memory
	breaker  breaker
	// spread derives the hash tag from the request's first key (Cluster,
	// Ring) instead of using one fixed tag.
	spread bool
	// ctxDeadlines reports that the client bounds its socket reads by the
	// context's deadline (ContextTimeoutEnabled); otherwise eval enforces
	// Timeout itself.
	ctxDeadlines bool
}

var _ Backend = (*Redis)(nil)

// NewRedis returns a backend over client; fallback serves limits with
// OnError Local while Redis is unreachable (nil means NewMemory defaults).
//
// Build client with ContextTimeoutEnabled, so that cfg.Timeout bounds the
// socket read itself; without it the backend still answers within Timeout
// but runs each call in a goroutine of its own to do so.
func NewRedis(client redis.UniversalClient, cfg RedisConfig, fallback *Memory, logger *slog.Logger) *Redis {
	if cfg.Prefix == "" {
		cfg.Prefix = defaultRedisPrefix
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultRedisTimeout
	}
	if cfg.BreakerFailures <= 0 {
		cfg.BreakerFailures = defaultBreakerFailures
	}
	if cfg.BreakerCooldown <= 0 {
		cfg.BreakerCooldown = defaultBreakerCooldown
	}
	local := func() *Memory { return fallback }
	if fallback == nil {
		// Made on first use: most nodes never need it.
		local = sync.OnceValue(func() *Memory { return NewMemory(MemoryConfig{}) })
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Redis{
		client:       client,
		prefix:       cfg.Prefix,
		timeout:      cfg.Timeout,
		fallback:     local,
		spread:       sharded(client),
		ctxDeadlines: honoursDeadlines(client),
		breaker: breaker{
			threshold: int64(cfg.BreakerFailures),
			cooldown:  cfg.BreakerCooldown,
			logger:    logger.With("component", "ratelimit"),
		},
	}
}

// Allow implements Backend in one round trip to Redis.
//
// When Redis answers, the result is exact and err is nil. When it does not
// (a failure, a timeout, or the breaker open), err wraps ErrBackend and
// each check follows its limit's OnError:
//   - Deny (also an unset OnError: fail closed): the request is refused.
//     Its state is Denied with RetryAfter until Redis may be tried again;
//     the other checks are only looked at (nothing is consumed anywhere).
//   - Allow: the limit is skipped; its state reports it full (Remaining
//     Burst or Count, no Reset).
//   - Local: the limit is counted in the fallback memory backend, with
//     the other Local checks of the request.
//
// So allowed is false with an error wrapping ErrBackend and ErrFailClosed
// if any check is Deny (or the fallback failed), and otherwise it is the
// fallback's verdict on the Local checks (true when there are none), with
// an error wrapping ErrBackend alone. Callers use allowed to decide, err
// (errors.Is ErrBackend) to log and count, and ErrFailClosed to tell a
// refusal for want of a backend (503) from a limit reached locally (429). Invalid checks return an ErrInvalidCheck
// error, allowed false, and touch nothing.
func (r *Redis) Allow(ctx context.Context, checks []Check, now time.Time, states []State) (bool, error) {
	if err := validateRedis(checks, now, states); err != nil {
		return false, err
	}
	if len(checks) == 0 {
		return true, nil
	}
	reply, err := r.run(ctx, checks, now, true)
	if err != nil {
		return r.degrade(ctx, checks, now, states, err)
	}
	return r.fill(checks, now, states, reply), nil
}

// Peek implements Backend: the same script, which then writes nothing. On a
// backend failure it returns an error wrapping ErrBackend and leaves
// states zero.
func (r *Redis) Peek(ctx context.Context, checks []Check, now time.Time, states []State) error {
	if err := validateRedis(checks, now, states); err != nil {
		return err
	}
	if len(checks) == 0 {
		return nil
	}
	reply, err := r.run(ctx, checks, now, false)
	if err != nil {
		clear(states)
		return err
	}
	r.fill(checks, now, states, reply)
	return nil
}

// BreakerOpen reports whether the circuit breaker is open (for metrics).
func (r *Redis) BreakerOpen() bool { return r.breaker.isOpen() }

// run evaluates checks in one script call, through the breaker. Every error
// it returns wraps ErrBackend.
func (r *Redis) run(ctx context.Context, checks []Check, now time.Time, consume bool) ([]int64, error) {
	ok, trial := r.breaker.allow(now)
	if !ok {
		return nil, errBreakerOpen
	}
	keys, args := r.scriptInput(checks, now, consume)
	rctx, cancel := context.WithTimeout(ctx, r.timeout)
	reply, err := r.eval(rctx, keys, args)
	cancel()
	if err == nil && len(reply) != 1+4*len(checks) {
		err = fmt.Errorf("unexpected reply of %d values", len(reply))
	}
	if err != nil {
		if ctx.Err() != nil {
			// The caller gave up; that says nothing about Redis.
			r.breaker.abandon(trial)
		} else {
			r.breaker.failure(now, trial, err)
		}
		return nil, fmt.Errorf("%w: redis: %w", ErrBackend, err)
	}
	r.breaker.success()
	return reply, nil
}

// eval runs the script within ctx's deadline. go-redis applies a context's
// deadline to socket reads only when the client was built with
// ContextTimeoutEnabled; without it a hung server would hold the request
// for the client's ReadTimeout (3s by default), so the call then runs
// aside and is abandoned when ctx ends (its connection finishes or fails
// in the background, within the client's own timeouts).
func (r *Redis) eval(ctx context.Context, keys []string, args []any) ([]int64, error) {
	if r.ctxDeadlines {
		return redisScript.Run(ctx, r.client, keys, args...).Int64Slice()
	}
	type result struct {
		reply []int64
		err   error
	}
	done := make(chan result, 1)
	go func() {
		reply, err := redisScript.Run(ctx, r.client, keys, args...).Int64Slice()
		done <- result{reply, err}
	}()
	select {
	case res := <-done:
		return res.reply, res.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// scriptInput builds the KEYS and ARGV of the script (see redis.lua).
func (r *Redis) scriptInput(checks []Check, now time.Time, consume bool) ([]string, []any) {
	tag := fixedTag
	if r.spread {
		h := hashTag(checks[0].Key)
		tag = h[:]
	}
	keys := make([]string, len(checks))
	args := make([]any, 1, 1+3*len(checks))
	args[0] = "0"
	if consume {
		args[0] = "1"
	}
	buf := make([]byte, 0, 64)
	for i, c := range checks {
		l := c.Limit
		buf = append(buf[:0], r.prefix...)
		buf = append(buf, '{')
		buf = append(buf, tag...)
		buf = append(buf, "}:"...)
		buf = append(buf, l.Name...)
		// A marker after the name says what the key holds, so a limit
		// changed from a rate to a quota, or from days to hours, starts
		// afresh instead of misreading the old state; names have no ':',
		// so whatever the caller's key holds cannot forge a marker.
		if l.IsGCRA() {
			buf = append(buf, ":r:"...)
			args = append(args, "r", int64(l.Interval()), l.EffectiveBurst())
		} else {
			start, end := WindowBounds(l.Window, l.Location, now)
			buf = append(buf, ':', windowLetter[l.Window])
			buf = strconv.AppendInt(buf, start.Unix(), 10)
			buf = append(buf, ':')
			args = append(args, "q", l.Count, end.Add(calendarSlack).UnixMilli())
		}
		buf = append(buf, c.Key...)
		keys[i] = string(buf)
	}
	return keys, args
}

// fill turns the script's reply into states and reports whether the
// request was admitted.
func (r *Redis) fill(checks []Check, now time.Time, states []State, reply []int64) bool {
	for i, c := range checks {
		v := reply[1+4*i:]
		s := State{
			Denied:     v[0] == 1,
			Remaining:  v[1],
			Reset:      time.Duration(v[2]),
			RetryAfter: time.Duration(v[3]),
		}
		if !c.Limit.IsGCRA() {
			// The script knows counts, not calendars.
			_, end := WindowBounds(c.Limit.Window, c.Limit.Location, now)
			s.Reset = end.Sub(now)
			if s.Denied {
				s.RetryAfter = s.Reset
			}
		}
		states[i] = s
	}
	return reply[0] == 1
}

// degrade answers when Redis cannot, following each limit's OnError (see
// Allow). cause wraps ErrBackend and is returned as is.
func (r *Redis) degrade(ctx context.Context, checks []Check, now time.Time, states []State, cause error) (bool, error) {
	deny := false
	var local []int
	for i, c := range checks {
		switch c.Limit.OnError {
		case Allow:
			states[i] = State{Remaining: fullRemaining(c.Limit)}
		case Local:
			local = append(local, i)
		default:
			deny = true
			states[i] = State{Denied: true, RetryAfter: r.breaker.retryAfter(now)}
		}
	}
	if len(local) == 0 {
		if deny {
			return false, fmt.Errorf("%w: %w", ErrFailClosed, cause)
		}
		return true, cause
	}
	lc := make([]Check, len(local))
	ls := make([]State, len(local))
	for j, i := range local {
		lc[j] = checks[i]
	}
	allowed := false
	var err error
	if deny {
		// Refused anyway: look, so the states are right, but take nothing.
		err = r.fallback().Peek(ctx, lc, now, ls)
	} else {
		allowed, err = r.fallback().Allow(ctx, lc, now, ls)
	}
	for j, i := range local {
		states[i] = ls[j]
	}
	if err != nil {
		return false, fmt.Errorf("%w: %w (local fallback: %w)", ErrFailClosed, cause, err)
	}
	if deny {
		return false, fmt.Errorf("%w: %w", ErrFailClosed, cause)
	}
	return allowed, cause
}

// fullRemaining is how many requests a full limit admits at once.
func fullRemaining(l *Limit) int64 {
	if l.IsGCRA() {
		return l.EffectiveBurst()
	}
	return l.Count
}

// validateRedis refuses input the backend cannot evaluate, before any
// round trip: the checks (ValidateChecks) and now, which cuts calendar
// windows even though rates run on the server's clock.
func validateRedis(checks []Check, now time.Time, states []State) error {
	if err := ValidateChecks(checks, states); err != nil {
		return err
	}
	if _, err := unixNano(now); err != nil {
		return err
	}
	return nil
}

// fixedTag is the hash tag of every key on a single server.
var fixedTag = []byte("rl")

// sharded reports whether client spreads keys over servers by hash tag.
func sharded(client redis.UniversalClient) bool {
	switch client.(type) {
	case *redis.ClusterClient, *redis.Ring:
		return true
	}
	return false
}

// honoursDeadlines reports whether client applies context deadlines to
// its reads and writes.
func honoursDeadlines(client redis.UniversalClient) bool {
	switch c := client.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		return c.Options().ContextTimeoutEnabled
	}
	return false
}

// hashTag names the Cluster slot of a request: 16 hex digits of the
// FNV-1a hash of its first key. A hash, not the key itself, because a key
// may hold braces or be empty, and either would break the tag.
func hashTag(key string) [16]byte {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
		digits = "0123456789abcdef"
	)
	h := uint64(offset)
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= prime
	}
	var tag [16]byte
	for i := 15; i >= 0; i-- {
		tag[i] = digits[h&0xf]
		h >>= 4
	}
	return tag
}
