package config

import (
	"errors"
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

// TestRateLimitReachesGateway checks that the gateway section carries the
// ratelimit section after Parse, and after Validate of a config edited in
// code.
func TestRateLimitReachesGateway(t *testing.T) {
	c, err := Load("testdata/valid/ratelimit.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c.RateLimit, c.Gateway.RateLimit); diff != "" {
		t.Errorf("Gateway.RateLimit differs from RateLimit (-top +gateway):\n%s", diff)
	}
	c.RateLimit.DefaultPlan = "gold"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := c.Gateway.RateLimit.DefaultPlan; got != "gold" {
		t.Errorf("after Validate, Gateway.RateLimit.DefaultPlan = %q, want gold", got)
	}
	// The gateway section validates its copy on its own too.
	g := c.Gateway
	g.RateLimit.ClientPlans = map[string]string{"x": "nope"}
	err = g.Validate()
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "ratelimit.client_plans.x" {
		t.Errorf("Gateway.Validate() = %v, want an error at ratelimit.client_plans.x", err)
	}
}

func TestRateLimitHelpers(t *testing.T) {
	c, err := Load("testdata/valid/ratelimit.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r := &c.RateLimit
	for client, want := range map[string]string{"warehouse-service": "gold", "reporting": "silver", "someone": "free"} {
		if got := r.PlanFor(client); got != want {
			t.Errorf("PlanFor(%q) = %q, want %q", client, got, want)
		}
	}
	if got := r.Location(&c.Gateway).String(); got != "America/New_York" {
		t.Errorf("Location() = %s, want America/New_York", got)
	}
	r.TimeZone = ""
	if got := r.Location(&c.Gateway).String(); got != "Europe/Berlin" {
		t.Errorf("Location() without time_zone = %s, want the gateway's Europe/Berlin", got)
	}
	if got := r.Location(nil); got != time.UTC {
		t.Errorf("Location(nil) without time_zone = %s, want UTC", got)
	}
	r.TimeZone = "Nowhere/Land"
	if got := r.Location(nil); got != time.UTC {
		t.Errorf("Location() of a bad zone = %s, want UTC", got)
	}
	if !r.Enabled(&c.Gateway) {
		t.Error("Enabled() = false with plans, limits and abuse rules")
	}
	if (&RateLimit{Plans: map[string][]Limit{"free": nil}}).Enabled(&Gateway{}) {
		t.Error("Enabled() = true with only an empty plan")
	}
	withOpLimit := &Gateway{APIs: []API{{Operations: []Operation{{Limits: []Limit{{Name: "x"}}}}}}}
	if !(&RateLimit{}).Enabled(withOpLimit) {
		t.Error("Enabled() = false with an operation limit")
	}
}

func TestLimitDefaults(t *testing.T) {
	c, err := Parse("t.yaml", []byte(`
ratelimit:
  plans:
    p:
      - {name: a, rate: 1/s}
      - {name: b, rate: 1/s, strict: true}
      - {name: c, rate: 1/s, strict: true, on_backend_error: local}
`))
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		Key     []string
		OnError string
	}
	var gots []got
	for _, l := range c.RateLimit.Plans["p"] {
		gots = append(gots, got{l.Key, l.OnBackendError})
	}
	want := []got{{[]string{"client_id"}, "local"}, {[]string{"client_id"}, "deny"}, {[]string{"client_id"}, "local"}}
	if diff := cmp.Diff(want, gots); diff != "" {
		t.Errorf("plan limit defaults mismatch (-want +got):\n%s", diff)
	}
}
