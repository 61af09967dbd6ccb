package catalog

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseQuota(t *testing.T) {
	tests := []struct {
		in      string
		n       int64
		w       QuotaWindow
		wantErr string
	}{
		{"2000/day", 2000, WindowDay, ""},
		{"10/hour", 10, WindowHour, ""},
		{" 5 / minute ", 5, WindowMinute, ""},
		{"1/month", 1, WindowMonth, ""},
		{"1000000000/day", MaxLimitCount, WindowDay, ""},
		{"1000000001/day", 0, "", "at most"},
		{"0/day", 0, "", "at least 1"},
		{"-1/day", 0, "", "at least 1"},
		{"+1/day", 0, "", "is not"},
		{"10/week", 0, "", "minute, hour, day or month"},
		{"10/s", 0, "", "minute, hour, day or month"},
		{"10", 0, "", "is not"},
		{"/day", 0, "", "is not"},
		{"ten/day", 0, "", "is not"},
		{"", 0, "", "is not"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			n, w, err := ParseQuota(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseQuota(%q) error = %v, want one containing %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil || n != tc.n || w != tc.w {
				t.Errorf("ParseQuota(%q) = %d, %q, %v; want %d, %q", tc.in, n, w, err, tc.n, tc.w)
			}
		})
	}
}

func TestParseRate(t *testing.T) {
	tests := []struct {
		in      string
		n       int64
		per     time.Duration
		wantErr string
	}{
		{"100/s", 100, time.Second, ""},
		{"30/m", 30, time.Minute, ""},
		{"1/h", 1, time.Hour, ""},
		{"100/sec", 0, 0, "s, m or h"},
		{"100/day", 0, 0, "s, m or h"},
		{"0/s", 0, 0, "at least 1"},
		{"1e3/s", 0, 0, "is not"},
		{"99999999999999999999/s", 0, 0, "is not"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			n, per, err := ParseRate(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseRate(%q) error = %v, want one containing %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil || n != tc.n || per != tc.per {
				t.Errorf("ParseRate(%q) = %d, %s, %v; want %d, %s", tc.in, n, per, err, tc.n, tc.per)
			}
		})
	}
}

func TestQuotaWindowPeriod(t *testing.T) {
	for w, want := range map[QuotaWindow]time.Duration{
		WindowMinute: time.Minute, WindowHour: time.Hour, WindowDay: 24 * time.Hour, WindowMonth: 720 * time.Hour, "week": 0,
	} {
		if got := w.Period(); got != want {
			t.Errorf("%q.Period() = %s, want %s", w, got, want)
		}
	}
}

func TestParseKeyPart(t *testing.T) {
	tests := []struct {
		in   string
		want KeyPart
		ok   bool
	}{
		{"client_id", KeyPart{Kind: KeyClientID}, true},
		{"sub", KeyPart{Kind: KeySub}, true},
		{"api", KeyPart{Kind: KeyAPI}, true},
		{"operation", KeyPart{Kind: KeyOperation}, true},
		{"ip", KeyPart{Kind: KeyIP, IPv4Bits: 32, IPv6Bits: 128}, true},
		{"ip/24", KeyPart{Kind: KeyIP, IPv4Bits: 24, IPv6Bits: 64}, true},
		{"ip/32", KeyPart{Kind: KeyIP, IPv4Bits: 32, IPv6Bits: 64}, true},
		{"ip/64", KeyPart{Kind: KeyIP, IPv4Bits: 32, IPv6Bits: 64}, true},
		{"ip/48", KeyPart{Kind: KeyIP, IPv4Bits: 32, IPv6Bits: 48}, true},
		{"ip/16/48", KeyPart{Kind: KeyIP, IPv4Bits: 16, IPv6Bits: 48}, true},
		{"claim:office", KeyPart{Kind: KeyClaim, Name: "office"}, true},
		{"header:X-Tenant", KeyPart{Kind: KeyHeader, Name: "X-Tenant"}, true},
		{"ip/0", KeyPart{}, false},
		{"ip/129", KeyPart{}, false},
		{"ip/024", KeyPart{}, false},
		{"ip/24/", KeyPart{}, false},
		{"ip/33/64", KeyPart{}, false},
		{"ip/24/64/1", KeyPart{}, false},
		{"claim:", KeyPart{}, false},
		{"claim:a b", KeyPart{}, false},
		{"header:", KeyPart{}, false},
		{"header:a:b", KeyPart{}, false},
		{"Sub", KeyPart{}, false},
		{"", KeyPart{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseKeyPart(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("ParseKeyPart(%q) error = %v, want ok %v", tc.in, err, tc.ok)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseKeyPart(%q) mismatch (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}
