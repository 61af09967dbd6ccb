package config

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

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
	// The file's plans, zones and limits reach the gateway's snapshot.
	s := c.Gateway.Snapshot()
	for client, want := range map[string]string{"warehouse-service": "gold", "reporting": "silver", "someone": "free"} {
		if got := s.RateLimit.PlanFor(client); got != want {
			t.Errorf("PlanFor(%q) = %q, want %q", client, got, want)
		}
	}
	if got := s.QuotaLocation().String(); got != "America/New_York" {
		t.Errorf("QuotaLocation() = %s, want America/New_York", got)
	}
	s.RateLimit.TimeZone = ""
	if got := s.QuotaLocation().String(); got != "Europe/Berlin" {
		t.Errorf("QuotaLocation() without time_zone = %s, want the gateway's Europe/Berlin", got)
	}
	if !s.LimitsEnabled() {
		t.Error("LimitsEnabled() = false with plans, limits and abuse rules")
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
