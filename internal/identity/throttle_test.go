package identity

import (
	"testing"
	"time"
)

func TestThrottle(t *testing.T) {
	var th Throttle
	now := time.Unix(1000, 0)
	for i := range 4 {
		th.Fail("Alice", now)
		if locked, _ := th.Locked("alice", now); locked {
			t.Fatalf("locked after %d failures, want only after 5", i+1)
		}
	}
	th.Fail("alice", now)
	locked, until := th.Locked("ALICE", now)
	if !locked || until != now.Add(30*time.Second) {
		t.Fatalf("after 5 failures locked=%v until=%v, want 30s lock", locked, until)
	}
	if locked, _ := th.Locked("bob", now); locked {
		t.Error("another user is locked")
	}
	now = now.Add(31 * time.Second)
	if locked, _ := th.Locked("alice", now); locked {
		t.Error("still locked after the lock period")
	}
	th.Fail("alice", now)
	if _, until := th.Locked("alice", now); until != now.Add(60*time.Second) {
		t.Errorf("second lock until %v, want doubled to 60s", until)
	}
	for range 30 {
		th.Fail("alice", now)
	}
	if _, until := th.Locked("alice", now); until != now.Add(15*time.Minute) {
		t.Errorf("lock until %v, want capped at 15m", until)
	}
	th.Succeed("alice")
	if locked, _ := th.Locked("alice", now); locked {
		t.Error("success did not clear the lock")
	}
}
