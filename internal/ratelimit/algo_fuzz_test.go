package ratelimit

import (
	"testing"
)

// FuzzGCRA drives GCRA with random intervals, bursts and arrival times
// and checks what the formulas in algo.go promise:
//   - over any span of admitted requests, at most B + floor(span/T) are
//     admitted (no window edges, no double bursts);
//   - Remaining is exactly how many more are admitted at once;
//   - RetryAfter is exactly the wait after which one is admitted;
//   - Reset is exactly when the key is full again;
//   - PeekGCRA agrees with GCRA and changes nothing.
func FuzzGCRA(f *testing.F) {
	f.Add(uint32(100), uint8(3), []byte{0, 5, 8, 1, 3, 7, 255, 0, 1, 1, 1, 1})
	f.Add(uint32(1), uint8(0), []byte{0, 7, 0, 7, 1, 7})
	f.Add(uint32(333333334), uint8(2), []byte{10, 2, 4, 7, 16, 3, 0, 0})
	f.Fuzz(func(t *testing.T, interval uint32, burst uint8, steps []byte) {
		tt := int64(interval%1_000_000_000) + 1
		b := int64(burst%64) + 1
		if len(steps) > 128 {
			steps = steps[:128]
		}
		now := int64(1_700_000_000) * 1_000_000_000
		tat := int64(0) // no state
		var admitted []int64
		for i := 0; i+1 < len(steps); i += 2 {
			now += int64(steps[i]) * tt / 8 // sub-interval steps, up to 32T
			for range steps[i+1]%8 + 1 {
				peek := PeekGCRA(tat, now, tt, b)
				next, st := GCRA(tat, now, tt, b)
				if st.Denied != peek.Denied {
					t.Fatalf("at %d: GCRA denied %v, peek said %v", now, st.Denied, peek.Denied)
				}
				if st.Denied {
					if next != tat && next != max(tat, now) {
						t.Fatalf("denied request moved TAT from %d to %d", tat, next)
					}
					checkRetryAfter(t, tat, now, tt, b, int64(st.RetryAfter))
					continue
				}
				tat = next
				admitted = append(admitted, now)
				after := PeekGCRA(tat, now, tt, b)
				if after.Remaining != st.Remaining || after.Reset != st.Reset {
					t.Fatalf("at %d: GCRA said %+v, peek after says %+v", now, st, after)
				}
				checkRemaining(t, tat, now, tt, b, st.Remaining)
				checkReset(t, tat, now, tt, b, int64(st.Reset))
			}
		}
		// Any run of admitted requests a[i..j] fits B + span/T.
		for j := range admitted {
			for i := 0; i <= j; i++ {
				n := int64(j - i + 1)
				if limit := b + (admitted[j]-admitted[i])/tt; n > limit {
					t.Fatalf("admitted %d in [%d, %d], limit B + span/T = %d (T %d, B %d)", n, admitted[i], admitted[j], limit, tt, b)
				}
			}
		}
	})
}

// checkRemaining: exactly remaining more requests are admitted at now.
func checkRemaining(t *testing.T, tat, now, tt, b, remaining int64) {
	t.Helper()
	for k := range remaining + 1 {
		next, st := GCRA(tat, now, tt, b)
		if st.Denied != (k == remaining) {
			t.Fatalf("Remaining %d, but request %d at once was denied=%v", remaining, k+1, st.Denied)
		}
		tat = next
	}
}

// checkRetryAfter: denied until now+retryAfter, admitted from then.
func checkRetryAfter(t *testing.T, tat, now, tt, b, retryAfter int64) {
	t.Helper()
	if retryAfter <= 0 {
		t.Fatalf("denied with RetryAfter %d", retryAfter)
	}
	if _, st := GCRA(tat, now+retryAfter-1, tt, b); !st.Denied {
		t.Fatalf("RetryAfter %d, but admitted 1ns earlier", retryAfter)
	}
	if _, st := GCRA(tat, now+retryAfter, tt, b); st.Denied {
		t.Fatalf("RetryAfter %d, but denied then", retryAfter)
	}
}

// checkReset: full (Remaining = B) at now+reset, not 1ns earlier.
func checkReset(t *testing.T, tat, now, tt, b, reset int64) {
	t.Helper()
	if got := PeekGCRA(tat, now+reset, tt, b).Remaining; got != b {
		t.Fatalf("Reset %d, but Remaining then is %d of %d", reset, got, b)
	}
	if reset > 0 {
		if got := PeekGCRA(tat, now+reset-1, tt, b); got.Remaining == b && got.Reset == 0 {
			t.Fatalf("Reset %d, but already full 1ns earlier", reset)
		}
	}
}
