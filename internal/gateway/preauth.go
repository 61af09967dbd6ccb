package gateway

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/ratelimit"
)

// preAuthKeys bounds the addresses the pre-authentication limit tracks
// on one node; past it, idle ones go first (ratelimit.Memory).
const preAuthKeys = 1 << 18

// preAuthIPv6Bits is the IPv6 prefix counted as one client: a host
// usually gets a /64, and counting single addresses would let it make
// up as many as it likes.
const preAuthIPv6Bits = 64

// preAuthLimit counts every request that presents a token, per client
// address, before the token is resolved: junk tokens from one address
// then cost the authorization server at most the rate, however many
// distinct ones it makes up. It lives in the node's memory, so its state
// survives reloads (the backend is the gateway's) and costs no network.
type preAuthLimit struct {
	lim  *ratelimit.Limit
	mem  *ratelimit.Memory
	keys *interner[string]
}

// newPreAuthLimit compiles the snapshot's pre-authentication limit; nil
// when it has none. The snapshot is validated.
func newPreAuthLimit(c catalog.PreAuthLimit, mem *ratelimit.Memory, keys *interner[string]) (*preAuthLimit, error) {
	if c.Rate == "" {
		return nil, nil
	}
	n, period, err := catalog.ParseRate(c.Rate)
	if err != nil {
		return nil, fmt.Errorf("preauth_limit: %w", err)
	}
	lim := &ratelimit.Limit{Name: "preauth", Kind: ratelimit.Rate, Count: n, Period: period, Burst: c.Burst}
	if err := lim.Validate(); err != nil {
		return nil, fmt.Errorf("preauth_limit: %w", err)
	}
	return &preAuthLimit{lim: lim, mem: mem, keys: keys}, nil
}

// allow counts a request from client at now; when it is over the rate,
// it returns false and how long until one more would be admitted.
func (p *preAuthLimit) allow(client netip.Addr, now time.Time) (bool, time.Duration) {
	if client.Is6() && !client.Is4In6() {
		client = netip.PrefixFrom(client, preAuthIPv6Bits).Masked().Addr()
	}
	var buf [48]byte
	key := p.keys.get(client.AppendTo(buf[:0]))
	checks := [1]ratelimit.Check{{Limit: p.lim, Key: key}}
	var states [1]ratelimit.State
	// The memory backend fails only on input it cannot evaluate (a
	// time out of range): refuse then, as every check fails closed.
	ok, err := p.mem.Allow(context.Background(), checks[:], now, states[:])
	if err != nil {
		return false, time.Second
	}
	return ok, states[0].RetryAfter
}

// refusePreAuth answers a request over the pre-authentication limit.
func refusePreAuth(ex *exchange, rt *limitRuntime, retry time.Duration) {
	buf := strconv.AppendInt(make([]byte, 0, 20), max(ceilSeconds(retry), 1), 10)
	ex.rw.Header()[headerRetryAfterName] = rt.headers.get(buf)
	ex.reason = "pre-authentication limit"
	ex.problem(problemRateLimited, decisionDenyRate)
}
