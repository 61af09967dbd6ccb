package identity

import (
	"container/list"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// ThrottleConfig sets the login throttle's limits. Every zero value means
// the documented default.
type ThrottleConfig struct {
	// MaxFailures is how many failures in a row lock an account; zero
	// means 5.
	MaxFailures int
	// BaseLock is the first account lock; each further failure doubles
	// it. Zero means 30s.
	BaseLock time.Duration
	// MaxLock caps the account lock; zero means 15m. Failures are
	// forgotten after 2×MaxLock without one.
	MaxLock time.Duration

	// MaxAddrFailures is how many failures from one client address (an
	// IPv4 address, or an IPv6 /64, which one subscriber usually holds
	// whole) within AddrWindow lock that address out of every account:
	// password spraying tries few passwords on many accounts and never
	// trips a per-account lock. Zero means 50; a negative value turns
	// the limit off (for a server behind a proxy whose address every
	// login would share).
	MaxAddrFailures int
	// AddrWindow is the window MaxAddrFailures counts in; zero means 15m.
	AddrWindow time.Duration
	// AddrLock is how long an address stays locked; zero means 15m.
	AddrLock time.Duration

	// MaxEntries bounds the accounts, and separately the addresses, the
	// throttle tracks; zero means 100,000. See Throttle for what happens
	// when it is reached.
	MaxEntries int
}

// withDefaults fills the zero fields.
func (c ThrottleConfig) withDefaults() ThrottleConfig {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.MaxFailures <= 0 {
		c.MaxFailures = 5
	}
	def(&c.BaseLock, 30*time.Second)
	def(&c.MaxLock, 15*time.Minute)
	if c.MaxAddrFailures == 0 {
		c.MaxAddrFailures = 50
	}
	def(&c.AddrWindow, 15*time.Minute)
	def(&c.AddrLock, 15*time.Minute)
	if c.MaxEntries <= 0 {
		c.MaxEntries = 100000
	}
	return c
}

// Reasons a Decision refuses a login. They are fixed strings, safe to log.
const (
	// ReasonAccount means the account is locked after failures in a row.
	ReasonAccount = "account"
	// ReasonAddress means the client address failed too often (spraying).
	ReasonAddress = "address"
	// ReasonCapacity means the throttle is full of recent failures and
	// cannot track one more name or address, so it refuses rather than
	// let guesses go uncounted.
	ReasonCapacity = "capacity"
)

// Decision is the throttle's answer for one login attempt.
type Decision struct {
	// Allowed is false when the attempt must be refused before any
	// password is checked.
	Allowed bool
	// RetryAt is when a refused attempt may be made again.
	RetryAt time.Time
	// Reason is one of the Reason constants when refused, else "".
	Reason string
}

// Throttle slows password guessing. Per account: after MaxFailures
// consecutive failures an account is locked for a period that doubles on
// each further failure, up to MaxLock; a success clears the count. Per
// client address: MaxAddrFailures failures within AddrWindow lock the
// address for AddrLock, whatever the accounts. Locks are short by design,
// so an attacker cannot lock a user out for long by failing on purpose
// (docs/security.md weighs this). State is per node and in memory.
//
// Memory is bounded by MaxEntries per table, and lock state is never
// dropped to make room: only entries that no longer matter (no lock, and
// no failure recent enough to count) are evicted. If a table is full of
// entries that still matter, a name or address it does not yet track is
// refused (ReasonCapacity) instead of being let through uncounted: failing
// closed for newcomers rather than forgetting what the throttle knows.
//
// The zero Throttle uses the defaults of ThrottleConfig.
type Throttle struct {
	cfg  ThrottleConfig
	once sync.Once

	mu       sync.Mutex
	accounts failureTable
	addrs    failureTable
}

// NewThrottle returns a throttle with cfg's limits.
func NewThrottle(cfg ThrottleConfig) *Throttle {
	t := &Throttle{cfg: cfg}
	t.init()
	return t
}

func (t *Throttle) init() {
	t.once.Do(func() {
		t.cfg = t.cfg.withDefaults()
		// An account entry stops mattering 2×MaxLock after its last
		// failure: its count is reset then, and its lock (at most
		// MaxLock from that failure) is over.
		t.accounts = newFailureTable(t.cfg.MaxEntries, 2*t.cfg.MaxLock)
		t.addrs = newFailureTable(t.cfg.MaxEntries, max(t.cfg.AddrWindow, t.cfg.AddrLock))
	})
}

func throttleKey(username string) string { return strings.ToLower(username) }

// addrKey is the unit the address limit counts: the address itself for
// IPv4, its /64 for IPv6 (RFC 6177 and common practice hand a subscriber
// at least a /64, so one attacker holds 2^64 addresses of it). It is ""
// when addr is not valid: such requests are left to the account limit.
func addrKey(addr netip.Addr) string {
	if !addr.IsValid() {
		return ""
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is6() {
		return netip.PrefixFrom(addr, 64).Masked().String()
	}
	return addr.String()
}

// Check reports whether a login for username from addr may be tried at
// now. addr may be the zero Addr when the client address is unknown.
func (t *Throttle) Check(username string, addr netip.Addr, now time.Time) Decision {
	t.init()
	t.mu.Lock()
	defer t.mu.Unlock()
	if d := t.check(&t.accounts, throttleKey(username), ReasonAccount, now); !d.Allowed {
		return d
	}
	if k := addrKey(addr); k != "" && t.cfg.MaxAddrFailures > 0 {
		return t.check(&t.addrs, k, ReasonAddress, now)
	}
	return Decision{Allowed: true}
}

func (t *Throttle) check(tab *failureTable, key, reason string, now time.Time) Decision {
	if e := tab.get(key); e != nil {
		if now.Before(e.until) {
			return Decision{RetryAt: e.until, Reason: reason}
		}
		return Decision{Allowed: true}
	}
	if tab.full(now) {
		return Decision{RetryAt: tab.freeAt(), Reason: ReasonCapacity}
	}
	return Decision{Allowed: true}
}

// Fail records a failed login for username from addr at now. Call it
// only for attempts whose password was checked: a request refused without
// any work (Check said no, or the password was too long to hash, see
// ErrUnchecked) costs the attacker nothing to repeat and must not make
// the throttle track new names.
func (t *Throttle) Fail(username string, addr netip.Addr, now time.Time) {
	t.init()
	t.mu.Lock()
	defer t.mu.Unlock()
	if e := t.accounts.record(throttleKey(username), now); e != nil {
		// Failures long ago do not count against a user today.
		if now.Sub(e.last) > 2*t.cfg.MaxLock {
			e.failures = 0
		}
		e.failures++
		t.accounts.touch(e, now)
		if e.failures >= t.cfg.MaxFailures {
			lock := t.cfg.BaseLock << min(e.failures-t.cfg.MaxFailures, 20)
			if lock > t.cfg.MaxLock || lock <= 0 {
				lock = t.cfg.MaxLock
			}
			e.until = now.Add(lock)
		}
	}
	k := addrKey(addr)
	if k == "" || t.cfg.MaxAddrFailures <= 0 {
		return
	}
	if e := t.addrs.record(k, now); e != nil {
		if now.Sub(e.start) >= t.cfg.AddrWindow {
			e.failures, e.start = 0, now
		}
		e.failures++
		t.addrs.touch(e, now)
		if e.failures >= t.cfg.MaxAddrFailures {
			e.until = now.Add(t.cfg.AddrLock)
		}
	}
}

// Succeed clears the failures of username. The address count stays: a
// sprayer who also owns one real account must not reset it by logging in.
func (t *Throttle) Succeed(username string) {
	t.init()
	t.mu.Lock()
	t.accounts.remove(throttleKey(username))
	t.mu.Unlock()
}

// failureTable is a bounded map of failure records, kept in the order of
// their last failure so the least recent is found in O(1).
type failureTable struct {
	max int
	// horizon is how long after its last failure an entry stops
	// mattering: no lock left and no count that would still be used.
	horizon time.Duration
	m       map[string]*list.Element
	// lru holds *failureEntry, least recent failure first.
	lru *list.List
}

type failureEntry struct {
	key      string
	failures int
	// start is when the current counting window began (addresses).
	start time.Time
	// last is the time of the last failure; until, the end of the lock.
	last, until time.Time
}

func newFailureTable(max int, horizon time.Duration) failureTable {
	return failureTable{max: max, horizon: horizon, m: map[string]*list.Element{}, lru: list.New()}
}

func (tab *failureTable) get(key string) *failureEntry {
	if el, ok := tab.m[key]; ok {
		return el.Value.(*failureEntry)
	}
	return nil
}

// stale reports whether e no longer matters at now. The horizon is at
// least the longest lock, so a stale entry is never locked; until is
// checked too, so that stays true whatever the configuration.
func (tab *failureTable) stale(e *failureEntry, now time.Time) bool {
	return now.Sub(e.last) > tab.horizon && !now.Before(e.until)
}

// full evicts the stale entries at the front and reports whether the
// table is still at its bound.
func (tab *failureTable) full(now time.Time) bool {
	for len(tab.m) >= tab.max {
		front := tab.lru.Front()
		e := front.Value.(*failureEntry)
		if !tab.stale(e, now) {
			return true
		}
		tab.lru.Remove(front)
		delete(tab.m, e.key)
	}
	return false
}

// freeAt is when the least recent entry stops mattering, making room.
func (tab *failureTable) freeAt() time.Time {
	e := tab.lru.Front().Value.(*failureEntry)
	return e.last.Add(tab.horizon)
}

// record returns key's entry, adding one when there is room; nil when the
// table is full of entries that still matter.
func (tab *failureTable) record(key string, now time.Time) *failureEntry {
	if e := tab.get(key); e != nil {
		return e
	}
	if tab.full(now) {
		return nil
	}
	e := &failureEntry{key: key, start: now, last: now}
	tab.m[key] = tab.lru.PushBack(e)
	return e
}

// touch sets e's last failure to now and moves it to the back. Callers
// pass a non-decreasing now; an earlier one only makes e evicted sooner,
// never a lock forgotten (stale checks until).
func (tab *failureTable) touch(e *failureEntry, now time.Time) {
	e.last = now
	tab.lru.MoveToBack(tab.m[e.key])
}

func (tab *failureTable) remove(key string) {
	if el, ok := tab.m[key]; ok {
		tab.lru.Remove(el)
		delete(tab.m, key)
	}
}
