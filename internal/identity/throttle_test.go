package identity

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

var (
	addrA = netip.MustParseAddr("192.0.2.1")
	addrB = netip.MustParseAddr("198.51.100.7")
)

func locked(th *Throttle, username string, addr netip.Addr, now time.Time) (bool, time.Time) {
	d := th.Check(username, addr, now)
	return !d.Allowed, d.RetryAt
}

func TestThrottle(t *testing.T) {
	var th Throttle
	now := time.Unix(1000, 0)
	for i := range 4 {
		th.Fail("Alice", addrA, now)
		if l, _ := locked(&th, "alice", addrA, now); l {
			t.Fatalf("locked after %d failures, want only after 5", i+1)
		}
	}
	th.Fail("alice", addrA, now)
	l, until := locked(&th, "ALICE", addrB, now)
	if !l || until != now.Add(30*time.Second) {
		t.Fatalf("after 5 failures locked=%v until=%v, want 30s lock", l, until)
	}
	if d := th.Check("alice", addrB, now); d.Reason != ReasonAccount {
		t.Errorf("reason = %q, want %q", d.Reason, ReasonAccount)
	}
	if l, _ := locked(&th, "bob", addrA, now); l {
		t.Error("another user is locked")
	}
	now = now.Add(31 * time.Second)
	if l, _ := locked(&th, "alice", addrA, now); l {
		t.Error("still locked after the lock period")
	}
	th.Fail("alice", addrA, now)
	if _, until := locked(&th, "alice", addrA, now); until != now.Add(60*time.Second) {
		t.Errorf("second lock until %v, want doubled to 60s", until)
	}
	for range 30 {
		th.Fail("alice", addrB, now)
	}
	if _, until := locked(&th, "alice", netip.Addr{}, now); until != now.Add(15*time.Minute) {
		t.Errorf("lock until %v, want capped at 15m", until)
	}
	th.Succeed("alice")
	if l, _ := locked(&th, "alice", netip.Addr{}, now); l {
		t.Error("success did not clear the lock")
	}
}

// TestThrottleJunkNamesDoNotUnlock is the regression test for the flood
// that used to clear every entry: junk failures under fresh names must not
// unlock a locked account, however many there are.
func TestThrottleJunkNamesDoNotUnlock(t *testing.T) {
	const maxEntries = 100
	th := NewThrottle(ThrottleConfig{MaxEntries: maxEntries, MaxAddrFailures: -1})
	now := time.Unix(1000, 0)
	for range 5 {
		th.Fail("alice", addrA, now)
	}
	for i := range maxEntries + 5 {
		th.Fail(fmt.Sprint("junk-", i), addrB, now)
	}
	if l, _ := locked(th, "alice", addrA, now); !l {
		t.Fatal("alice was unlocked by junk failures under other names")
	}
	if n := len(th.accounts.m); n > maxEntries {
		t.Errorf("throttle tracks %d names, want at most %d", n, maxEntries)
	}
	// The table is full of recent failures: an untracked name is refused,
	// not let through uncounted.
	d := th.Check("carol", addrA, now)
	if d.Allowed || d.Reason != ReasonCapacity {
		t.Errorf("untracked name on a full throttle: %+v, want refused for capacity", d)
	}
	// Once the junk stops mattering (2×MaxLock after its last failure),
	// it makes room; alice's lock is over by then too.
	later := now.Add(30*time.Minute + time.Second)
	if d := th.Check("carol", addrA, later); !d.Allowed {
		t.Errorf("after the junk went stale: %+v, want allowed", d)
	}
	th.Fail("carol", addrA, later)
	if th.accounts.get("carol") == nil {
		t.Error("carol's failure was not tracked once room was made")
	}
}

// TestThrottleEvictsOnlyStaleEntries: making room drops entries that no
// longer matter and keeps every lock and every recent count.
func TestThrottleEvictsOnlyStaleEntries(t *testing.T) {
	th := NewThrottle(ThrottleConfig{MaxEntries: 3, MaxAddrFailures: -1})
	t0 := time.Unix(1000, 0)
	th.Fail("old", addrA, t0) // stale after 30m
	t1 := t0.Add(20 * time.Minute)
	for range 10 {
		th.Fail("locked", addrA, t1) // locked for MaxLock, until t0+35m
	}
	th.Fail("recent", addrA, t1)
	t2 := t0.Add(31 * time.Minute)
	th.Fail("new", addrA, t2)
	for _, tc := range []struct {
		key     string
		present bool
	}{{"old", false}, {"locked", true}, {"recent", true}, {"new", true}} {
		if got := th.accounts.get(tc.key) != nil; got != tc.present {
			t.Errorf("entry %q present = %v, want %v", tc.key, got, tc.present)
		}
	}
	if l, _ := locked(th, "locked", addrA, t2); !l {
		t.Error("the lock was forgotten to make room")
	}
}

// TestThrottleAddressLimit: password spraying (one failure on each of many
// accounts) is stopped per client address, IPv4 by address and IPv6 by
// /64, and other addresses are not affected.
func TestThrottleAddressLimit(t *testing.T) {
	tests := []struct {
		name                string
		attacker, same, bys netip.Addr
	}{
		{"ipv4", netip.MustParseAddr("203.0.113.5"), netip.MustParseAddr("203.0.113.5"), netip.MustParseAddr("203.0.113.6")},
		{"ipv4-mapped", netip.MustParseAddr("::ffff:203.0.113.5"), netip.MustParseAddr("203.0.113.5"), netip.MustParseAddr("203.0.113.6")},
		{"ipv6 /64", netip.MustParseAddr("2001:db8:1:2::1"), netip.MustParseAddr("2001:db8:1:2:ffff::9"), netip.MustParseAddr("2001:db8:1:3::1")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			th := NewThrottle(ThrottleConfig{MaxAddrFailures: 10, AddrWindow: time.Minute, AddrLock: 5 * time.Minute})
			now := time.Unix(1000, 0)
			for i := range 10 {
				user := fmt.Sprint("user-", i)
				if d := th.Check(user, tc.attacker, now); !d.Allowed {
					t.Fatalf("attempt %d refused early: %+v", i+1, d)
				}
				th.Fail(user, tc.attacker, now)
			}
			d := th.Check("someone-new", tc.same, now)
			if d.Allowed || d.Reason != ReasonAddress || d.RetryAt != now.Add(5*time.Minute) {
				t.Errorf("after 10 failures from the address: %+v, want refused for address until +5m", d)
			}
			if d := th.Check("someone-new", tc.bys, now); !d.Allowed {
				t.Errorf("another address was refused: %+v", d)
			}
			// A success on an account the attacker owns does not reset
			// the address.
			th.Succeed("user-0")
			if d := th.Check("user-0", tc.same, now); d.Allowed {
				t.Error("a success cleared the address lock")
			}
			if d := th.Check("someone-new", tc.same, now.Add(5*time.Minute)); !d.Allowed {
				t.Errorf("after the address lock: %+v, want allowed", d)
			}
		})
	}
}

// TestThrottleAddressWindow: failures spread wider than the window never
// lock the address (a busy NAT with occasional typos).
func TestThrottleAddressWindow(t *testing.T) {
	th := NewThrottle(ThrottleConfig{MaxAddrFailures: 3, AddrWindow: time.Minute})
	now := time.Unix(1000, 0)
	for i := range 10 {
		th.Fail(fmt.Sprint("user-", i), addrA, now)
		now = now.Add(31 * time.Second)
		if d := th.Check("x", addrA, now); !d.Allowed {
			t.Fatalf("failure %d: refused %+v, want at most 2 failures per window", i+1, d)
		}
	}
}

func TestThrottleConfigDefaults(t *testing.T) {
	got := ThrottleConfig{}.withDefaults()
	want := ThrottleConfig{
		MaxFailures: 5, BaseLock: 30 * time.Second, MaxLock: 15 * time.Minute,
		MaxAddrFailures: 50, AddrWindow: 15 * time.Minute, AddrLock: 15 * time.Minute,
		MaxEntries: 100000,
	}
	if got != want {
		t.Errorf("defaults = %+v, want %+v", got, want)
	}
	if off := (ThrottleConfig{MaxAddrFailures: -1}).withDefaults(); off.MaxAddrFailures != -1 {
		t.Errorf("MaxAddrFailures -1 became %d, want it kept (limit off)", off.MaxAddrFailures)
	}
}

// TestThrottleUnknownAddress: a request without a usable address is left
// to the account limit instead of sharing one address bucket.
func TestThrottleUnknownAddress(t *testing.T) {
	th := NewThrottle(ThrottleConfig{MaxAddrFailures: 1})
	now := time.Unix(1000, 0)
	th.Fail("a", netip.Addr{}, now)
	if d := th.Check("b", netip.Addr{}, now); !d.Allowed {
		t.Errorf("unknown address refused: %+v", d)
	}
	if n := len(th.addrs.m); n != 0 {
		t.Errorf("%d address entries for an unknown address, want 0", n)
	}
}
